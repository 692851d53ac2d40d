"""Sites, pages, components, revisions and publishing, written against core's stores.

Every write happens in one transaction with the events it emits. A page's ``properties``
hold the draft; every save adds one to ``revision`` and keeps a ``page_revision`` thing
with the page as that save left it. Publishing renders a revision to HTML once and stores
it in ``website_live_pages``; the live page changes only when the page is published
again.

Four services share one :class:`~plugins.website.services.base.WebsiteContext`:
:class:`Sites` (``sites``), :class:`Pages` (``pages``: pages, components, saving),
:class:`Revisions` (``revisions``) and :class:`Publishing` (``publishing``);
:class:`Websites` builds and wires them once per running platform. Handlers receive them
by Litestar dependency injection, under the names in :data:`DEPENDENCIES`.
"""

from __future__ import annotations

from litestar.di import Provide

import sdk
from plugins.website.services.base import (
    MediaLookup,
    PublishBlocked,
    RevisionFields,
    WebsiteContext,
)
from plugins.website.services.domains import Domains
from plugins.website.services.pages import Pages
from plugins.website.services.publishing import Publishing
from plugins.website.services.revisions import Revisions
from plugins.website.services.sites import Sites

__all__ = [
    "DEPENDENCIES",
    "GROUP_DEPENDENCIES",
    "Domains",
    "MediaLookup",
    "Pages",
    "PublishBlocked",
    "Publishing",
    "RevisionFields",
    "Revisions",
    "Sites",
    "WebsiteContext",
    "Websites",
]


class Websites:
    """The website plugin's services, built in its ``startup`` hook (``app.state.website``)
    and wired to each other: saving sites renders live pages again (``publishing``), and
    restoring a revision saves the page (``pages``)."""

    def __init__(self, context: WebsiteContext) -> None:
        self.context = context
        self.publishing = Publishing(context)
        self.pages = Pages(context, self.publishing)
        self.sites = Sites(context, self.publishing)
        self.revisions = Revisions(context, self.pages)
        self.domains = Domains(context)


_SERVICES = ("sites", "pages", "revisions", "publishing", "domains")

#: Each service under the parameter name a handler gives it; ``website`` is the shared
#: context (themes, components, views, live pages and their cache), ``websites`` all of
#: them (for a page that shows several: one dependency, not a per-request task group).
DEPENDENCIES: dict[str, Provide] = {
    "websites": sdk.from_app_state("website"),
    "website": sdk.from_app_state("website.context"),
    **{name: sdk.from_app_state(f"website.{name}") for name in _SERVICES},
}
#: The same for group-scoped routes: resolved after ``group``, so a handler taking both
#: does not pay for Litestar's per-request task group.
GROUP_DEPENDENCIES: dict[str, Provide] = {
    "website": sdk.from_app_state("website.context", after_group=True),
    **{name: sdk.from_app_state(f"website.{name}", after_group=True) for name in _SERVICES},
}

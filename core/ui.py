"""The UI plugins contribute (static directories; templates are plain directory paths) and
what their server-rendered pages share.

A plugin's pages (the website builder at ``/builder``, the clone management at
``/clones``, a third party's) work alike: they need a browser session and send the
person to log in and back without one; they start from the person's workspaces (groups);
another group's page is a 404 page that names nothing; every page carries the platform's
strict Content-Security-Policy; and they sit in the creator app's shell (navigation,
workspace switcher, account menu: :mod:`core.shell`). :class:`PluginPages` is that
behaviour, once, with core's templates ``core/app.html`` (the shell, the layout a
plugin's layout extends: breadcrumbs, and ``/static/core/ui.js`` before the plugin's
script), ``core/workspaces.html`` and ``core/error.html``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote
from uuid import UUID

from litestar import Request, Response
from litestar.response import Redirect, Template

from core.account_ui import UI_CSP, ui_headers
from core.api.deps import GroupContext, provide_actor, provide_group
from core.errors import PlatformError, Unauthorized
from core.ontology.records import Group
from core.shell import enter_group, shell_view

Crumbs = list[dict[str, str | None]]


@dataclass(frozen=True)
class StaticFiles:
    """Serve the files of ``directory`` under the URL ``path`` (e.g. ``/static/website``)."""

    path: str
    directory: str | Path


def login_redirect(request: Request[Any, Any, Any]) -> Redirect:
    """To the log-in page, which sends the person back to this page (query included)."""
    path = request.url.path
    if request.url.query:
        path += "?" + request.url.query
    return Redirect(
        path=f"/account/login?next={quote(path, safe='/')}",
        status_code=302,
        headers={"Cache-Control": "no-store"},
    )


def crumbs(*items: tuple[str, str | None]) -> Crumbs:
    """Breadcrumbs for ``core/app.html``: (label, link) pairs; the current page links nowhere."""
    return [{"label": label, "href": href} for label, href in items]


@dataclass(frozen=True)
class PluginPages:
    """One plugin's server-rendered pages: how they render, fail and start.

    ``templates`` is the plugin's template folder (``"website"``), ``layout`` the template
    its pages extend (which extends ``core/app.html``), ``home`` the path of its
    workspaces page (``"/builder"``; a workspace's page is ``{home}/{group id}``),
    ``holds`` what a workspace holds in words (``"websites"``), ``csp`` the pages'
    Content-Security-Policy and ``context`` what every page's template is given besides.
    Route handlers take ``**pages.route_options``: not in the API schema, and errors shown
    as pages (:meth:`error_page`)."""

    templates: str
    layout: str
    home: str
    holds: str
    csp: str = UI_CSP
    context: Mapping[str, Any] = field(default_factory=dict)

    def render(self, template: str, status: int = 200, **context: Any) -> Template:
        """``template`` from the plugin's folder (a name with a folder: as named), with the
        layout, ``home`` and the shared context."""
        return Template(
            template_name=template if "/" in template else f"{self.templates}/{template}",
            context={**self.context, "layout": self.layout, "home": self.home, **context},
            status_code=status,
            headers=ui_headers(self.csp),
        )

    def crumbs(self, *items: tuple[str, str | None]) -> Crumbs:
        """Breadcrumbs that start from the workspaces (listed even when there is one)."""
        return crumbs(("Workspaces", f"{self.home}?all=1"), *items)

    def error_page(self, request: Request[Any, Any, Any], exc: PlatformError) -> Response[Any]:
        """Errors of these pages as pages: no (valid) session → the log-in page; a group or
        thing that is not theirs → a 404 page that names nothing; other refusals likewise."""
        if isinstance(exc, Unauthorized):
            return login_redirect(request)
        titles = {404: "Not found", 403: "Not allowed"}
        return self.render(
            "core/error.html",
            status=exc.status,
            title=titles.get(exc.status, exc.title),
            detail=exc.detail if exc.status != 404 else "",
            status_code=exc.status,
            view="error",
            crumbs=[],
        )

    @property
    def route_options(self) -> dict[str, Any]:
        """Keyword arguments of the pages' route handlers."""
        return {"include_in_schema": False, "exception_handlers": {PlatformError: self.error_page}}

    async def workspaces(self, request: Request[Any, Any, Any]) -> Template | Redirect:
        """The person's workspaces and a form to create one; with exactly one, straight to
        it (``?all=1`` lists it anyway)."""
        actor = await provide_actor(request)
        shell = await shell_view(request, actor)
        if len(shell.groups) == 1 and request.query_params.get("all") != "1":
            return Redirect(path=f"{self.home}/{shell.groups[0].id}", status_code=302)
        return self.render(
            "core/workspaces.html",
            title="Your workspaces",
            view="groups",
            person=actor,
            groups=shell.groups,
            holds=self.holds,
            crumbs=crumbs(("Workspaces", None)),
        )

    async def group(
        self, request: Request[Any, Any, Any], group_id: UUID
    ) -> tuple[GroupContext, Group]:
        """The caller in the group (404 if not a member: :meth:`error_page` shows it) and
        the group; the page's shell (``core.shell``) is worked out on the way, the account
        menu first so that even the 404 page has it."""
        view = await shell_view(request, await provide_actor(request))
        group = await provide_group(request, group_id)
        record: Group = await request.app.state.platform.directory.get_group(group_id)
        enter_group(request, view, group, record)
        return group, record

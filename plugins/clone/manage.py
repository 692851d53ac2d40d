"""The clone management UI: the pages creators manage their clones with.

Server-rendered Jinja pages (``templates/clone/manage_*.html``) that ``static/manage.js``
brings to life against the clone JSON API (no build step), in the way of the website
builder:

* ``/clones``: the person's workspaces (groups) and a form to create one; with exactly
  one workspace, straight to it (``?all=1`` lists it anyway);
* ``/clones/{group_id}``: the workspace's clones (status, last training) and a form to
  create one;
* ``/clones/{group_id}/{clone_id}``: one clone: training with live progress, sources,
  a chat preview (streamed, with its citations and feedback), settings, analytics, the
  embed snippet (with the saved look), deletion;
* ``/clones/{group_id}/{clone_id}/sources/{source_id}``: one source's text, where the
  preview's citations of pasted or uploaded text link to.

Pages need a browser session (an API token works too, as on the API); without one they
redirect to ``/account/login?next=<path>``. Another person's group or clone is a 404, as
on the API. Every page carries the platform's strict Content-Security-Policy (no inline
script or style).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from litestar import Request, get
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Redirect, Template

import sdk
from plugins.clone.api import service_dependencies
from plugins.clone.services import Clones, Sources
from plugins.clone.training import source_text
from plugins.clone.types import ClonePatch, CloneView

PURPOSES = (
    ("general", "General: answers questions about you and your work"),
    ("sales", "Sales: helps visitors choose and buy"),
    ("support", "Support: helps customers with problems"),
    ("teaching", "Teaching: explains your course material"),
)
STATUS_LABELS = {
    "draft": "Not trained yet",
    "training": "Training…",
    "active": "Trained",
    "failed": "Training failed",
}
SOURCE_STATES = {"new": "New", "trained": "Trained", "changed": "Changed"}
SOURCE_KINDS = {
    "text": "Text",
    "markdown": "Markdown",
    "html": "HTML",
    "pdf": "PDF",
    "page": "Website page",
}


def when(iso: str | None) -> str:
    """A stored timestamp as people read it (``6 Dec 2026, 01:23 UTC``)."""
    if not iso:
        return ""
    try:
        moment = datetime.fromisoformat(iso).astimezone(UTC)
    except ValueError:
        return iso
    return f"{moment.day} {moment:%b %Y, %H:%M} UTC"


def _platform(request: Request[Any, Any, Any]) -> sdk.Platform:
    platform: sdk.Platform = request.app.state.platform
    return platform


PAGES = sdk.PluginPages(
    templates="clone",
    layout="clone/manage_layout.html",
    home="/clones",
    holds="AI clones",
    context={
        "status_labels": STATUS_LABELS,
        "source_states": SOURCE_STATES,
        "source_kinds": SOURCE_KINDS,
        "when": when,
    },
)


async def _group_page_context(
    request: Request[Any, Any, Any], group_id: UUID
) -> tuple[sdk.GroupContext, sdk.Group, bool]:
    """The caller in the group (404 if not a member), the group, and whether they may
    manage its clones (viewers see the pages with the forms disabled)."""
    group, record = await PAGES.group(request, group_id)
    can_manage = group.permissions.can(group.scope, "clone.manage", group.resource())
    return group, record, can_manage


def patch_fields() -> frozenset[str]:
    """The clone settings the API lets the page change (``allowed_origins`` shows only
    once the API accepts it)."""
    return frozenset(ClonePatch.__struct_fields__)


#: The widget's colour until the creator saves one (``WidgetTheme``'s default).
DEFAULT_ACCENT = "#4f46e5"


def embed_snippet(origin: str, clone_id: str, accent: str = DEFAULT_ACCENT) -> str:
    """The HTML a creator pastes into their own site to show the chat widget, in the
    saved colour (the bubble draws before the frame, which reads the saved look, loads)."""
    return (
        f'<script src="{origin}/clone/embed.js" data-clone="{clone_id}" '
        f'data-color="{accent}" async></script>'
    )


@get("/clones", name="clone:home", **PAGES.route_options)
async def clones_home(request: Request[Any, Any, Any]) -> Template | Redirect:
    return await PAGES.workspaces(request)


@get(
    "/clones/{group_id:uuid}",
    name="clone:group",
    dependencies=service_dependencies("clones"),
    **PAGES.route_options,
)
async def clones_group(
    request: Request[Any, Any, Any], clones: NamedDependency[Clones], group_id: FromPath[UUID]
) -> Template:
    group, record, can_manage = await _group_page_context(request, group_id)
    found = await clones.list_clones(group, None, 200)
    return PAGES.render(
        "manage_group.html",
        title=f"AI clones · {record.name}",
        view="group",
        group=record,
        clones=found.items,
        purposes=PURPOSES,
        can_manage=can_manage,
        crumbs=PAGES.crumbs((record.name, None)),
    )


@get(
    "/clones/{group_id:uuid}/{clone_id:uuid}",
    name="clone:detail",
    dependencies=service_dependencies("clones", "sources"),
    **PAGES.route_options,
)
async def clone_detail(
    request: Request[Any, Any, Any],
    clones: NamedDependency[Clones],
    sources: NamedDependency[Sources],
    group_id: FromPath[UUID],
    clone_id: FromPath[UUID],
) -> Template:
    group, record, can_manage = await _group_page_context(request, group_id)
    clone: CloneView = await clones.get_clone(group, clone_id)
    found = await sources.list_sources(group, clone_id, None, 200)
    thing = await clones.get_clone_thing(group.stores, clone_id)
    fields = patch_fields()
    # sites run the widget from where they are served (the snippet's script and frame)
    origin = _platform(request).hosts.sites_url
    theme = {"accent": DEFAULT_ACCENT, **thing.properties.get("widget_theme", {})}
    return PAGES.render(
        "manage_clone.html",
        title=f"{clone.name} · {record.name}",
        view="clone",
        group=record,
        clone=clone,
        sources=found.items,
        purposes=PURPOSES,
        providers=clones.provider_views(),
        allowed_origins=thing.properties.get("allowed_origins", [])
        if "allowed_origins" in fields
        else None,
        widget_theme=theme,
        pages_enabled="page" in _platform(request).registry.things,
        embed_snippet=embed_snippet(origin, clone.id, theme["accent"]),
        can_manage=can_manage,
        crumbs=PAGES.crumbs(
            (record.name, f"/clones/{record.id}"),
            (clone.name, None),
        ),
    )


@get(
    "/clones/{group_id:uuid}/{clone_id:uuid}/sources/{source_id:uuid}",
    name="clone:source",
    dependencies=service_dependencies("clones", "sources"),
    **PAGES.route_options,
)
async def source_detail(
    request: Request[Any, Any, Any],
    clones: NamedDependency[Clones],
    sources: NamedDependency[Sources],
    group_id: FromPath[UUID],
    clone_id: FromPath[UUID],
    source_id: FromPath[UUID],
) -> Template:
    """One source's text as the clone learned it: where a citation of pasted or uploaded
    text links to (with a text fragment, which the browser scrolls to and highlights)."""
    group, record, _ = await _group_page_context(request, group_id)
    clone: CloneView = await clones.get_clone(group, clone_id)
    source = await sources.get_source(group, clone_id, source_id)
    _, text = await source_text(group.stores, await group.stores.things.get(source_id))
    paragraphs = [p.strip() for p in text.split("\n\n") if p.strip()]
    return PAGES.render(
        "manage_source.html",
        title=f"{source.title} · {clone.name}",
        view="source",
        group=record,
        clone=clone,
        source=source,
        paragraphs=paragraphs,
        crumbs=PAGES.crumbs(
            (record.name, f"/clones/{record.id}"),
            (clone.name, f"/clones/{record.id}/{clone.id}"),
            (source.title, None),
        ),
    )


MANAGE_ROUTES: list[Any] = [clones_home, clones_group, clone_detail, source_detail]

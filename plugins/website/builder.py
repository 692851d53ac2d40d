"""The builder UI: the pages creators build their websites with.

Server-rendered Jinja pages (``templates/website``) that ``static/builder.js`` brings to
life against the website JSON API (no build step; SortableJS is vendored):

* ``/builder``: the person's workspaces (groups); a form to create the first one; with
  exactly one workspace, straight to it (``?all=1`` lists it anyway);
* ``/builder/{group_id}``: the workspace's websites and a form to create one;
* ``/builder/{group_id}/sites/{site_id}``: a site's settings and its pages;
* ``/builder/{group_id}/sites/{site_id}/pages/{page_id}``: the page editor (component
  library, live canvas, properties panel).

Pages need a browser session (an API token works too, as on the API); without one they
redirect to ``/account/login?next=<path>``. Another person's group, site or page is a
404, as on the API. Every page is sent with a strict Content-Security-Policy: no inline
script or style, scripts only from ``/static``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote
from uuid import UUID

from litestar import Request, Response, get
from litestar.params import FromPath
from litestar.response import Redirect, Template

import sdk
from plugins.website.services import Websites
from plugins.website.types import PageView, WebsiteView

#: The builder's pages: the platform's CSP, plus https images and frames on the canvas
#: (image URLs and embeds creators add).
BUILDER_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; "
    "img-src 'self' https: data: blob:; media-src 'self' https:; frame-src https:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
COLOR_MODES = (("auto", "Follow the visitor's system"), ("light", "Light"), ("dark", "Dark"))


def _service(request: Request[Any, Any, Any]) -> Websites:
    service: Websites = request.app.state.website
    return service


def _platform(request: Request[Any, Any, Any]) -> sdk.Platform:
    platform: sdk.Platform = request.app.state.platform
    return platform


def _render(template: str, status: int = 200, **context: Any) -> Template:
    return Template(
        template_name=f"website/{template}",
        context=context,
        status_code=status,
        headers=sdk.ui_headers(BUILDER_CSP),
    )


def _login_redirect(request: Request[Any, Any, Any]) -> Redirect:
    path = request.url.path
    if request.url.query:
        path += "?" + request.url.query
    return Redirect(
        path=f"/account/login?next={quote(path, safe='/')}",
        status_code=302,
        headers={"Cache-Control": "no-store"},
    )


def html_error(request: Request[Any, Any, Any], exc: sdk.PlatformError) -> Response[Any]:
    """Errors of the builder's pages as pages: no (valid) session → the log-in page; a
    group, site or page that is not theirs → a 404 page; other refusals likewise."""
    if isinstance(exc, sdk.Unauthorized):
        return _login_redirect(request)
    titles = {404: "Not found", 403: "Not allowed"}
    return _render(
        "error.html",
        status=exc.status,
        title=titles.get(exc.status, exc.title),
        detail=exc.detail if exc.status != 404 else "",
        status_code=exc.status,
        view="error",
        crumbs=[],
    )


_UI: dict[str, Any] = {
    "include_in_schema": False,
    "exception_handlers": {sdk.PlatformError: html_error},
}


def _crumbs(*items: tuple[str, str | None]) -> list[dict[str, str | None]]:
    return [{"label": label, "href": href} for label, href in items]


async def _group_page_context(
    request: Request[Any, Any, Any], group_id: UUID
) -> tuple[sdk.GroupContext, sdk.Group, dict[str, bool]]:
    group = await sdk.provide_group(request, group_id)
    record = await _platform(request).directory.get_group(group_id)
    permissions = group.permissions
    can = {
        "manage": permissions.can(group.scope, "website.manage", group.resource()),
        "publish": permissions.can(group.scope, "website.publish", group.resource()),
    }
    return group, record, can


def public_path(site: WebsiteView, page: PageView) -> str:
    """Where the published page is on this server (a path, so it works on any host)."""
    return f"/sites/{site.slug}/{page.slug}"


@get("/builder", name="builder:home", **_UI)
async def builder_home(request: Request[Any, Any, Any]) -> Template | Redirect:
    actor = await sdk.provide_actor(request)
    found = await _platform(request).directory.groups_of(actor.id, limit=100)
    show_all = request.query_params.get("all") == "1"
    if len(found.items) == 1 and not show_all:
        return Redirect(path=f"/builder/{found.items[0].id}", status_code=302)
    return _render(
        "groups.html",
        title="Your workspaces",
        view="groups",
        person=actor,
        groups=found.items,
        crumbs=_crumbs(("Workspaces", None)),
    )


@get("/builder/{group_id:uuid}", name="builder:group", **_UI)
async def builder_group(request: Request[Any, Any, Any], group_id: FromPath[UUID]) -> Template:
    group, record, can = await _group_page_context(request, group_id)
    service = _service(request)
    sites = await service.list_sites(group, None, 200)
    return _render(
        "group.html",
        title=f"Websites · {record.name}",
        view="group",
        group=record,
        sites=sites.items,
        themes=list(service.themes.values()),
        can=can,
        crumbs=_crumbs(("Workspaces", "/builder?all=1"), (record.name, None)),
    )


@get("/builder/{group_id:uuid}/sites/{site_id:uuid}", name="builder:site", **_UI)
async def builder_site(
    request: Request[Any, Any, Any], group_id: FromPath[UUID], site_id: FromPath[UUID]
) -> Template:
    group, record, can = await _group_page_context(request, group_id)
    service = _service(request)
    site_thing, found = await service.list_pages(group, site_id, None, 200)
    site = service.site_view(site_thing)
    pages = [service.page_view(p, site_thing) for p in found.items]
    pages.sort(key=lambda p: (p.slug != site.settings.home_page, p.title.lower()))
    return _render(
        "site.html",
        title=f"{site.name} · {record.name}",
        view="site",
        group=record,
        site=site,
        pages=[(p, public_path(site, p)) for p in pages],
        themes=list(service.themes.values()),
        color_modes=COLOR_MODES,
        can=can,
        crumbs=_crumbs(
            ("Workspaces", "/builder?all=1"),
            (record.name, f"/builder/{record.id}"),
            (site.name, None),
        ),
    )


@get("/builder/{group_id:uuid}/sites/{site_id:uuid}/pages/{page_id:uuid}",
     name="builder:editor", **_UI)  # fmt: skip
async def builder_editor(
    request: Request[Any, Any, Any],
    group_id: FromPath[UUID],
    site_id: FromPath[UUID],
    page_id: FromPath[UUID],
) -> Template:
    group, record, can = await _group_page_context(request, group_id)
    service = _service(request)
    site_thing, page_thing = await service.get_page(group, site_id, page_id)
    site = service.site_view(site_thing)
    page = service.page_view(page_thing, site_thing)
    return _render(
        "editor.html",
        title=f"Editing {page.title} · {site.name}",
        view="editor",
        group=record,
        site=site,
        page=page,
        public_path=public_path(site, page),
        can=can,
        crumbs=_crumbs(
            ("Workspaces", "/builder?all=1"),
            (record.name, f"/builder/{record.id}"),
            (site.name, f"/builder/{record.id}/sites/{site.id}"),
            (page.title, None),
        ),
    )


BUILDER_ROUTES: list[Any] = [builder_home, builder_group, builder_site, builder_editor]

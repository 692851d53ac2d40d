"""The builder UI: the pages creators build their websites with.

Server-rendered Jinja pages (``templates/website``) that ``static/builder.js`` brings to
life against the website JSON API (no build step; SortableJS is vendored):

* ``/builder``: the person's workspaces (groups); a form to create the first one; with
  exactly one workspace, straight to it (``?all=1`` lists it anyway);
* ``/builder/{group_id}``: the workspace's websites and a form to create one;
* ``/builder/{group_id}/sites/{site_id}``: a site's settings and its pages;
* ``/builder/{group_id}/sites/{site_id}/pages/{page_id}``: the page editor (component
  library, live canvas, properties panel);
* ``/builder/{group_id}/sites/{site_id}/canvas.css``: the site theme's own stylesheet,
  scoped to the editor's canvas, so the canvas looks like the published page while the
  builder's panels keep the app's look.

Pages need a browser session (an API token works too, as on the API); without one they
redirect to ``/account/login?next=<path>``. Another person's group, site or page is a
404, as on the API. Every page is sent with a strict Content-Security-Policy: no inline
script or style, scripts only from ``/static``.
"""

from __future__ import annotations

import re
from typing import Any
from uuid import UUID

from litestar import Request, Response, Router, get
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Redirect, Template

import sdk
from plugins.website.blueprints import PAGE_TEMPLATES
from plugins.website.services import DEPENDENCIES, Pages, Websites
from plugins.website.themes import Theme, theme_css
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


PAGES = sdk.PluginPages(
    templates="website",
    layout="website/layout.html",
    home="/builder",
    holds="websites",
    csp=BUILDER_CSP,
)


async def _group_page_context(
    request: Request[Any, Any, Any], group_id: UUID
) -> tuple[sdk.GroupContext, sdk.Group, dict[str, bool]]:
    group, record = await PAGES.group(request, group_id)
    permissions = group.permissions
    can = {
        "manage": permissions.can(group.scope, "website.manage", group.resource()),
        "publish": permissions.can(group.scope, "website.publish", group.resource()),
    }
    return group, record, can


def sites_url(websites: Websites) -> str:
    """Where published sites are: ``public_sites_origin`` when set, else ``""`` (a path on
    this server, so it works on any of its hosts)."""
    return websites.context.platform.hosts.sites_origin or ""


def public_path(base: str, site: WebsiteView, page: PageView) -> str:
    """Where the published page is under ``base`` (:func:`sites_url`); not at its custom
    domain, which may still be pending."""
    return f"{base}/sites/{site.slug}/{page.slug}"


#: A site stylesheet's rules that style the whole document; on the canvas they style the
#: canvas element instead (CSS nesting's ``&``).
_DOCUMENT_SELECTORS = re.compile(r"(?<![\w-])(?::root|html|body)(?=[{,:\s])")


#: Width media queries and viewport-width units of the site stylesheet; on the canvas
#: they ask the canvas's width instead (a container query, container units), so the
#: canvas lays the page out as a browser window of its width would.
_WIDTH_QUERY = re.compile(r"@media \((min|max)-width:")
_VIEWPORT_WIDTH = re.compile(r"(?<=[\d.])vw\b")


def canvas_css(theme: Theme, color_mode: str) -> str:
    """``theme``'s published stylesheet (:func:`theme_css`) nested inside ``.bl-canvas``:
    every rule applies to the canvas only; the rules written for ``:root``, ``html`` and
    ``body`` apply to the canvas element itself; width queries and ``vw`` follow the
    canvas's width. So the canvas gets the very palette, fonts, component styles and
    layout the published page gets at that width."""
    css = _DOCUMENT_SELECTORS.sub("&", theme_css(theme, color_mode))
    css = _WIDTH_QUERY.sub(r"@container bl-canvas (\1-width:", css)
    css = _VIEWPORT_WIDTH.sub("cqi", css)
    return ".bl-canvas{container:bl-canvas/inline-size;" + css + "}"


@get("/builder", name="builder:home", **PAGES.route_options)
async def builder_home(request: Request[Any, Any, Any]) -> Template | Redirect:
    return await PAGES.workspaces(request)


@get("/builder/{group_id:uuid}", name="builder:group", **PAGES.route_options)
async def builder_group(
    request: Request[Any, Any, Any], websites: NamedDependency[Websites], group_id: FromPath[UUID]
) -> Template:
    group, record, can = await _group_page_context(request, group_id)
    found = await websites.sites.list_sites(group, None, 200)
    return PAGES.render(
        "group.html",
        title=f"Websites · {record.name}",
        view="group",
        group=record,
        sites=found.items,
        themes=list(websites.context.themes.values()),
        can=can,
        crumbs=PAGES.crumbs((record.name, None)),
    )


@get("/builder/{group_id:uuid}/sites/{site_id:uuid}", name="builder:site", **PAGES.route_options)
async def builder_site(
    request: Request[Any, Any, Any],
    websites: NamedDependency[Websites],
    group_id: FromPath[UUID],
    site_id: FromPath[UUID],
) -> Template:
    group, record, can = await _group_page_context(request, group_id)
    site, found = await websites.pages.list_pages(group, site_id, None, 200)
    listed = sorted(found.items, key=lambda p: (p.slug != site.settings.home_page, p.title.lower()))
    return PAGES.render(
        "site.html",
        title=f"{site.name} · {record.name}",
        view="site",
        group=record,
        site=site,
        pages=[(p, public_path(sites_url(websites), site, p)) for p in listed],
        sites_url=sites_url(websites),
        themes=list(websites.context.themes.values()),
        color_modes=COLOR_MODES,
        page_templates=PAGE_TEMPLATES,
        can=can,
        crumbs=PAGES.crumbs(
            (record.name, f"/builder/{record.id}"),
            (site.name, None),
        ),
    )


@get(
    "/builder/{group_id:uuid}/sites/{site_id:uuid}/pages/{page_id:uuid}",
    name="builder:editor",
    **PAGES.route_options,
)
async def builder_editor(
    request: Request[Any, Any, Any],
    websites: NamedDependency[Websites],
    pages: NamedDependency[Pages],
    group_id: FromPath[UUID],
    site_id: FromPath[UUID],
    page_id: FromPath[UUID],
) -> Template:
    group, record, can = await _group_page_context(request, group_id)
    site, page = await pages.get_page(group, site_id, page_id)
    return PAGES.render(
        "editor.html",
        title=f"Editing {page.title} · {site.name}",
        view="editor",
        group=record,
        site=site,
        page=page,
        public_path=public_path(sites_url(websites), site, page),
        sites_url=sites_url(websites),
        can=can,
        crumbs=PAGES.crumbs(
            (record.name, f"/builder/{record.id}"),
            (site.name, f"/builder/{record.id}/sites/{site.id}"),
            (page.title, None),
        ),
    )


@get(
    "/builder/{group_id:uuid}/sites/{site_id:uuid}/canvas.css",
    name="builder:canvas-css",
    **PAGES.route_options,
)
async def builder_canvas_css(
    request: Request[Any, Any, Any],
    websites: NamedDependency[Websites],
    group_id: FromPath[UUID],
    site_id: FromPath[UUID],
) -> Response[str]:
    group, _, _ = await _group_page_context(request, group_id)
    site = await websites.sites.get_site(group, site_id)
    css = canvas_css(websites.context.theme(site.theme), site.settings.color_mode)
    # The editor's link carries the site's version, so a theme change is a new address.
    return Response(css, media_type="text/css", headers={"Cache-Control": "private, max-age=3600"})


BUILDER_ROUTES: list[Any] = [
    Router(
        path="/",
        route_handlers=[
            builder_home,
            builder_group,
            builder_site,
            builder_editor,
            builder_canvas_css,
        ],
        dependencies=DEPENDENCIES,
    )
]

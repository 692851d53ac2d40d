"""The website API: thin handlers over the services in :mod:`plugins.website.services`.

Everything lives under ``/api/v1/website/groups/{group_id}``. Writes to a page accept
``If-Match: "<version>"`` (the ETag of the last read) and answer 412 if someone else
saved in between; responses carry the new ETag.
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

import msgspec
from litestar import Controller, Response, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, HeaderParameter, JSONBody

import sdk
from plugins.website.blueprints import blueprints_view
from plugins.website.services import (
    GROUP_DEPENDENCIES,
    Domains,
    Pages,
    Publishing,
    Revisions,
    Sites,
    WebsiteContext,
)
from plugins.website.types import (
    BlueprintsView,
    ComponentIn,
    ComponentMove,
    ComponentPatch,
    ComponentView,
    DuplicateIn,
    Node,
    PageIn,
    PagePatch,
    PageView,
    RevisionView,
    ThemeView,
    WebsiteIn,
    WebsitePatch,
    WebsiteView,
)

IfMatch = Annotated[str | None, HeaderParameter(name="If-Match")]


def _page(view: PageView, status: int = 200) -> Response[PageView]:
    return Response(view, status_code=status, headers={"ETag": f'"{view.version}"'})


class ComponentResult(msgspec.Struct):
    """The page after adding a component, and the component as added."""

    page: PageView
    node: Node


#: Drafts are served on the platform's own origin, beside the session cookie: no script
#: may run in them (``sandbox`` also gives the document an origin of its own).
DRAFT_HEADERS = {
    "Cache-Control": "no-store",
    "X-Robots-Tag": "noindex",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": (
        "default-src 'none'; img-src 'self' https: data:; style-src 'unsafe-inline'; "
        "frame-src https:; base-uri 'none'; form-action 'none'; sandbox"
    ),
}

SITE = "/sites/{site_id:uuid}"
PAGE = SITE + "/pages/{page_id:uuid}"


class CatalogueController(Controller):
    """What a site can be built from: components, section and page templates, themes."""

    path = "/groups/{group_id:uuid}"

    @get("/components", summary="Components a page can hold")
    async def list_components(
        self, website: NamedDependency[WebsiteContext], group: NamedDependency[sdk.GroupContext]
    ) -> list[ComponentView]:
        group.require("website.read")
        return website.component_views()

    @get("/templates", summary="Section and page templates, and their placeholder texts")
    async def list_templates(self, group: NamedDependency[sdk.GroupContext]) -> BlueprintsView:
        group.require("website.read")
        return blueprints_view()

    @get("/themes", summary="Themes a site can use")
    async def list_themes(
        self, website: NamedDependency[WebsiteContext], group: NamedDependency[sdk.GroupContext]
    ) -> list[ThemeView]:
        group.require("website.read")
        return [ThemeView(t.name, t.label, t.description) for t in website.themes.values()]


class WebsiteController(Controller):
    """A group's sites, their pages, components and revisions."""

    path = "/groups/{group_id:uuid}"

    # -- sites ----------------------------------------------------------------------------

    @get("/sites", summary="List websites")
    async def list_sites(
        self,
        sites: NamedDependency[Sites],
        group: NamedDependency[sdk.GroupContext],
        cursor: sdk.PageCursor = None,
        limit: sdk.PageLimit = 50,
    ) -> sdk.Page[WebsiteView]:
        return await sites.list_sites(group, cursor, limit)

    @post("/sites", summary="Create a website")
    async def create_site(
        self,
        sites: NamedDependency[Sites],
        group: NamedDependency[sdk.GroupContext],
        data: JSONBody[WebsiteIn],
    ) -> Response[WebsiteView]:
        view = await sites.create_site(group, data)
        return Response(view, status_code=201, headers={"ETag": f'"{view.version}"'})

    @get(SITE, summary="Get a website")
    async def get_site(
        self,
        sites: NamedDependency[Sites],
        group: NamedDependency[sdk.GroupContext],
        site_id: FromPath[UUID],
    ) -> Response[WebsiteView]:
        view = await sites.get_site(group, site_id)
        return Response(view, headers={"ETag": f'"{view.version}"'})

    @patch(SITE, summary="Change a website (theme, domain, settings, ...)")
    async def update_site(
        self,
        sites: NamedDependency[Sites],
        group: NamedDependency[sdk.GroupContext],
        site_id: FromPath[UUID],
        data: JSONBody[WebsitePatch],
        if_match: IfMatch = None,
    ) -> Response[WebsiteView]:
        view = await sites.update_site(group, site_id, data, sdk.parse_if_match(if_match))
        return Response(view, headers={"ETag": f'"{view.version}"'})

    @delete(SITE, summary="Delete a website, its pages and its live pages")
    async def delete_site(
        self,
        sites: NamedDependency[Sites],
        group: NamedDependency[sdk.GroupContext],
        site_id: FromPath[UUID],
        if_match: IfMatch = None,
    ) -> None:
        await sites.delete_site(group, site_id, sdk.parse_if_match(if_match))

    @post(
        SITE + "/domain/verify",
        summary="Check the custom domain's DNS record now (verified: the domain is served)",
        status_code=200,
    )
    async def verify_domain(
        self,
        domains: NamedDependency[Domains],
        group: NamedDependency[sdk.GroupContext],
        site_id: FromPath[UUID],
    ) -> Response[WebsiteView]:
        view = await domains.verify(group, site_id)
        return Response(view, headers={"ETag": f'"{view.version}"'})

    # -- pages ----------------------------------------------------------------------------

    @get(SITE + "/pages", summary="List a website's pages")
    async def list_pages(
        self,
        pages: NamedDependency[Pages],
        group: NamedDependency[sdk.GroupContext],
        site_id: FromPath[UUID],
        cursor: sdk.PageCursor = None,
        limit: sdk.PageLimit = 50,
    ) -> sdk.Page[PageView]:
        _, found = await pages.list_pages(group, site_id, cursor, limit)
        return found

    @post(SITE + "/pages", summary="Create a page (a draft)")
    async def create_page(
        self,
        pages: NamedDependency[Pages],
        group: NamedDependency[sdk.GroupContext],
        site_id: FromPath[UUID],
        data: JSONBody[PageIn],
    ) -> Response[PageView]:
        return _page(await pages.create_page(group, site_id, data), 201)

    @get(PAGE, summary="Get a page with its draft component tree")
    async def get_page(
        self,
        pages: NamedDependency[Pages],
        group: NamedDependency[sdk.GroupContext],
        site_id: FromPath[UUID],
        page_id: FromPath[UUID],
    ) -> Response[PageView]:
        _, page = await pages.get_page(group, site_id, page_id)
        return _page(page)

    @patch(PAGE, summary="Change a page's title, slug, SEO or whole tree (a new revision)")
    async def update_page(
        self,
        pages: NamedDependency[Pages],
        group: NamedDependency[sdk.GroupContext],
        site_id: FromPath[UUID],
        page_id: FromPath[UUID],
        data: JSONBody[PagePatch],
        if_match: IfMatch = None,
    ) -> Response[PageView]:
        return _page(
            await pages.update_page(group, site_id, page_id, data, sdk.parse_if_match(if_match))
        )

    @delete(PAGE, summary="Delete a page (and take it offline)")
    async def delete_page(
        self,
        pages: NamedDependency[Pages],
        group: NamedDependency[sdk.GroupContext],
        site_id: FromPath[UUID],
        page_id: FromPath[UUID],
        if_match: IfMatch = None,
    ) -> None:
        await pages.delete_page(group, site_id, page_id, sdk.parse_if_match(if_match))

    @post(PAGE + "/duplicate", summary="Copy a page into a new draft")
    async def duplicate_page(
        self,
        pages: NamedDependency[Pages],
        group: NamedDependency[sdk.GroupContext],
        site_id: FromPath[UUID],
        page_id: FromPath[UUID],
        data: JSONBody[DuplicateIn],
    ) -> Response[PageView]:
        return _page(await pages.duplicate_page(group, site_id, page_id, data), 201)

    @post(PAGE + "/publish", summary="Publish the draft: it becomes the live page", status_code=200)
    async def publish(
        self,
        publishing: NamedDependency[Publishing],
        group: NamedDependency[sdk.GroupContext],
        site_id: FromPath[UUID],
        page_id: FromPath[UUID],
        if_match: IfMatch = None,
    ) -> Response[PageView]:
        return _page(
            await publishing.publish(group, site_id, page_id, sdk.parse_if_match(if_match))
        )

    @post(PAGE + "/unpublish", summary="Take the live page offline", status_code=200)
    async def unpublish(
        self,
        publishing: NamedDependency[Publishing],
        group: NamedDependency[sdk.GroupContext],
        site_id: FromPath[UUID],
        page_id: FromPath[UUID],
        if_match: IfMatch = None,
    ) -> Response[PageView]:
        return _page(
            await publishing.unpublish(group, site_id, page_id, sdk.parse_if_match(if_match))
        )

    @get(
        PAGE + "/preview",
        summary="The draft rendered as a page (not public)",
        media_type="text/html",
    )
    async def preview(
        self,
        publishing: NamedDependency[Publishing],
        group: NamedDependency[sdk.GroupContext],
        site_id: FromPath[UUID],
        page_id: FromPath[UUID],
    ) -> Response[str]:
        html = await publishing.preview(group, site_id, page_id)
        return Response(html, media_type="text/html", headers=DRAFT_HEADERS)

    @get(
        PAGE + "/canvas",
        summary="The draft's components marked up for the builder",
        media_type="text/html",
    )
    async def canvas(
        self,
        publishing: NamedDependency[Publishing],
        group: NamedDependency[sdk.GroupContext],
        site_id: FromPath[UUID],
        page_id: FromPath[UUID],
    ) -> Response[str]:
        html = await publishing.canvas(group, site_id, page_id)
        return Response(html, media_type="text/html", headers=DRAFT_HEADERS)

    # -- components -----------------------------------------------------------------------

    @post(PAGE + "/components", summary="Add a component")
    async def add_component(
        self,
        pages: NamedDependency[Pages],
        group: NamedDependency[sdk.GroupContext],
        site_id: FromPath[UUID],
        page_id: FromPath[UUID],
        data: JSONBody[ComponentIn],
        if_match: IfMatch = None,
    ) -> Response[ComponentResult]:
        view, node = await pages.add_component(
            group, site_id, page_id, data, sdk.parse_if_match(if_match)
        )
        return Response(
            ComponentResult(page=view, node=node),
            status_code=201,
            headers={"ETag": f'"{view.version}"'},
        )

    @patch(PAGE + "/components/{node_id:str}", summary="Change a component's props")
    async def update_component(
        self,
        pages: NamedDependency[Pages],
        group: NamedDependency[sdk.GroupContext],
        site_id: FromPath[UUID],
        page_id: FromPath[UUID],
        node_id: FromPath[str],
        data: JSONBody[ComponentPatch],
        if_match: IfMatch = None,
    ) -> Response[PageView]:
        view = await pages.update_component(
            group, site_id, page_id, node_id, data, sdk.parse_if_match(if_match)
        )
        return _page(view)

    @post(
        PAGE + "/components/{node_id:str}/move",
        summary="Move or reorder a component",
        status_code=200,
    )
    async def move_component(
        self,
        pages: NamedDependency[Pages],
        group: NamedDependency[sdk.GroupContext],
        site_id: FromPath[UUID],
        page_id: FromPath[UUID],
        node_id: FromPath[str],
        data: JSONBody[ComponentMove],
        if_match: IfMatch = None,
    ) -> Response[PageView]:
        view = await pages.move_component(
            group, site_id, page_id, node_id, data, sdk.parse_if_match(if_match)
        )
        return _page(view)

    @delete(PAGE + "/components/{node_id:str}", summary="Remove a component", status_code=200)
    async def delete_component(
        self,
        pages: NamedDependency[Pages],
        group: NamedDependency[sdk.GroupContext],
        site_id: FromPath[UUID],
        page_id: FromPath[UUID],
        node_id: FromPath[str],
        if_match: IfMatch = None,
    ) -> Response[PageView]:
        view = await pages.delete_component(
            group, site_id, page_id, node_id, sdk.parse_if_match(if_match)
        )
        return _page(view)

    # -- revisions ------------------------------------------------------------------------

    @get(PAGE + "/revisions", summary="A page's saved revisions, newest first")
    async def list_revisions(
        self,
        revisions: NamedDependency[Revisions],
        group: NamedDependency[sdk.GroupContext],
        site_id: FromPath[UUID],
        page_id: FromPath[UUID],
        cursor: sdk.PageCursor = None,
        limit: sdk.PageLimit = 50,
    ) -> sdk.Page[RevisionView]:
        return await revisions.list_revisions(group, site_id, page_id, cursor, limit)

    @get(PAGE + "/revisions/{number:int}", summary="One revision with its content")
    async def get_revision(
        self,
        revisions: NamedDependency[Revisions],
        group: NamedDependency[sdk.GroupContext],
        site_id: FromPath[UUID],
        page_id: FromPath[UUID],
        number: FromPath[int],
    ) -> RevisionView:
        return await revisions.get_revision(group, site_id, page_id, number)

    @post(
        PAGE + "/revisions/{number:int}/restore",
        summary="Make a revision the draft again",
        status_code=200,
    )
    async def restore_revision(
        self,
        revisions: NamedDependency[Revisions],
        group: NamedDependency[sdk.GroupContext],
        site_id: FromPath[UUID],
        page_id: FromPath[UUID],
        number: FromPath[int],
        if_match: IfMatch = None,
    ) -> Response[PageView]:
        view = await revisions.restore_revision(
            group, site_id, page_id, number, sdk.parse_if_match(if_match)
        )
        return _page(view)


ROUTES = [
    sdk.api_router(
        "website", [CatalogueController, WebsiteController], dependencies=GROUP_DEPENDENCIES
    )
]

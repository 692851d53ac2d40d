"""The media library screen (``/builder/{group_id}/media``): the workspace's uploads as a
grid, an upload zone (drag and drop or a button, with progress), and each file's details
(name, type, size, dimensions, alt text, the pages that use it, delete).

The grid is a template macro (``website/media_grid.html``) and a script module
(``/static/website/media.js``, ``window.CreatorMedia``) that draws the same tiles from the
API, so the builder's media picker shows the library as this screen does.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from litestar import Request, get
from litestar.params import FromPath
from litestar.response import Template

import sdk
from plugins.website.builder import PAGES
from plugins.website.media.library import MediaLibrary
from plugins.website.media.validation import KINDS

#: The files the screen lists (the API pages through the rest).
SHOWN = 200
#: The ``uses`` connections read to say where files are used.
USES_READ = 1000


async def where_used(group: sdk.GroupContext) -> dict[str, list[dict[str, str]]]:
    """Asset id → the pages that show it (title and editor link), from the ``page uses
    media_asset`` connections the page editor keeps in step."""
    uses: dict[str, list[UUID]] = {}
    cursor: str | None = None
    read = 0
    while read < USES_READ:
        found = await group.stores.connections.list(type="uses", cursor=cursor, limit=200)
        for link in found.items:
            uses.setdefault(str(link.to_id), []).append(link.from_id)
        read += len(found.items)
        cursor = found.next_cursor
        if cursor is None:
            break
    pages: dict[UUID, dict[str, str]] = {}
    for page_id in {p for ids in uses.values() for p in ids}:
        try:
            page = await group.stores.things.get(page_id, type="page")
        except sdk.NotFound:
            continue
        site_id = page.properties.get("site_id", "")
        pages[page_id] = {
            "title": str(page.properties.get("title") or page.name),
            "href": f"/builder/{group.group_id}/sites/{site_id}/pages/{page_id}",
        }
    return {a: [pages[p] for p in ids if p in pages] for a, ids in uses.items()}


@get("/builder/{group_id:uuid}/media", name="builder:media", **PAGES.route_options)
async def media_page(request: Request[Any, Any, Any], group_id: FromPath[UUID]) -> Template:
    group, record = await PAGES.group(request, group_id)
    library: MediaLibrary = request.app.state.website_media
    found = await library.list(group, None, SHOWN)
    manage = group.permissions.can(group.scope, "website.manage", group.resource())
    accept = ",".join(sorted({kind[0] for kind in KINDS.values()}))
    return PAGES.render(
        "media.html",
        title=f"Media · {record.name}",
        view="media",
        group=record,
        assets=found.items,
        more=found.next_cursor is not None,
        used=await where_used(group),
        manage=manage,
        accept=accept,
        max_bytes=library.settings.media_max_bytes,
        crumbs=PAGES.crumbs((record.name, f"/builder/{record.id}"), ("Media", None)),
    )


SCREEN_ROUTES = [media_page]

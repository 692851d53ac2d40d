"""A page's revisions: every save keeps one (``page_revision``); read them, and make an old
one the draft again (as a new save through :class:`Pages`, so nothing is lost)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import msgspec

import sdk
from plugins.website.services.base import RevisionFields, WebsiteContext, iso
from plugins.website.services.pages import Pages
from plugins.website.types import Node, PageProps, PageView, RevisionView, Seo


class Revisions:
    """Reading and restoring a page's saved revisions."""

    def __init__(self, context: WebsiteContext, pages: Pages) -> None:
        self.context = context
        self.pages = pages

    async def list_revisions(
        self,
        group: sdk.GroupContext,
        site_id: UUID,
        page_id: UUID,
        cursor: str | None,
        limit: int,
    ) -> sdk.Page[RevisionView]:
        await self.context.get_page_things(group, site_id, page_id)
        found = await group.stores.things.list(
            type="page_revision", where={"page_id": str(page_id)}, cursor=cursor, limit=limit
        )
        items = [_revision_view(t, full=False) for t in found.items]
        return sdk.Page(items=items, next_cursor=found.next_cursor)

    async def get_revision(
        self, group: sdk.GroupContext, site_id: UUID, page_id: UUID, number: int
    ) -> RevisionView:
        await self.context.get_page_things(group, site_id, page_id)
        revision = await self.context.revision_thing(group.stores, page_id, number)
        return _revision_view(revision, full=True)

    async def restore_revision(
        self,
        group: sdk.GroupContext,
        site_id: UUID,
        page_id: UUID,
        number: int,
        expected_version: int | None = None,
    ) -> PageView:
        """Make revision ``number`` the draft again (as a new revision; nothing is lost)."""
        group.require("website.manage")
        await self.context.get_page_things(group, site_id, page_id)
        revision = await self.context.revision_thing(group.stores, page_id, number)
        old = msgspec.convert(revision.properties, RevisionFields)
        tree = await sdk.run_cpu(self.context.components.validate_tree, old.tree)

        def change(page: PageProps) -> dict[str, Any]:
            return {"title": old.title, "slug": old.slug, "seo": old.seo, "tree": tree}

        return await self.pages.edit(
            group, site_id, page_id, expected_version, f"restored revision {number}", change
        )


def _revision_view(thing: sdk.Thing, *, full: bool) -> RevisionView:
    p = thing.properties
    return RevisionView(
        id=str(thing.id),
        page_id=p["page_id"],
        number=p["number"],
        title=p["title"],
        slug=p["slug"],
        summary=p.get("summary", ""),
        author_id=p.get("author_id"),
        created_at=iso(thing.created_at),
        seo=msgspec.convert(p.get("seo", {}), Seo) if full else None,
        tree=msgspec.convert(p.get("tree", []), list[Node]) if full else None,
    )

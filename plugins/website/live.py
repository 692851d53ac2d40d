"""What visitors see: published pages, rendered once, looked up by public name.

Writes happen in the publisher's transaction (scoped by row-level security like any
group-scoped table). Public reads are cross-group by nature — a visitor names a site,
not a group — so they declare themselves with ``db.system()`` and return only published,
public data.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

import sdk
from plugins.website.types import SiteSettings


@dataclass(frozen=True)
class LiveSite:
    """A site as public requests need it."""

    id: UUID
    group_id: UUID
    name: str
    slug: str
    theme: str
    custom_domain: str | None
    description: str
    language: str
    settings: SiteSettings


@dataclass(frozen=True)
class LivePage:
    page_id: UUID
    site_id: UUID
    slug: str
    title: str
    description: str
    noindex: bool
    revision: int
    html: str
    etag: str
    published_at: datetime


_SITE_COLUMNS = "id, group_id, name, properties"
_PAGE_COLUMNS = (
    "page_id, site_id, slug, title, description, noindex, revision, html, etag, published_at"
)


def etag_for(html: str) -> str:
    return '"' + hashlib.blake2b(html.encode(), digest_size=12).hexdigest() + '"'


def _site(row: asyncpg.Record) -> LiveSite:
    import msgspec

    props: dict[str, Any] = row["properties"]
    return LiveSite(
        id=row["id"],
        group_id=row["group_id"],
        name=row["name"],
        slug=props["slug"],
        theme=props.get("theme", "classic"),
        custom_domain=props.get("custom_domain"),
        description=props.get("description", ""),
        language=props.get("language", "en"),
        settings=msgspec.convert(props.get("settings", {}), SiteSettings),
    )


class LivePages:
    """The ``website_live_pages`` table and public lookups of sites."""

    def __init__(self, db: Any) -> None:
        self.db = db

    # -- writes, in the caller's (group-scoped) transaction ------------------------------

    @staticmethod
    async def put(
        conn: asyncpg.Connection,
        *,
        group_id: UUID,
        site_id: UUID,
        page_id: UUID,
        slug: str,
        title: str,
        description: str,
        noindex: bool,
        revision: int,
        html: str,
        published_at: datetime | None = None,
    ) -> LivePage:
        """Insert or replace a page's live row; ``published_at`` keeps the original
        publication time when a page is only rendered again (a theme change)."""
        try:
            row = await conn.fetchrow(
                "INSERT INTO website_live_pages (page_id, group_id, site_id, slug, title, "
                "description, noindex, revision, html, etag, published_at) "
                "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, COALESCE($11, now())) "
                "ON CONFLICT (page_id) DO UPDATE SET slug = EXCLUDED.slug, "
                "title = EXCLUDED.title, description = EXCLUDED.description, "
                "noindex = EXCLUDED.noindex, revision = EXCLUDED.revision, "
                "html = EXCLUDED.html, etag = EXCLUDED.etag, published_at = EXCLUDED.published_at "
                f"RETURNING {_PAGE_COLUMNS}",
                page_id, group_id, site_id, slug, title, description, noindex, revision,
                html, etag_for(html), published_at,
            )  # fmt: skip
        except asyncpg.UniqueViolationError:
            raise sdk.Conflict(
                f"another published page of this site already uses the slug {slug!r}",
                field="slug",
            ) from None
        return LivePage(**row)

    @staticmethod
    async def remove(conn: asyncpg.Connection, page_id: UUID) -> bool:
        status: str = await conn.execute(
            "DELETE FROM website_live_pages WHERE page_id = $1", page_id
        )
        return status != "DELETE 0"

    @staticmethod
    async def remove_site(conn: asyncpg.Connection, site_id: UUID) -> None:
        await conn.execute("DELETE FROM website_live_pages WHERE site_id = $1", site_id)

    @staticmethod
    async def of_site(conn: asyncpg.Connection, site_id: UUID) -> list[LivePage]:
        rows = await conn.fetch(
            f"SELECT {_PAGE_COLUMNS} FROM website_live_pages WHERE site_id = $1 ORDER BY slug",
            site_id,
        )
        return [LivePage(**r) for r in rows]

    # -- public reads (cross-group, published data only) ---------------------------------

    async def site_by_slug(self, slug: str) -> LiveSite | None:
        async with self.db.system() as conn:
            row = await conn.fetchrow(
                f"SELECT {_SITE_COLUMNS} FROM things WHERE type = 'website' "
                "AND deleted_at IS NULL AND properties->>'slug' = $1",
                slug,
            )
        return _site(row) if row else None

    async def site_by_domain(self, domain: str) -> LiveSite | None:
        async with self.db.system() as conn:
            row = await conn.fetchrow(
                f"SELECT {_SITE_COLUMNS} FROM things WHERE type = 'website' "
                "AND deleted_at IS NULL AND properties->>'custom_domain' IS NOT NULL "
                "AND lower(properties->>'custom_domain') = $1",
                domain.lower(),
            )
        return _site(row) if row else None

    async def page(self, site_id: UUID, slug: str) -> LivePage | None:
        async with self.db.system() as conn:
            row = await conn.fetchrow(
                f"SELECT {_PAGE_COLUMNS} FROM website_live_pages "
                "WHERE site_id = $1 AND slug = $2",
                site_id, slug,
            )  # fmt: skip
        return LivePage(**row) if row else None

    async def pages(self, site_id: UUID) -> list[LivePage]:
        async with self.db.system() as conn:
            return await self.of_site(conn, site_id)

    async def slug_taken(self, slug: str, *, except_id: UUID | None = None) -> bool:
        async with self.db.system() as conn:
            found = await conn.fetchval(
                "SELECT id FROM things WHERE type = 'website' AND deleted_at IS NULL "
                "AND properties->>'slug' = $1",
                slug,
            )
        return found is not None and found != except_id

    async def domain_taken(self, domain: str, *, except_id: UUID | None = None) -> bool:
        async with self.db.system() as conn:
            found = await conn.fetchval(
                "SELECT id FROM things WHERE type = 'website' AND deleted_at IS NULL "
                "AND lower(properties->>'custom_domain') = $1",
                domain.lower(),
            )
        return found is not None and found != except_id

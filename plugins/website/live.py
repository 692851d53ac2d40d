"""What visitors see: published pages, rendered once, looked up by public name.

Writes happen in the publisher's transaction (scoped by row-level security like any
group-scoped table). A visitor names a site, not a group: its slug or custom domain is a
public name (core's registry, ``ontology.names``), which says the site's group; the
site and its pages are then read in that group alone, as a visitor.
"""

from __future__ import annotations

import hashlib
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

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


#: The public names a site holds: its slug (``/sites/{slug}``) and its custom domain.
SLUG_NAME = "website.slug"
DOMAIN_NAME = "domain"
_PAGE_COLUMNS = (
    "page_id, site_id, slug, title, description, noindex, revision, html, etag, published_at"
)


def etag_for(html: str) -> str:
    return '"' + hashlib.blake2b(html.encode(), digest_size=12).hexdigest() + '"'


def _site(thing: sdk.Thing) -> LiveSite:
    props: dict[str, Any] = thing.properties
    return LiveSite(
        id=thing.id,
        group_id=thing.group_id,
        name=thing.name,
        slug=props["slug"],
        theme=props.get("theme", "classic"),
        custom_domain=props.get("custom_domain"),
        description=props.get("description", ""),
        language=props.get("language", "en"),
        settings=msgspec.convert(props.get("settings", {}), SiteSettings),
    )


class LivePages:
    """The ``website_live_pages`` table and public lookups of sites."""

    def __init__(self, ontology: sdk.Ontology) -> None:
        self.ontology = ontology

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
                page_id,
                group_id,
                site_id,
                slug,
                title,
                description,
                noindex,
                revision,
                html,
                etag_for(html),
                published_at,
            )
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

    # -- public reads (published data only) ----------------------------------------------

    async def site_by_slug(self, slug: str) -> LiveSite | None:
        return await self._site_holding(SLUG_NAME, slug)

    async def site_by_domain(self, domain: str) -> LiveSite | None:
        """The site whose custom domain ``domain`` is, once verified (a pending domain's
        owner has not shown they control it: nothing is served there)."""
        return await self._site_holding(DOMAIN_NAME, domain, verified_only=True)

    async def _site_holding(
        self, kind: str, name: str, *, verified_only: bool = False
    ) -> LiveSite | None:
        """The site holding the public name ``name`` of ``kind``, read in its group."""
        held = await self.ontology.names.resolve(kind, name, verified_only=verified_only)
        if held is None:
            return None
        stores = self.ontology.scoped(sdk.Scope.visitor(held.group_id))
        try:
            thing = await stores.things.get(held.thing_id, type="website")
        except sdk.NotFound:
            return None
        return _site(thing)

    async def page(self, site: LiveSite, slug: str) -> LivePage | None:
        async with self._reading(site) as conn:
            row = await conn.fetchrow(
                f"SELECT {_PAGE_COLUMNS} FROM website_live_pages "
                "WHERE group_id = $1 AND site_id = $2 AND slug = $3",
                site.group_id,
                site.id,
                slug,
            )
        return LivePage(**row) if row else None

    async def pages(self, site: LiveSite) -> list[LivePage]:
        async with self._reading(site) as conn:
            return await self.of_site(conn, site.id)

    def _reading(self, site: LiveSite) -> AbstractAsyncContextManager[asyncpg.Connection]:
        """A connection that sees only the site's group (row-level security)."""
        return self.ontology.scoped(sdk.Scope.visitor(site.group_id)).session.reading()

    async def slug_taken(self, slug: str, *, except_id: UUID | None = None) -> bool:
        return await self.ontology.names.is_taken(SLUG_NAME, slug, by_other_than=except_id)

    async def domain_taken(self, domain: str, *, except_id: UUID | None = None) -> bool:
        return await self.ontology.names.is_taken(DOMAIN_NAME, domain, by_other_than=except_id)

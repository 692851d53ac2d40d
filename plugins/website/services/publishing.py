"""Publishing: a page's draft rendered once to HTML and stored as the live page.

The live page (``website_live_pages``) changes only when the page is published again,
unpublished, or deleted, or when the site's look changes (the live revisions are then
rendered again, their content as it was). Preview and the builder's canvas render the
draft without storing it.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from uuid import UUID

import msgspec
from markupsafe import Markup

import sdk
from plugins.website import render
from plugins.website.components import RenderContext
from plugins.website.live import LivePages
from plugins.website.services.base import PublishBlocked, RevisionFields, WebsiteContext
from plugins.website.services.tree import asset_ids
from plugins.website.types import Node, PageProps, PageView, WebsiteProps


class Publishing:
    """Rendering pages, and making them live or taking them offline."""

    def __init__(self, context: WebsiteContext) -> None:
        self.context = context

    async def render_tree(
        self, stores: sdk.ScopedOntology, site: sdk.Thing, tree: list[Node], *, editing: bool
    ) -> Markup:
        body, _ = await self._render(stores, site, tree, editing=editing)
        return body

    async def _render(
        self, stores: sdk.ScopedOntology, site: sdk.Thing, tree: list[Node], *, editing: bool
    ) -> tuple[Markup, RenderContext]:
        props = msgspec.convert(site.properties, WebsiteProps)
        media = await self.context.media.refs(stores, asset_ids(tree))
        ctx = RenderContext(
            site_url=self.context.site_base_url(props),
            editing=editing,
            media=media,
            language=props.language,
        )
        return self.context.components.render(tree, ctx), ctx

    async def menu_pages(self, o: sdk.ScopedOntology, site_id: UUID) -> list[render.MenuPage]:
        """The site's published pages as its menu lists them: in the order they were
        created (page ids are time-ordered)."""
        async with o.session.transaction() as conn:
            live = await LivePages.of_site(conn, site_id)
        ordered = sorted(live, key=lambda entry: entry.page_id.bytes)
        return [render.MenuPage(str(e.page_id), e.slug, e.title) for e in ordered]

    async def _document(
        self,
        stores: sdk.ScopedOntology,
        site: sdk.Thing,
        page: PageProps,
        *,
        preview: bool,
        menu: list[render.MenuPage],
        published_at: datetime | None = None,
        updated_at: datetime | None = None,
    ) -> str:
        site_props = msgspec.convert(site.properties, WebsiteProps)
        body, ctx = await self._render(stores, site, page.tree, editing=False)
        info = self.context.site_info(site)
        info = replace(info, menu=render.resolve_menu(info.base_url, site_props.settings, menu))
        page_info = render.PageInfo(
            id="",
            slug=page.slug,
            title=page.title,
            seo=page.seo,
            is_home=page.slug == site_props.settings.home_page,
            published_at=published_at,
            updated_at=updated_at,
        )
        return render.page_document(
            info,
            page_info,
            body,
            self.context.theme(site_props.theme),
            preview=preview,
            first_image=ctx.image_urls[0] if ctx.image_urls else "",
        )

    async def preview(self, group: sdk.GroupContext, site_id: UUID, page_id: UUID) -> str:
        """The draft as it would look published (never cached, never indexed)."""
        site, page = await self.context.get_page_things(group, site_id, page_id)
        props = msgspec.convert(page.properties, PageProps)
        menu = await self.menu_pages(group.stores, site_id)
        return await self._document(group.stores, site, props, preview=True, menu=menu)

    async def canvas(self, group: sdk.GroupContext, site_id: UUID, page_id: UUID) -> str:
        """The draft's components with the builder's markers, for the editor's canvas."""
        site, page = await self.context.get_page_things(group, site_id, page_id)
        props = msgspec.convert(page.properties, PageProps)
        return str(await self.render_tree(group.stores, site, props.tree, editing=True))

    async def publish(
        self,
        group: sdk.GroupContext,
        site_id: UUID,
        page_id: UUID,
        expected_version: int | None = None,
    ) -> PageView:
        """Render the draft once and make it the live page (``page_published``)."""
        group.require("website.publish")
        context = self.context
        await context.get_site_thing(group, site_id)
        async with context.transaction(group) as o:
            site = await context.lock_site(o, site_id)
            page = await context.locked_page(o, site_id, page_id, expected_version)
            props = msgspec.convert(page.properties, PageProps)
            problems = await context.components.publish_problems(props.tree, o)
            if problems:
                raise PublishBlocked(
                    f"fix {len(problems)} problem(s) before publishing: "
                    + "; ".join(p["problem"] for p in problems[:3]),
                    field="tree",
                    problems=problems,
                )
            now = datetime.now(UTC)
            before = await self.menu_pages(o, site_id)
            this = render.MenuPage(str(page_id), props.slug, props.title)
            after = [this if p.id == this.id else p for p in before]
            if this not in after:
                after = sorted([*after, this], key=lambda p: UUID(p.id).bytes)
            html = await self._document(
                o, site, props, preview=False, menu=after, published_at=now, updated_at=now
            )
            async with o.session.transaction() as conn:
                await LivePages.put(
                    conn,
                    group_id=group.group_id,
                    site_id=site_id,
                    page_id=page_id,
                    slug=props.slug,
                    title=props.title,
                    description=props.seo.description,
                    noindex=props.seo.noindex,
                    revision=props.revision,
                    html=html,
                )
            if self._menu_changed(site, before, after):
                await self.rerender_live(o, site, skip=page_id)
            props.published_revision = props.revision
            props.published_at = now.isoformat()
            page = await _record(o, site_id, page_id, props, "published")
        await context.purge.publish(site_id)
        return context.page_view(page, site)

    async def unpublish(
        self,
        group: sdk.GroupContext,
        site_id: UUID,
        page_id: UUID,
        expected_version: int | None = None,
    ) -> PageView:
        group.require("website.publish")
        context = self.context
        await context.get_site_thing(group, site_id)
        async with context.transaction(group) as o:
            site = await context.lock_site(o, site_id)
            page = await context.locked_page(o, site_id, page_id, expected_version)
            props = msgspec.convert(page.properties, PageProps)
            if props.published_revision is None:
                return context.page_view(page, site)
            before = await self.menu_pages(o, site_id)
            async with o.session.transaction() as conn:
                await LivePages.remove(conn, page_id)
            await self.refresh_menus(o, site, before)
            props.published_revision = None
            props.published_at = None
            page = await _record(o, site_id, page_id, props, "draft")
        await context.purge.publish(site_id)
        return context.page_view(page, site)

    def _menu_changed(
        self, site: sdk.Thing, before: list[render.MenuPage], after: list[render.MenuPage]
    ) -> bool:
        settings = msgspec.convert(site.properties, WebsiteProps).settings
        return render.resolve_menu("", settings, before) != render.resolve_menu("", settings, after)

    async def refresh_menus(
        self, o: sdk.ScopedOntology, site: sdk.Thing, before: list[render.MenuPage]
    ) -> None:
        """After a page went offline (``before``: the published pages until then), render
        the other live pages again if the menu they show changed. In the caller's
        transaction, which holds the site's lock."""
        if self._menu_changed(site, before, await self.menu_pages(o, site.id)):
            await self.rerender_live(o, site)

    async def rerender_live(
        self, o: sdk.ScopedOntology, site: sdk.Thing, *, skip: UUID | None = None
    ) -> None:
        """Render the site's live pages (but ``skip``) again, from the revisions that are
        live, inside the caller's transaction (which holds the site's lock)."""
        async with o.session.transaction() as conn:
            live = await LivePages.of_site(conn, site.id)
        menu = await self.menu_pages(o, site.id)
        for entry in live:
            if entry.page_id == skip:
                continue
            revision = await self.context.revision_thing(o, entry.page_id, entry.revision)
            old = msgspec.convert(revision.properties, RevisionFields)
            props = PageProps(
                site_id=str(site.id), slug=old.slug, title=old.title, seo=old.seo, tree=old.tree
            )
            html = await self._document(
                o,
                site,
                props,
                preview=False,
                menu=menu,
                published_at=entry.published_at,
                updated_at=entry.published_at,
            )
            async with o.session.transaction() as conn:
                await LivePages.put(
                    conn,
                    group_id=o.scope.group_id,
                    site_id=site.id,
                    page_id=entry.page_id,
                    slug=entry.slug,
                    title=entry.title,
                    description=entry.description,
                    noindex=entry.noindex,
                    revision=entry.revision,
                    html=html,
                    published_at=entry.published_at,
                )


async def _record(
    o: sdk.ScopedOntology, site_id: UUID, page_id: UUID, props: PageProps, status: str
) -> sdk.Thing:
    """Store the page's new live state and say so (``page_published`` or
    ``page_unpublished``), in the caller's transaction."""
    page = await o.things.update(
        page_id, status=status, properties=msgspec.to_builtins(props), replace_properties=True
    )
    await o.events.emit(
        "page_published" if status == "published" else "page_unpublished",
        {
            "site_id": str(site_id),
            "page_id": str(page_id),
            "slug": props.slug,
            "revision": props.revision,
        },
        target_id=page_id,
    )
    return page

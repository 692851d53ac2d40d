"""Pages and their components: create, change, copy and delete drafts.

Every change is one save: under the site's lock and the page's row lock, the change is
applied to the draft in ``properties``, ``revision`` goes up by one, a ``page_revision``
keeps the page as the save left it, and ``page_updated`` (with any more specific event)
is emitted in the same transaction. Nothing here touches the live page except deleting.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

import msgspec

import sdk
from plugins.website.components import new_node_id, walk_tree
from plugins.website.live import LivePages
from plugins.website.services.base import WebsiteContext
from plugins.website.services.publishing import Publishing
from plugins.website.services.tree import (
    asset_ids,
    children_of,
    copy_tree,
    find_node,
    remove_node,
    with_fresh_ids,
)
from plugins.website.types import (
    ComponentIn,
    ComponentMove,
    ComponentPatch,
    DuplicateIn,
    Node,
    PageIn,
    PagePatch,
    PageProps,
    PageView,
    Seo,
    WebsiteView,
)

#: A change to a draft: the page's properties in, ``{field: new value}`` out.
Change = Callable[[PageProps], dict[str, Any]]


def _uuid(value: str, field: str) -> UUID:
    try:
        return UUID(value)
    except ValueError:
        raise sdk.ValidationFailed(f"{field} is not a valid id", field=field) from None


class Pages:
    """A site's pages and the components on them."""

    def __init__(self, context: WebsiteContext, publishing: Publishing) -> None:
        self.context = context
        self.publishing = publishing

    async def list_pages(
        self, group: sdk.GroupContext, site_id: UUID, cursor: str | None, limit: int
    ) -> tuple[WebsiteView, sdk.Page[PageView]]:
        site = await self.context.get_site_thing(group, site_id)
        found = await group.stores.things.list(
            type="page", where={"site_id": str(site_id)}, cursor=cursor, limit=limit
        )
        views = [self.context.page_view(p, site) for p in found.items]
        return self.context.site_view(site), sdk.Page(items=views, next_cursor=found.next_cursor)

    async def get_page(
        self, group: sdk.GroupContext, site_id: UUID, page_id: UUID
    ) -> tuple[WebsiteView, PageView]:
        site, page = await self.context.get_page_things(group, site_id, page_id)
        return self.context.site_view(site), self.context.page_view(page, site)

    async def create_page(self, group: sdk.GroupContext, site_id: UUID, data: PageIn) -> PageView:
        group.require("website.manage")
        await self.context.get_site_thing(group, site_id)
        tree = await sdk.run_cpu(self.context.components.validate_tree, data.tree or [])
        async with self.context.transaction(group) as o:
            site = await self.context.lock_site(o, site_id)
            await self.context.platform.quotas.check(
                group.scope, "pages", within=o, parent_id=site_id
            )
            await self._check_page_slug(o, site_id, data.slug, None)
            page = await self._create_page(
                o, site, data.title, data.slug, data.seo or Seo(), tree, "created"
            )
        return self.context.page_view(page, site)

    async def _create_page(
        self,
        o: sdk.ScopedOntology,
        site: sdk.Thing,
        title: str,
        slug: str,
        seo: Seo,
        tree: list[Node],
        summary: str,
    ) -> sdk.Thing:
        props = PageProps(
            site_id=str(site.id), slug=slug, title=title, seo=seo, tree=tree, revision=1
        )
        page = await o.things.create(
            "page", name=title, properties=msgspec.to_builtins(props), status="draft"
        )
        links = await o.connections.list(type="contains", from_id=site.id, limit=200)
        await o.connections.create("contains", site.id, page.id, {"position": len(links.items)})
        await self._keep_revision(o, page, props, summary)
        await self._sync_media(o, page.id, [], tree)
        await o.events.emit(
            "page_created",
            {"site_id": str(site.id), "page_id": str(page.id), "slug": slug, "revision": 1},
            target_id=page.id,
        )
        return page

    async def update_page(
        self,
        group: sdk.GroupContext,
        site_id: UUID,
        page_id: UUID,
        patch: PagePatch,
        expected_version: int | None = None,
    ) -> PageView:
        group.require("website.manage")
        changes: dict[str, Any] = {
            f: getattr(patch, f)
            for f in ("title", "slug", "seo", "tree")
            if getattr(patch, f) is not msgspec.UNSET
        }
        if "tree" in changes:
            changes["tree"] = await sdk.run_cpu(
                self.context.components.validate_tree, changes["tree"]
            )
        seo_patch = changes.pop("seo", None)
        summary = "edited " + ", ".join([*changes, *(["seo"] if seo_patch else [])])

        def change(props: PageProps) -> dict[str, Any]:
            if seo_patch is None:
                return changes
            merged = {**msgspec.to_builtins(props.seo), **msgspec.to_builtins(seo_patch)}
            seo = msgspec.convert(sdk.validate_object(Seo, merged, "seo"), Seo)
            return {**changes, "seo": seo}

        return await self.edit(group, site_id, page_id, expected_version, summary, change)

    async def delete_page(
        self, group: sdk.GroupContext, site_id: UUID, page_id: UUID, expected_version: int | None
    ) -> None:
        group.require("website.manage")
        await self.context.get_page_things(group, site_id, page_id)
        async with self.context.transaction(group) as o:
            # The site's lock, then the page's row, as publish does: one after the other.
            site = await self.context.lock_site(o, site_id)
            await self.context.locked_page(o, site_id, page_id, expected_version)
            before = await self.publishing.menu_pages(o, site_id)
            async with o.session.transaction() as conn:
                was_live = await LivePages.remove(conn, page_id)
            if was_live:  # the other pages' menus may list it
                await self.publishing.refresh_menus(o, site, before)
            await o.things.delete(page_id)
        if was_live:
            await self.context.purge.publish(site_id)

    async def duplicate_page(
        self, group: sdk.GroupContext, site_id: UUID, page_id: UUID, data: DuplicateIn
    ) -> PageView:
        group.require("website.manage")
        _, source = await self.context.get_page_things(group, site_id, page_id)
        props = msgspec.convert(source.properties, PageProps)
        tree = with_fresh_ids(props.tree)
        async with self.context.transaction(group) as o:
            site = await self.context.lock_site(o, site_id)
            await self.context.platform.quotas.check(
                group.scope, "pages", within=o, parent_id=site_id
            )
            await self._check_page_slug(o, site_id, data.slug, None)
            page = await self._create_page(
                o,
                site,
                data.title or f"{props.title} (copy)",
                data.slug,
                props.seo,
                tree,
                f"duplicated from {props.slug}",
            )
        return self.context.page_view(page, site)

    # -- components -----------------------------------------------------------------------

    async def add_component(
        self,
        group: sdk.GroupContext,
        site_id: UUID,
        page_id: UUID,
        data: ComponentIn,
        expected_version: int | None = None,
    ) -> tuple[PageView, Node]:
        group.require("website.manage")
        components = self.context.components
        component = components.get(data.type)
        props = components.defaults(data.type)
        if data.props:
            props = await sdk.run_cpu(
                components.validate_props, data.type, {**props, **data.props}, "props"
            )
        node = Node(id=new_node_id(), type=component.type, props=props)

        def change(page: PageProps) -> dict[str, Any]:
            tree = copy_tree(page.tree)
            siblings = children_of(tree, data.parent_id, components)
            position = len(siblings) if data.position is None else min(data.position, len(siblings))
            siblings.insert(position, node)
            return {"tree": components.validate_tree(tree)}

        event = {"node_id": node.id, "component": node.type, "parent_id": data.parent_id}
        view = await self.edit(
            group,
            site_id,
            page_id,
            expected_version,
            f"added {component.label.lower()}",
            change,
            extra_event=("component_added", event),
        )
        return view, node

    async def update_component(
        self,
        group: sdk.GroupContext,
        site_id: UUID,
        page_id: UUID,
        node_id: str,
        data: ComponentPatch,
        expected_version: int | None = None,
    ) -> PageView:
        group.require("website.manage")
        components = self.context.components

        def change(page: PageProps) -> dict[str, Any]:
            tree = copy_tree(page.tree)
            node = find_node(tree, node_id)
            defaults = components.defaults(node.type)
            merged = {**node.props, **data.props}
            for key, value in data.props.items():
                if value is None:
                    merged[key] = defaults.get(key)
            node.props = components.validate_props(node.type, merged, "props")
            return {"tree": tree}

        return await self.edit(
            group, site_id, page_id, expected_version, "edited component", change
        )

    async def move_component(
        self,
        group: sdk.GroupContext,
        site_id: UUID,
        page_id: UUID,
        node_id: str,
        data: ComponentMove,
        expected_version: int | None = None,
    ) -> PageView:
        group.require("website.manage")
        components = self.context.components

        def change(page: PageProps) -> dict[str, Any]:
            tree = copy_tree(page.tree)
            node = find_node(tree, node_id)
            if data.parent_id is not None and (
                data.parent_id == node_id
                or any(n.id == data.parent_id for n in walk_tree(node.children))
            ):
                raise sdk.ValidationFailed("a component cannot move into itself", field="parent_id")
            remove_node(tree, node_id)
            siblings = children_of(tree, data.parent_id, components)
            siblings.insert(min(data.position, len(siblings)), node)
            return {"tree": components.validate_tree(tree)}

        return await self.edit(group, site_id, page_id, expected_version, "moved component", change)

    async def delete_component(
        self,
        group: sdk.GroupContext,
        site_id: UUID,
        page_id: UUID,
        node_id: str,
        expected_version: int | None = None,
    ) -> PageView:
        group.require("website.manage")

        def change(page: PageProps) -> dict[str, Any]:
            tree = copy_tree(page.tree)
            find_node(tree, node_id)
            remove_node(tree, node_id)
            return {"tree": tree}

        return await self.edit(
            group, site_id, page_id, expected_version, "removed component", change
        )

    # -- saving ---------------------------------------------------------------------------

    async def edit(
        self,
        group: sdk.GroupContext,
        site_id: UUID,
        page_id: UUID,
        expected_version: int | None,
        summary: str,
        change: Change,
        extra_event: tuple[str, dict[str, Any]] | None = None,
    ) -> PageView:
        """Load the page locked, apply ``change(props) -> {field: value}``, and save it as a
        new revision, with ``page_updated`` naming what changed."""
        context = self.context
        await context.get_site_thing(group, site_id)
        async with context.transaction(group) as o:
            site = await context.lock_site(o, site_id)
            page = await context.locked_page(o, site_id, page_id, expected_version)
            props = msgspec.convert(page.properties, PageProps)
            # a change validates the whole tree (rich text is sanitised again): off the loop
            changes = await sdk.run_cpu(change, props)
            if "slug" in changes and changes["slug"] != props.slug:
                await self._check_page_slug(o, site_id, changes["slug"], page_id)
            old_tree = props.tree
            changed = [k for k, v in changes.items() if getattr(props, k) != v]
            if not changed:
                return context.page_view(page, site)
            for key in changed:
                setattr(props, key, changes[key])
            props.revision += 1
            page = await o.things.update(
                page_id,
                name=props.title,
                properties=msgspec.to_builtins(props),
                replace_properties=True,
            )
            await self._keep_revision(o, page, props, summary)
            if "tree" in changed:
                await self._sync_media(o, page_id, old_tree, props.tree)
            base = {"site_id": str(site_id), "page_id": str(page_id)}
            await o.events.emit(
                "page_updated",
                {**base, "slug": props.slug, "revision": props.revision, "changed": changed},
                target_id=page_id,
            )
            if extra_event is not None:
                await o.events.emit(extra_event[0], {**base, **extra_event[1]}, target_id=page_id)
        return context.page_view(page, site)

    @staticmethod
    async def _keep_revision(
        o: sdk.ScopedOntology, page: sdk.Thing, props: PageProps, summary: str
    ) -> None:
        actor = o.scope.person_id
        await o.things.create(
            "page_revision",
            name=f"{props.title} — revision {props.revision}",
            properties={
                "page_id": str(page.id),
                "number": props.revision,
                "slug": props.slug,
                "title": props.title,
                "seo": msgspec.to_builtins(props.seo),
                "tree": msgspec.to_builtins(props.tree),
                "author_id": str(actor) if actor else None,
                "summary": summary[:300],
            },
        )

    @staticmethod
    async def _sync_media(
        o: sdk.ScopedOntology, page_id: UUID, old: list[Node], new: list[Node]
    ) -> None:
        """Keep ``page uses media_asset`` connections in step with the tree's images."""
        before, after = asset_ids(old), asset_ids(new)
        if before == after:
            return
        links = await o.connections.list(type="uses", from_id=page_id, limit=200)
        linked = {str(c.to_id): c for c in links.items}
        for asset_id in after - set(linked):
            try:
                await o.connections.create("uses", page_id, _uuid(asset_id, "asset_id"))
            except sdk.NotFound:
                raise sdk.ValidationFailed(
                    f"media asset {asset_id} not found", field="props.asset_id"
                ) from None
        for asset_id in set(linked) - after:
            await o.connections.delete(linked[asset_id].id)

    async def _check_page_slug(
        self, o: sdk.ScopedOntology, site_id: UUID, slug: str, page_id: UUID | None
    ) -> None:
        if self.context.platform.shell.is_reserved(f"/{slug}"):
            # On a custom domain the page would be at /{slug}, where a screen of the
            # platform answers: neither may hide the other.
            raise sdk.ValidationFailed(
                f"{slug!r} is the address of one of the platform's screens; choose another slug",
                field="slug",
            )
        found = await o.things.list(
            type="page", where={"site_id": str(site_id), "slug": slug}, limit=2
        )
        taken = any(p.id != page_id for p in found.items)
        if not taken:
            # A renamed page stays live at its old slug until it is published again.
            async with o.session.transaction() as conn:
                live = await conn.fetchval(
                    "SELECT page_id FROM website_live_pages WHERE site_id = $1 AND slug = $2",
                    site_id,
                    slug,
                )
            taken = live is not None and live != page_id
        if taken:
            raise sdk.Conflict(
                f"this website already has a page at {slug!r}; choose another slug",
                field="slug",
            )

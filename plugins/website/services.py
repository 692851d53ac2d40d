"""Sites, pages, components, revisions and publishing, written against core's stores.

Every write happens in one transaction with the events it emits. A page's ``properties``
hold the draft; every save adds one to ``revision`` and keeps a ``page_revision`` thing
with the page as that save left it. Publishing renders a revision to HTML once and stores
it in ``website_live_pages``; the live page changes only when the page is published
again.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID

import asyncpg
import msgspec
from markupsafe import Markup

import sdk
from plugins.website import render
from plugins.website.cache import PurgeListener
from plugins.website.components import ComponentRegistry, MediaRef, RenderContext, walk_tree
from plugins.website.live import LivePages
from plugins.website.themes import Theme
from plugins.website.types import (
    ComponentIn,
    ComponentMove,
    ComponentPatch,
    ComponentView,
    DuplicateIn,
    Node,
    PageIn,
    PagePatch,
    PageProps,
    PageView,
    RevisionView,
    Seo,
    SiteSettings,
    WebsiteIn,
    WebsitePatch,
    WebsiteProps,
    WebsiteView,
)


class PublishBlocked(sdk.ValidationFailed):
    """The page has problems that must be fixed before it goes live (``problems`` lists
    them per component)."""

    code = "publish_blocked"
    title = "Page cannot be published yet"


def _iso(value: datetime | None) -> str:
    return value.isoformat() if value else ""


def _uuid(value: str, field: str) -> UUID:
    try:
        return UUID(value)
    except ValueError:
        raise sdk.ValidationFailed(f"{field} is not a valid id", field=field) from None


@dataclass
class MediaLookup:
    """Turns media asset ids into public URLs (the media module fills it in)."""

    async def refs(self, stores: sdk.ScopedOntology, ids: set[str]) -> dict[str, MediaRef]:
        return {}


class Websites:
    """The website plugin's behaviour. One instance per running platform."""

    def __init__(
        self,
        platform: sdk.Platform,
        components: ComponentRegistry,
        themes: dict[str, Theme],
        live: LivePages,
        purge: PurgeListener,
        media: MediaLookup,
    ) -> None:
        self.platform = platform
        self.components = components
        self.themes = themes
        self.live = live
        self.purge = purge
        self.media = media

    # -- views ----------------------------------------------------------------------------

    def site_base_url(self, props: WebsiteProps | dict[str, Any]) -> str:
        domain = (
            props.custom_domain if isinstance(props, WebsiteProps) else props.get("custom_domain")
        )
        slug = props.slug if isinstance(props, WebsiteProps) else props["slug"]
        if domain:
            return f"https://{domain}"
        return f"{self.platform.settings.base_url}/sites/{slug}"

    def site_view(self, thing: sdk.Thing) -> WebsiteView:
        props = msgspec.convert(thing.properties, WebsiteProps)
        return WebsiteView(
            id=str(thing.id), name=thing.name, slug=props.slug, theme=props.theme,
            custom_domain=props.custom_domain, description=props.description,
            language=props.language, settings=props.settings, version=thing.version,
            url=self.site_base_url(props) + "/", created_at=_iso(thing.created_at),
            updated_at=_iso(thing.updated_at),
        )  # fmt: skip

    def page_view(self, thing: sdk.Thing, site: sdk.Thing) -> PageView:
        props = msgspec.convert(thing.properties, PageProps)
        site_props = msgspec.convert(site.properties, WebsiteProps)
        is_home = props.slug == site_props.settings.home_page
        return PageView(
            id=str(thing.id), site_id=props.site_id, slug=props.slug, title=props.title,
            status=thing.status, seo=props.seo, tree=props.tree, revision=props.revision,
            published_revision=props.published_revision, published_at=props.published_at,
            has_unpublished_changes=props.published_revision != props.revision,
            version=thing.version,
            url=render.page_url(self._site_info(site), props.slug, is_home),
            created_at=_iso(thing.created_at), updated_at=_iso(thing.updated_at),
        )  # fmt: skip

    def _site_info(self, site: sdk.Thing) -> render.SiteInfo:
        props = msgspec.convert(site.properties, WebsiteProps)
        return render.SiteInfo(
            id=str(site.id), name=site.name, slug=props.slug, description=props.description,
            language=props.language, settings=props.settings,
            base_url=self.site_base_url(props),
        )  # fmt: skip

    def component_views(self) -> list[ComponentView]:
        views = []
        for component, plugin in self.components:
            schema = msgspec.json.schema(component.props)
            views.append(
                ComponentView(
                    type=component.type,
                    label=component.label,
                    description=component.description,
                    category=component.category,
                    container=component.container,
                    defaults=self.components.defaults(component.type),
                    schema=schema,
                    inline=list(component.inline),
                    plugin=plugin,
                )
            )
        return views

    def theme(self, name: str) -> Theme:
        found = self.themes.get(name)
        if found is None:
            raise sdk.ValidationFailed(
                f"unknown theme {name!r}; available: {', '.join(sorted(self.themes))}",
                field="theme",
            )
        return found

    # -- sites ----------------------------------------------------------------------------

    async def list_sites(
        self, group: sdk.GroupContext, cursor: str | None, limit: int
    ) -> sdk.Page[WebsiteView]:
        group.require("website.read")
        page = await group.stores.things.list(type="website", cursor=cursor, limit=limit)
        return sdk.Page(items=[self.site_view(t) for t in page.items], next_cursor=page.next_cursor)

    async def get_site_thing(self, group: sdk.GroupContext, site_id: UUID) -> sdk.Thing:
        group.require("website.read")
        try:
            return await group.stores.things.get(site_id, type="website")
        except sdk.NotFound:
            raise sdk.NotFound(f"website {site_id} not found") from None

    async def create_site(self, group: sdk.GroupContext, data: WebsiteIn) -> WebsiteView:
        group.require("website.manage")
        self.theme(data.theme)
        await self._check_public_names(data.slug, data.custom_domain, None)
        props = WebsiteProps(
            slug=data.slug, theme=data.theme, custom_domain=data.custom_domain,
            description=data.description, language=data.language,
            settings=data.settings or SiteSettings(),
        )  # fmt: skip
        clean = sdk.validate_object(WebsiteProps, msgspec.to_builtins(props), "properties")
        async with self._transaction(group) as o:
            await self.platform.quotas.check(group.scope, "websites", within=o)
            try:
                thing = await o.things.create("website", name=data.name, properties=clean)
            except asyncpg.UniqueViolationError:
                raise self._name_taken(data.slug, data.custom_domain) from None
            await o.events.emit(
                "website_created", {"site_id": str(thing.id), "slug": data.slug},
                target_id=thing.id,
            )  # fmt: skip
            if data.custom_domain:
                await o.events.emit(
                    "domain_configured",
                    {"site_id": str(thing.id), "domain": data.custom_domain},
                    target_id=thing.id,
                )
        await self.purge.publish(thing.id)
        return self.site_view(thing)

    async def update_site(
        self,
        group: sdk.GroupContext,
        site_id: UUID,
        patch: WebsitePatch,
        expected_version: int | None = None,
    ) -> WebsiteView:
        group.require("website.manage")
        await self.get_site_thing(group, site_id)
        async with self._transaction(group) as o:
            # Under the site's lock and re-read inside the transaction: two settings changes
            # apply one after the other (neither is lost), and no page is published with
            # the look the site had before.
            site = await self._lock_site(o, site_id)
            props = msgspec.convert(site.properties, WebsiteProps)
            before = msgspec.to_builtins(props)
            name = site.name if patch.name is msgspec.UNSET else patch.name
            for field in ("slug", "theme", "custom_domain", "description", "language"):
                value = getattr(patch, field)
                if value is not msgspec.UNSET:
                    setattr(props, field, value)
            if patch.settings is not msgspec.UNSET:
                merged = {
                    **msgspec.to_builtins(props.settings),
                    **msgspec.to_builtins(patch.settings),
                }
                settings = sdk.validate_object(SiteSettings, merged, "settings")
                props.settings = msgspec.convert(settings, SiteSettings)
            self.theme(props.theme)
            new_domain = props.custom_domain
            await self._check_public_names(
                props.slug if props.slug != before["slug"] else None,
                new_domain if new_domain and new_domain != before.get("custom_domain") else None,
                site_id,
            )
            clean = sdk.validate_object(WebsiteProps, msgspec.to_builtins(props), "properties")
            changed = sorted(k for k in set(clean) | set(before) if clean.get(k) != before.get(k))
            if name != site.name:
                changed.insert(0, "name")
            if not changed:
                return self.site_view(site)
            try:
                site = await o.things.update(
                    site_id, name=name, properties=clean, replace_properties=True,
                    expected_version=expected_version,
                )  # fmt: skip
            except asyncpg.UniqueViolationError:
                raise self._name_taken(props.slug, props.custom_domain) from None
            await o.events.emit(
                "website_updated",
                {"site_id": str(site_id), "slug": props.slug, "changed": changed},
                target_id=site_id,
            )
            if "custom_domain" in changed:
                await o.events.emit(
                    "domain_configured",
                    {"site_id": str(site_id), "domain": props.custom_domain,
                     "previous": before.get("custom_domain")},
                    target_id=site_id,
                )  # fmt: skip
            # The site's look and addresses are part of every live page: render them again
            # from the revisions that are live (their content does not change).
            await self._rerender_live(o, site)
        await self.purge.publish(site_id)
        return self.site_view(site)

    async def delete_site(
        self, group: sdk.GroupContext, site_id: UUID, expected_version: int | None = None
    ) -> None:
        group.require("website.manage")
        site = await self.get_site_thing(group, site_id)
        async with self._transaction(group) as o:
            site = await self._lock_site(o, site_id)  # nothing is created or published meanwhile
            pages = await self._site_pages(o, site_id)
            for page in pages:
                await o.things.delete(page.id)
            async with o.session.transaction() as conn:
                await LivePages.remove_site(conn, site_id)
            await o.things.delete(site_id, expected_version=expected_version)
            props = msgspec.convert(site.properties, WebsiteProps)
            await o.events.emit(
                "website_updated",
                {"site_id": str(site_id), "slug": props.slug, "changed": ["deleted"]},
                target_id=site_id,
            )
        await self.purge.publish(site_id)

    async def _check_public_names(
        self, slug: str | None, domain: str | None, site_id: UUID | None
    ) -> None:
        if domain is not None and _is_platform_name(domain.lower(), self.platform):
            raise sdk.ValidationFailed(
                f"{domain!r} is this platform's own address (or under it), not a domain of "
                "your own",
                field="custom_domain",
            )
        if slug is not None and await self.live.slug_taken(slug, except_id=site_id):
            raise self._name_taken(slug, None)
        if domain is not None and await self.live.domain_taken(domain, except_id=site_id):
            raise self._name_taken(None, domain)

    @staticmethod
    def _name_taken(slug: str | None, domain: str | None) -> sdk.Conflict:
        if domain and not slug:
            return sdk.Conflict(
                f"the domain {domain!r} is already used by another website", field="custom_domain"
            )
        return sdk.Conflict(
            f"the address {slug!r} is taken by another website; choose another slug",
            field="slug",
        )

    # -- pages ----------------------------------------------------------------------------

    async def _site_pages(self, o: sdk.ScopedOntology, site_id: UUID) -> list[sdk.Thing]:
        return await sdk.every_item(o.things.list, type="page", where={"site_id": str(site_id)})

    async def list_pages(
        self, group: sdk.GroupContext, site_id: UUID, cursor: str | None, limit: int
    ) -> tuple[sdk.Thing, sdk.Page[sdk.Thing]]:
        site = await self.get_site_thing(group, site_id)
        page = await group.stores.things.list(
            type="page", where={"site_id": str(site_id)}, cursor=cursor, limit=limit
        )
        return site, page

    async def get_page(
        self, group: sdk.GroupContext, site_id: UUID, page_id: UUID
    ) -> tuple[sdk.Thing, sdk.Thing]:
        site = await self.get_site_thing(group, site_id)
        try:
            page = await group.stores.things.get(page_id, type="page")
        except sdk.NotFound:
            page = None
        if page is None or page.properties.get("site_id") != str(site_id):
            raise sdk.NotFound(f"page {page_id} not found in website {site_id}")
        return site, page

    async def create_page(self, group: sdk.GroupContext, site_id: UUID, data: PageIn) -> PageView:
        group.require("website.manage")
        await self.get_site_thing(group, site_id)
        tree = self.components.validate_tree(data.tree or [])
        async with self._transaction(group) as o:
            site = await self._lock_site(o, site_id)
            await self.platform.quotas.check(group.scope, "pages", within=o, parent_id=site_id)
            await self._check_page_slug(o, site_id, data.slug, None)
            page = await self._create_page(
                o, site, data.title, data.slug, data.seo or Seo(), tree, "created"
            )
        return self.page_view(page, site)

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
        count = await self._page_count(o, site.id)
        await o.connections.create("contains", site.id, page.id, {"position": count})
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
            changes["tree"] = self.components.validate_tree(changes["tree"])
        seo_patch = changes.pop("seo", None)
        summary = "edited " + ", ".join([*changes, *(["seo"] if seo_patch else [])])

        def change(props: PageProps) -> dict[str, Any]:
            if seo_patch is None:
                return changes
            merged = {**msgspec.to_builtins(props.seo), **msgspec.to_builtins(seo_patch)}
            seo = msgspec.convert(sdk.validate_object(Seo, merged, "seo"), Seo)
            return {**changes, "seo": seo}

        return await self._edit(group, site_id, page_id, expected_version, summary, change)

    async def delete_page(
        self, group: sdk.GroupContext, site_id: UUID, page_id: UUID, expected_version: int | None
    ) -> None:
        group.require("website.manage")
        await self.get_page(group, site_id, page_id)
        async with self._transaction(group) as o:
            # The site's lock, then the page's row, as publish does: one after the other.
            await self._lock_site(o, site_id)
            await self._locked_page(o, site_id, page_id, expected_version)
            async with o.session.transaction() as conn:
                was_live = await LivePages.remove(conn, page_id)
            await o.things.delete(page_id)
        if was_live:
            await self.purge.publish(site_id)

    async def duplicate_page(
        self, group: sdk.GroupContext, site_id: UUID, page_id: UUID, data: DuplicateIn
    ) -> PageView:
        group.require("website.manage")
        _, source = await self.get_page(group, site_id, page_id)
        props = msgspec.convert(source.properties, PageProps)
        tree = _fresh_ids(props.tree)
        async with self._transaction(group) as o:
            site = await self._lock_site(o, site_id)
            await self.platform.quotas.check(group.scope, "pages", within=o, parent_id=site_id)
            await self._check_page_slug(o, site_id, data.slug, None)
            page = await self._create_page(
                o, site, data.title or f"{props.title} (copy)", data.slug, props.seo, tree,
                f"duplicated from {props.slug}",
            )  # fmt: skip
        return self.page_view(page, site)

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
        component = self.components.get(data.type)
        props = self.components.defaults(data.type)
        if data.props:
            props = self.components.validate_props(data.type, {**props, **data.props}, "props")
        from plugins.website.components import new_node_id

        node = Node(id=new_node_id(), type=component.type, props=props)

        def change(page: PageProps) -> dict[str, Any]:
            tree = _copy(page.tree)
            siblings = _children_of(tree, data.parent_id, self.components)
            position = len(siblings) if data.position is None else min(data.position, len(siblings))
            siblings.insert(position, node)
            return {"tree": self.components.validate_tree(tree)}

        event = {"node_id": node.id, "component": node.type, "parent_id": data.parent_id}
        view = await self._edit(
            group, site_id, page_id, expected_version, f"added {component.label.lower()}",
            change, extra_event=("component_added", event),
        )  # fmt: skip
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

        def change(page: PageProps) -> dict[str, Any]:
            tree = _copy(page.tree)
            node = _find(tree, node_id)
            defaults = self.components.defaults(node.type)
            merged = {**node.props, **data.props}
            for key, value in data.props.items():
                if value is None:
                    merged[key] = defaults.get(key)
            node.props = self.components.validate_props(node.type, merged, "props")
            return {"tree": tree}

        return await self._edit(group, site_id, page_id, expected_version, "edited component",
                                change)  # fmt: skip

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

        def change(page: PageProps) -> dict[str, Any]:
            tree = _copy(page.tree)
            node = _find(tree, node_id)
            if data.parent_id is not None and (
                data.parent_id == node_id
                or any(n.id == data.parent_id for n in walk_tree(node.children))
            ):
                raise sdk.ValidationFailed("a component cannot move into itself", field="parent_id")
            _remove(tree, node_id)
            siblings = _children_of(tree, data.parent_id, self.components)
            siblings.insert(min(data.position, len(siblings)), node)
            return {"tree": self.components.validate_tree(tree)}

        return await self._edit(group, site_id, page_id, expected_version, "moved component",
                                change)  # fmt: skip

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
            tree = _copy(page.tree)
            _find(tree, node_id)
            _remove(tree, node_id)
            return {"tree": tree}

        return await self._edit(group, site_id, page_id, expected_version, "removed component",
                                change)  # fmt: skip

    # -- saving ---------------------------------------------------------------------------

    async def _edit(
        self,
        group: sdk.GroupContext,
        site_id: UUID,
        page_id: UUID,
        expected_version: int | None,
        summary: str,
        change: Any,
        extra_event: tuple[str, dict[str, Any]] | None = None,
    ) -> PageView:
        """Load the page locked, apply ``change(props) -> {field: value}``, and save it as a
        new revision, with ``page_updated`` naming what changed."""
        await self.get_site_thing(group, site_id)
        async with self._transaction(group) as o:
            site = await self._lock_site(o, site_id)
            page = await self._locked_page(o, site_id, page_id, expected_version)
            props = msgspec.convert(page.properties, PageProps)
            changes = change(props)
            if "slug" in changes and changes["slug"] != props.slug:
                await self._check_page_slug(o, site_id, changes["slug"], page_id)
            old_tree = props.tree
            changed = [k for k, v in changes.items() if getattr(props, k) != v]
            if not changed:
                return self.page_view(page, site)
            for key in changed:
                setattr(props, key, changes[key])
            props.revision += 1
            page = await o.things.update(
                page_id, name=props.title, properties=msgspec.to_builtins(props),
                replace_properties=True,
            )  # fmt: skip
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
        return self.page_view(page, site)

    async def _locked_page(
        self,
        o: sdk.ScopedOntology,
        site_id: UUID,
        page_id: UUID,
        expected_version: int | None = None,
    ) -> sdk.Thing:
        async with o.session.transaction() as conn:
            # Row lock: two saves of one page run one after the other, each on the other's
            # result, so no edit is lost and revision numbers never repeat.
            await conn.execute(
                "SELECT 1 FROM things WHERE group_id = $1 AND id = $2 FOR UPDATE",
                o.scope.group_id, page_id,
            )  # fmt: skip
        try:
            page = await o.things.get(page_id, type="page")
        except sdk.NotFound:
            page = None
        if page is None or page.properties.get("site_id") != str(site_id):
            raise sdk.NotFound(f"page {page_id} not found in website {site_id}")
        if expected_version is not None and page.version != expected_version:
            raise sdk.PreconditionFailed(
                f"page {page_id} is at version {page.version}, not {expected_version}; "
                "reload it and apply your change again",
                current_version=page.version,
            )
        return page

    async def _keep_revision(
        self, o: sdk.ScopedOntology, page: sdk.Thing, props: PageProps, summary: str
    ) -> None:
        actor = o.scope.person_id
        await o.things.create(
            "page_revision",
            name=f"{props.title} — revision {props.revision}",
            properties={
                "page_id": str(page.id), "number": props.revision, "slug": props.slug,
                "title": props.title, "seo": msgspec.to_builtins(props.seo),
                "tree": msgspec.to_builtins(props.tree),
                "author_id": str(actor) if actor else None, "summary": summary[:300],
            },
        )  # fmt: skip

    async def _sync_media(
        self, o: sdk.ScopedOntology, page_id: UUID, old: list[Node], new: list[Node]
    ) -> None:
        """Keep ``page uses media_asset`` connections in step with the tree's images."""
        before, after = _asset_ids(old), _asset_ids(new)
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

    async def _page_count(self, o: sdk.ScopedOntology, site_id: UUID) -> int:
        links = await o.connections.list(type="contains", from_id=site_id, limit=200)
        return len(links.items)

    async def _check_page_slug(
        self, o: sdk.ScopedOntology, site_id: UUID, slug: str, page_id: UUID | None
    ) -> None:
        found = await o.things.list(
            type="page", where={"site_id": str(site_id), "slug": slug}, limit=2
        )
        taken = any(p.id != page_id for p in found.items)
        if not taken:
            # A renamed page stays live at its old slug until it is published again.
            async with o.session.transaction() as conn:
                live = await conn.fetchval(
                    "SELECT page_id FROM website_live_pages WHERE site_id = $1 AND slug = $2",
                    site_id, slug,
                )  # fmt: skip
            taken = live is not None and live != page_id
        if taken:
            raise sdk.Conflict(
                f"this website already has a page at {slug!r}; choose another slug",
                field="slug",
            )

    @staticmethod
    async def _lock_site(o: sdk.ScopedOntology, site_id: UUID) -> sdk.Thing:
        """Take the site's lock for this transaction and read the site under it.

        Everything that changes what the site serves — creating, publishing, deleting
        pages, changing the site's settings — holds it (site first, then a page's row), so
        those run one after the other and none works from a stale site."""
        async with o.session.transaction():
            await o.session.lock("website", site_id)
        try:
            return await o.things.get(site_id, type="website")
        except sdk.NotFound:
            raise sdk.NotFound(f"website {site_id} not found") from None

    def _transaction(self, group: sdk.GroupContext) -> Any:
        return self.platform.ontology.transaction(group.scope)

    # -- revisions ------------------------------------------------------------------------

    async def list_revisions(
        self, group: sdk.GroupContext, site_id: UUID, page_id: UUID, cursor: str | None,
        limit: int,
    ) -> sdk.Page[RevisionView]:  # fmt: skip
        await self.get_page(group, site_id, page_id)
        found = await group.stores.things.list(
            type="page_revision", where={"page_id": str(page_id)}, cursor=cursor, limit=limit
        )
        items = [_revision_view(t, full=False) for t in found.items]
        return sdk.Page(items=items, next_cursor=found.next_cursor)

    async def _revision(self, stores: sdk.ScopedOntology, page_id: UUID, number: int) -> sdk.Thing:
        found = await stores.things.list(
            type="page_revision", where={"page_id": str(page_id), "number": number}, limit=1
        )
        if not found.items:
            raise sdk.NotFound(f"page {page_id} has no revision {number}")
        return found.items[0]

    async def get_revision(
        self, group: sdk.GroupContext, site_id: UUID, page_id: UUID, number: int
    ) -> RevisionView:
        await self.get_page(group, site_id, page_id)
        return _revision_view(await self._revision(group.stores, page_id, number), full=True)

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
        await self.get_page(group, site_id, page_id)
        old = msgspec.convert(
            (await self._revision(group.stores, page_id, number)).properties, RevisionFields
        )
        tree = self.components.validate_tree(old.tree)

        def change(page: PageProps) -> dict[str, Any]:
            return {"title": old.title, "slug": old.slug, "seo": old.seo, "tree": tree}

        return await self._edit(group, site_id, page_id, expected_version,
                                f"restored revision {number}", change)  # fmt: skip

    # -- publishing -----------------------------------------------------------------------

    async def render_tree(
        self, stores: sdk.ScopedOntology, site: sdk.Thing, tree: list[Node], *, editing: bool
    ) -> Markup:
        props = msgspec.convert(site.properties, WebsiteProps)
        media = await self.media.refs(stores, _asset_ids(tree))
        ctx = RenderContext(
            site_url=self.site_base_url(props), editing=editing, media=media,
            language=props.language,
        )  # fmt: skip
        return self.components.render(tree, ctx)

    async def _document(
        self, stores: sdk.ScopedOntology, site: sdk.Thing, page: PageProps, *, preview: bool,
        published_at: datetime | None = None, updated_at: datetime | None = None,
    ) -> str:  # fmt: skip
        site_props = msgspec.convert(site.properties, WebsiteProps)
        body = await self.render_tree(stores, site, page.tree, editing=False)
        info = render.PageInfo(
            id="", slug=page.slug, title=page.title, seo=page.seo,
            is_home=page.slug == site_props.settings.home_page,
            published_at=published_at, updated_at=updated_at,
        )  # fmt: skip
        return render.page_document(
            self._site_info(site), info, body, self.theme(site_props.theme), preview=preview
        )

    async def preview(self, group: sdk.GroupContext, site_id: UUID, page_id: UUID) -> str:
        """The draft as it would look published (never cached, never indexed)."""
        site, page = await self.get_page(group, site_id, page_id)
        props = msgspec.convert(page.properties, PageProps)
        return await self._document(group.stores, site, props, preview=True)

    async def canvas(self, group: sdk.GroupContext, site_id: UUID, page_id: UUID) -> str:
        """The draft's components with the builder's markers, for the editor's canvas."""
        site, page = await self.get_page(group, site_id, page_id)
        props = msgspec.convert(page.properties, PageProps)
        return str(await self.render_tree(group.stores, site, props.tree, editing=True))

    async def publish(
        self, group: sdk.GroupContext, site_id: UUID, page_id: UUID,
        expected_version: int | None = None,
    ) -> PageView:  # fmt: skip
        """Render the draft once and make it the live page (``page_published``)."""
        group.require("website.publish")
        await self.get_site_thing(group, site_id)
        async with self._transaction(group) as o:
            site = await self._lock_site(o, site_id)
            page = await self._locked_page(o, site_id, page_id, expected_version)
            props = msgspec.convert(page.properties, PageProps)
            problems = await self.components.publish_problems(props.tree, o)
            if problems:
                raise PublishBlocked(
                    f"fix {len(problems)} problem(s) before publishing: "
                    + "; ".join(p["problem"] for p in problems[:3]),
                    field="tree", problems=problems,
                )  # fmt: skip
            now = datetime.now(UTC)
            html = await self._document(o, site, props, preview=False, published_at=now,
                                        updated_at=now)  # fmt: skip
            async with o.session.transaction() as conn:
                await LivePages.put(
                    conn, group_id=group.group_id, site_id=site_id, page_id=page_id,
                    slug=props.slug, title=props.title, description=props.seo.description,
                    noindex=props.seo.noindex, revision=props.revision, html=html,
                )  # fmt: skip
            props.published_revision = props.revision
            props.published_at = now.isoformat()
            page = await o.things.update(
                page_id, status="published", properties=msgspec.to_builtins(props),
                replace_properties=True,
            )  # fmt: skip
            await o.events.emit(
                "page_published",
                {"site_id": str(site_id), "page_id": str(page_id), "slug": props.slug,
                 "revision": props.revision},
                target_id=page_id,
            )  # fmt: skip
        await self.purge.publish(site_id)
        return self.page_view(page, site)

    async def unpublish(
        self, group: sdk.GroupContext, site_id: UUID, page_id: UUID,
        expected_version: int | None = None,
    ) -> PageView:  # fmt: skip
        group.require("website.publish")
        await self.get_site_thing(group, site_id)
        async with self._transaction(group) as o:
            site = await self._lock_site(o, site_id)
            page = await self._locked_page(o, site_id, page_id, expected_version)
            props = msgspec.convert(page.properties, PageProps)
            if props.published_revision is None:
                return self.page_view(page, site)
            async with o.session.transaction() as conn:
                await LivePages.remove(conn, page_id)
            props.published_revision = None
            props.published_at = None
            page = await o.things.update(
                page_id, status="draft", properties=msgspec.to_builtins(props),
                replace_properties=True,
            )  # fmt: skip
            await o.events.emit(
                "page_unpublished",
                {"site_id": str(site_id), "page_id": str(page_id), "slug": props.slug,
                 "revision": props.revision},
                target_id=page_id,
            )  # fmt: skip
        await self.purge.publish(site_id)
        return self.page_view(page, site)

    async def _rerender_live(self, o: sdk.ScopedOntology, site: sdk.Thing) -> None:
        async with o.session.transaction() as conn:
            live = await LivePages.of_site(conn, site.id)
        for entry in live:
            revision = await self._revision(o, entry.page_id, entry.revision)
            old = msgspec.convert(revision.properties, RevisionFields)
            props = PageProps(
                site_id=str(site.id), slug=old.slug, title=old.title, seo=old.seo, tree=old.tree
            )
            html = await self._document(
                o, site, props, preview=False, published_at=entry.published_at,
                updated_at=entry.published_at,
            )  # fmt: skip
            async with o.session.transaction() as conn:
                await LivePages.put(
                    conn, group_id=o.scope.group_id, site_id=site.id, page_id=entry.page_id,
                    slug=entry.slug, title=entry.title, description=entry.description,
                    noindex=entry.noindex, revision=entry.revision, html=html,
                    published_at=entry.published_at,
                )  # fmt: skip


def platform_hosts(platform: sdk.Platform) -> frozenset[str]:
    """The host names of the platform itself: never a site's custom domain."""
    hosts = {"localhost", "127.0.0.1", "::1", platform.settings.host.lower()}
    public = urlsplit(platform.settings.base_url).hostname
    if public:
        hosts.add(public.lower())
    return frozenset(hosts)


def _is_platform_name(domain: str, platform: sdk.Platform) -> bool:
    """The platform's own host names and every name under them (``login.<platform>``)."""
    return any(
        domain == host or domain.endswith("." + host)
        for host in platform_hosts(platform)
        if "." in host and not host.replace(".", "").isdigit()
    ) or domain in platform_hosts(platform)


class RevisionFields(msgspec.Struct):
    """The content fields of a ``page_revision``."""

    slug: str
    title: str
    seo: Seo = msgspec.field(default_factory=Seo)
    tree: list[Node] = msgspec.field(default_factory=list)


def _revision_view(thing: sdk.Thing, *, full: bool) -> RevisionView:
    p = thing.properties
    return RevisionView(
        id=str(thing.id), page_id=p["page_id"], number=p["number"], title=p["title"],
        slug=p["slug"], summary=p.get("summary", ""), author_id=p.get("author_id"),
        created_at=_iso(thing.created_at),
        seo=msgspec.convert(p.get("seo", {}), Seo) if full else None,
        tree=msgspec.convert(p.get("tree", []), list[Node]) if full else None,
    )  # fmt: skip


# -- tree editing helpers -----------------------------------------------------------------


def _copy(tree: list[Node]) -> list[Node]:
    return msgspec.convert(msgspec.to_builtins(tree), list[Node])


def _fresh_ids(tree: list[Node]) -> list[Node]:
    from plugins.website.components import new_node_id

    copied = _copy(tree)
    for node in walk_tree(copied):
        node.id = new_node_id()
    return copied


def _find(tree: list[Node], node_id: str) -> Node:
    for node in walk_tree(tree):
        if node.id == node_id:
            return node
    raise sdk.NotFound(f"component {node_id} is not on this page")


def _remove(tree: list[Node], node_id: str) -> bool:
    for index, node in enumerate(tree):
        if node.id == node_id:
            del tree[index]
            return True
        if _remove(node.children, node_id):
            return True
    return False


def _children_of(
    tree: list[Node], parent_id: str | None, components: ComponentRegistry
) -> list[Node]:
    if parent_id is None:
        return tree
    parent = _find(tree, parent_id)
    if not components.get(parent.type).container:
        raise sdk.ValidationFailed(
            f"a {parent.type} cannot hold other components", field="parent_id"
        )
    return parent.children


def _asset_ids(tree: Iterable[Node]) -> set[str]:
    return {
        str(node.props["asset_id"])
        for node in walk_tree(tree)
        if isinstance(node.props.get("asset_id"), str) and node.props["asset_id"]
    }

"""What every website service shares: the registries it was built with, the views it
answers with, reading a site or page of the caller's group, and the locks and
transaction every write takes.

One :class:`WebsiteContext` is built per running platform, in the plugin's ``startup``;
:class:`~plugins.website.services.sites.Sites`,
:class:`~plugins.website.services.pages.Pages`,
:class:`~plugins.website.services.revisions.Revisions` and
:class:`~plugins.website.services.publishing.Publishing` each hold it.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

import msgspec

import sdk
from plugins.website import render
from plugins.website.cache import PurgeListener
from plugins.website.components import ComponentRegistry, MediaRef
from plugins.website.live import DOMAIN_NAME, LivePages
from plugins.website.themes import Theme
from plugins.website.types import (
    ComponentView,
    DomainRecord,
    DomainView,
    Node,
    PageProps,
    PageView,
    Seo,
    WebsiteProps,
    WebsiteView,
)


class PublishBlocked(sdk.ValidationFailed):
    """The page has problems that must be fixed before it goes live (``problems`` lists
    them per component)."""

    code = "publish_blocked"
    title = "Page cannot be published yet"


class MediaLookup(Protocol):
    """Turns media asset ids into public URLs (the media module's library is one)."""

    async def refs(self, stores: sdk.ScopedOntology, ids: set[str]) -> dict[str, MediaRef]: ...


class RevisionFields(msgspec.Struct):
    """The content fields of a ``page_revision``."""

    slug: str
    title: str
    seo: Seo = msgspec.field(default_factory=Seo)
    tree: list[Node] = msgspec.field(default_factory=list)


#: Where a custom domain's verification record lives, and how its value starts.
VERIFY_RECORD_PREFIX = "_creator-verify."
VERIFY_VALUE_PREFIX = "creator-verify="


def domain_record(domain: str, token: str | None) -> DomainRecord:
    """The TXT record that verifies ``domain`` for the site holding ``token`` (a site
    from before tokens gets its token at its first verification)."""
    return DomainRecord(
        name=VERIFY_RECORD_PREFIX + domain,
        type="TXT",
        value=VERIFY_VALUE_PREFIX + token if token else "",
    )


def iso(value: datetime | None) -> str:
    return value.isoformat() if value else ""


def is_platform_name(domain: str, platform: sdk.Platform) -> bool:
    """The platform's own host names (its address, ``public_sites_origin``'s) and every
    name under them (``login.<platform>``)."""
    own = platform.hosts.own_names()
    return domain in own or any(
        domain.endswith("." + host)
        for host in own
        if "." in host and not host.replace(".", "").isdigit()
    )


class WebsiteContext:
    """The website plugin's shared state and reads. One instance per running platform."""

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
        return f"{self.platform.hosts.sites_url}/sites/{slug}"

    def site_view(self, thing: sdk.Thing, claim: sdk.PublicName | None = None) -> WebsiteView:
        """The site as the API shows it; with ``claim`` (its custom domain's public name),
        the domain's verification status and the record that verifies it."""
        props = msgspec.convert(thing.properties, WebsiteProps)
        domain = None
        if props.custom_domain and claim is not None and claim.name == props.custom_domain.lower():
            domain = DomainView(
                name=claim.name,
                status=claim.status,
                verified_at=claim.verified_at.isoformat() if claim.verified_at else None,
                record=domain_record(claim.name, props.domain_token),
            )
        return WebsiteView(
            id=str(thing.id),
            name=thing.name,
            slug=props.slug,
            theme=props.theme,
            custom_domain=props.custom_domain,
            description=props.description,
            language=props.language,
            settings=props.settings,
            version=thing.version,
            url=self.site_base_url(props) + "/",
            created_at=iso(thing.created_at),
            updated_at=iso(thing.updated_at),
            domain=domain,
        )

    async def site_views(
        self, stores: sdk.ScopedOntology, things: list[sdk.Thing]
    ) -> list[WebsiteView]:
        """:meth:`site_view` of each site, with its domain's claim read from the registry."""
        views = []
        for thing in things:
            claim = None
            if thing.properties.get("custom_domain"):
                claims = await stores.names.of_thing(thing.id, DOMAIN_NAME)
                claim = claims[0] if claims else None
            views.append(self.site_view(thing, claim))
        return views

    async def full_site_view(self, stores: sdk.ScopedOntology, thing: sdk.Thing) -> WebsiteView:
        return (await self.site_views(stores, [thing]))[0]

    def page_view(self, thing: sdk.Thing, site: sdk.Thing) -> PageView:
        props = msgspec.convert(thing.properties, PageProps)
        site_props = msgspec.convert(site.properties, WebsiteProps)
        is_home = props.slug == site_props.settings.home_page
        return PageView(
            id=str(thing.id),
            site_id=props.site_id,
            slug=props.slug,
            title=props.title,
            status=thing.status,
            seo=props.seo,
            tree=props.tree,
            revision=props.revision,
            published_revision=props.published_revision,
            published_at=props.published_at,
            has_unpublished_changes=props.published_revision != props.revision,
            version=thing.version,
            url=render.page_url(self.site_info(site), props.slug, is_home),
            created_at=iso(thing.created_at),
            updated_at=iso(thing.updated_at),
        )

    def site_info(self, site: sdk.Thing) -> render.SiteInfo:
        props = msgspec.convert(site.properties, WebsiteProps)
        return render.SiteInfo(
            id=str(site.id),
            name=site.name,
            slug=props.slug,
            description=props.description,
            language=props.language,
            settings=props.settings,
            base_url=self.site_base_url(props),
        )

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

    # -- reads in the caller's group ------------------------------------------------------

    async def get_site_thing(self, group: sdk.GroupContext, site_id: UUID) -> sdk.Thing:
        group.require("website.read")
        try:
            return await group.stores.things.get(site_id, type="website")
        except sdk.NotFound:
            raise sdk.NotFound(f"website {site_id} not found") from None

    async def get_page_things(
        self, group: sdk.GroupContext, site_id: UUID, page_id: UUID
    ) -> tuple[sdk.Thing, sdk.Thing]:
        """The site and one of its pages (404 for a page of another site)."""
        site = await self.get_site_thing(group, site_id)
        try:
            page = await group.stores.things.get(page_id, type="page")
        except sdk.NotFound:
            page = None
        if page is None or page.properties.get("site_id") != str(site_id):
            raise sdk.NotFound(f"page {page_id} not found in website {site_id}")
        return site, page

    @staticmethod
    async def revision_thing(stores: sdk.ScopedOntology, page_id: UUID, number: int) -> sdk.Thing:
        found = await stores.things.list(
            type="page_revision", where={"page_id": str(page_id), "number": number}, limit=1
        )
        if not found.items:
            raise sdk.NotFound(f"page {page_id} has no revision {number}")
        return found.items[0]

    # -- writing --------------------------------------------------------------------------

    def transaction(
        self, group: sdk.GroupContext
    ) -> AbstractAsyncContextManager[sdk.ScopedOntology]:
        return self.platform.ontology.transaction(group.scope)

    @staticmethod
    async def lock_site(o: sdk.ScopedOntology, site_id: UUID) -> sdk.Thing:
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

    @staticmethod
    async def locked_page(
        o: sdk.ScopedOntology,
        site_id: UUID,
        page_id: UUID,
        expected_version: int | None = None,
    ) -> sdk.Thing:
        """The page, its row locked for this transaction (taken after the site's lock)."""
        try:
            # Row lock: two saves of one page run one after the other, each on the other's
            # result, so no edit is lost and revision numbers never repeat.
            page = await o.things.get(page_id, type="page", for_update=True)
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

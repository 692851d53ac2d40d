"""The website plugin: everything it registers, at a glance.

Types: ``website``, ``page``, ``page_revision``, ``media_asset``; connections
``contains`` (website → page) and ``uses`` (page → media_asset); events for sites, pages,
domains, components and uploads; quotas (websites, pages per website, uploads a month);
its own hooks (``register_components``, ``register_themes``, ``register_media_storage``);
the API, the public pages, the builder UI and their static files; and core's
``public_url_group`` (which group's site a public URL shows).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from uuid import UUID

from litestar import Litestar
from piccolo.conf.apps import AppConfig

import sdk
from plugins.website import hookspecs, shell
from plugins.website.api import ROUTES as API_ROUTES
from plugins.website.builder import BUILDER_ROUTES
from plugins.website.cache import PageCache, PurgeListener
from plugins.website.components import BUILTIN_COMPONENTS, ComponentRegistry
from plugins.website.live import LivePages
from plugins.website.media.library import MediaLibrary
from plugins.website.media.routes import MEDIA_ROUTES
from plugins.website.media.screen import SCREEN_ROUTES as MEDIA_SCREEN_ROUTES
from plugins.website.media.storage import LocalStorage, storage_for
from plugins.website.public import PUBLIC_ROUTES, group_serving
from plugins.website.services import WebsiteContext, Websites
from plugins.website.services.domains import (
    RECHECK_JOB,
    RECHECK_TIMEOUT_SECONDS,
    recheck_domains,
)
from plugins.website.settings import load as load_settings
from plugins.website.settings import media_dir
from plugins.website.themes import BUILTIN_THEMES, Theme
from plugins.website.types import (
    ComponentAdded,
    ContainsMeta,
    DomainConfigured,
    DomainVerification,
    MediaAssetProps,
    MediaUploaded,
    PageEvent,
    PageProps,
    PageRevisionProps,
    WebsiteEvent,
    WebsiteProps,
)
from sdk import (
    ConnectionCount,
    ConnectionType,
    EventCount,
    EventType,
    Job,
    Quota,
    ThingCount,
    ThingType,
    hookimpl,
)

HERE = Path(__file__).parent
#: Thing types only this plugin's services write (their trees and live pages must stay in
#: step); the generic things API may read them but not change them.
OWN_TYPES = frozenset({"website", "page", "page_revision", "media_asset"})
#: Connection types only its services make or end (the pages quota counts ``contains``).
OWN_CONNECTIONS = frozenset({"contains", "uses"})
GENERIC_WRITES = frozenset({"thing.create", "thing.update", "thing.delete"})
GENERIC_LINKS = frozenset({"connection.create", "connection.delete"})


@hookimpl
def register_hookspecs(plugin_manager: sdk.PluginManager) -> None:
    plugin_manager.add_hookspecs(hookspecs)


@hookimpl
def register_migrations() -> list[AppConfig]:
    return [AppConfig(app_name="website", migrations_folder_path=str(HERE / "migrations"))]


@hookimpl
def register_thing_types() -> list[ThingType]:
    return [
        ThingType("website", WebsiteProps, "A creator's website"),
        ThingType(
            "page",
            PageProps,
            "A page of a website",
            statuses=("draft", "published"),
            # The thing is the draft; the public reads the live page, not this.
            public_properties=("site_id", "published_revision", "published_at"),
            public_name=False,
        ),
        ThingType("page_revision", PageRevisionProps, "A page as one save left it"),
        ThingType("media_asset", MediaAssetProps, "An uploaded file (image, document)"),
    ]


@hookimpl
def register_connection_types() -> list[ConnectionType]:
    return [
        ConnectionType(
            "contains",
            ("website",),
            ("page",),
            ContainsMeta,
            description="A website contains a page",
        ),
        ConnectionType(
            "uses", ("page",), ("media_asset",), description="A page shows a media asset"
        ),
    ]


@hookimpl
def register_event_types() -> list[EventType]:
    return [
        EventType("website_created", WebsiteEvent, "A website was created"),
        EventType("website_updated", WebsiteEvent, "A website changed (or was deleted)"),
        EventType("domain_configured", DomainConfigured, "A custom domain was set or removed"),
        EventType("domain_verified", DomainVerification, "A custom domain's DNS record was found"),
        EventType(
            "domain_verification_failed",
            DomainVerification,
            "A verified custom domain's DNS record is gone: it is pending (not served) again",
        ),
        EventType("page_created", PageEvent, "A page was created"),
        EventType("page_updated", PageEvent, "A page's draft was saved (changed: what changed)"),
        EventType("page_published", PageEvent, "A page's draft went live"),
        EventType("page_unpublished", PageEvent, "A live page was taken offline"),
        EventType("component_added", ComponentAdded, "A component was added to a page"),
        EventType("media_uploaded", MediaUploaded, "A file was uploaded"),
    ]


@hookimpl
def register_jobs() -> list[Job]:
    # Hourly: a domain whose record appeared is served within the hour, and one whose
    # record is gone stops being served as soon.
    return [
        Job(
            recheck_domains,
            name=RECHECK_JOB,
            cron={"minute": 17},
            max_tries=2,
            timeout_seconds=RECHECK_TIMEOUT_SECONDS,
        )
    ]


@hookimpl
def register_quotas() -> list[Quota]:
    return [
        Quota("websites", {"free": 5}, "Websites per creator", ThingCount("website")),
        Quota(
            "pages", {"free": 50}, "Pages per website", ConnectionCount("contains", to_type="page")
        ),
        Quota(
            "media_uploads",
            {"free": 100},
            "Media uploads per month",
            EventCount("media_uploaded", period="month"),
        ),
    ]


@hookimpl
def register_components() -> list[Any]:
    return list(BUILTIN_COMPONENTS)


@hookimpl
def register_themes() -> list[Any]:
    return list(BUILTIN_THEMES)


@hookimpl
def register_media_storage() -> list[Any]:
    return [LocalStorage]


@hookimpl
def permission_allowed(scope: sdk.Scope, action: str, resource: sdk.Resource | None) -> bool | None:
    if resource is None:
        return None
    if action in GENERIC_WRITES and resource.type in OWN_TYPES:
        return False  # through the website API only
    if action in GENERIC_LINKS and resource.type in OWN_CONNECTIONS:
        return False
    return None


@hookimpl
def register_routes() -> list[Any]:
    return [*API_ROUTES, *MEDIA_ROUTES, *PUBLIC_ROUTES, *BUILDER_ROUTES, *MEDIA_SCREEN_ROUTES]


@hookimpl
def register_nav() -> list[sdk.NavItem]:
    return list(shell.NAV)


@hookimpl
def register_dashboard_widgets() -> list[sdk.DashboardWidget]:
    return list(shell.WIDGETS)


@hookimpl
def register_settings_pages() -> list[sdk.SettingsPage]:
    return list(shell.SETTINGS)


@hookimpl
def register_templates() -> list[str]:
    return [str(HERE / "templates")]


@hookimpl
def register_static() -> list[sdk.StaticFiles]:
    return [sdk.StaticFiles("/static/website", HERE / "static")]


@hookimpl
async def public_url_group(app: Litestar, url: str) -> UUID | None:
    return await group_serving(app, url)


@hookimpl
async def startup(app: Litestar) -> None:
    platform: sdk.Platform = app.state.platform
    settings = load_settings(platform)
    components = ComponentRegistry.collect(platform)
    themes: dict[str, Theme] = platform.plugins.collect_unique(
        "register_themes", key=lambda theme: theme.name, what="theme", error=sdk.PlatformError
    )
    storage = storage_for(platform, settings, media_dir(platform, settings))
    cache = PageCache(settings.cache_pages)
    purge = PurgeListener(platform.redis, cache)
    library = MediaLibrary(platform, storage, settings)
    app.state.website = Websites(
        WebsiteContext(platform, components, themes, LivePages(platform.ontology), purge, library)
    )
    app.state.website_settings = settings
    app.state.website_media = library
    purge.start()


@hookimpl
async def shutdown(app: Litestar) -> None:
    websites: Websites | None = getattr(app.state, "website", None)
    if websites is not None:
        await websites.context.purge.stop()

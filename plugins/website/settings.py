"""The website plugin's settings: ``[plugin_settings.website]`` in the TOML file, or
``CREATOR_PLUGIN_SETTINGS='{"website": {...}}'``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import msgspec
from msgspec import Meta

import sdk


class WebsiteSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    #: Which media storage backend keeps uploads (``local``, or one a plugin registers).
    media_storage: str = "local"
    #: Directory of the ``local`` backend; unset means ``<data_dir>/media``.
    media_dir: str | None = None
    #: Largest upload, in bytes (at most 256 MiB, the upload route's fixed body limit).
    media_max_bytes: Annotated[int, Meta(ge=1024, le=256 * 1024 * 1024)] = 10 * 1024 * 1024
    #: Published pages kept in each process's memory (the rest are read from PostgreSQL).
    cache_pages: Annotated[int, Meta(ge=0)] = 2000
    #: ``Cache-Control: max-age`` of published pages, in seconds (revalidated by ETag).
    page_max_age: Annotated[int, Meta(ge=0)] = 60


def load(settings: sdk.Platform) -> WebsiteSettings:
    raw = settings.settings.plugin_settings.get("website", {})
    try:
        return msgspec.convert(raw, WebsiteSettings)
    except msgspec.ValidationError as exc:
        raise sdk.PlatformError(f"invalid plugin_settings.website: {exc}") from None


def media_dir(platform: sdk.Platform, settings: WebsiteSettings) -> Path:
    if settings.media_dir:
        return Path(settings.media_dir).expanduser()
    return Path(platform.settings.data_dir) / "media"

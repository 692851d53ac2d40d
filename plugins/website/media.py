"""Media uploads. (Stub: the media helper replaces this module; keep these names.)"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sdk
from plugins.website.components import MediaRef
from plugins.website.settings import WebsiteSettings


class MediaStorage:
    """Where uploaded bytes live."""

    name = "base"


class LocalStorage(MediaStorage):
    name = "local"

    def __init__(self, directory: Path) -> None:
        self.directory = directory


class MediaLibrary:
    """Uploads, lists and deletes ``media_asset`` things; resolves asset ids to URLs."""

    def __init__(
        self, platform: sdk.Platform, storage: MediaStorage, settings: WebsiteSettings
    ) -> None:
        self.platform = platform
        self.storage = storage
        self.settings = settings

    async def refs(self, stores: sdk.ScopedOntology, ids: set[str]) -> dict[str, MediaRef]:
        return {}


MEDIA_ROUTES: list[Any] = []


def storage_for(platform: sdk.Platform, settings: WebsiteSettings, directory: Path) -> MediaStorage:
    return LocalStorage(directory)

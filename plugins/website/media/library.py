"""The media library: uploading, listing, changing and deleting ``media_asset`` things
(their bytes in a :class:`~plugins.website.media.storage.MediaStorage`), and resolving
asset ids to URLs for the renderer."""

from __future__ import annotations

import logging
import secrets
from uuid import UUID

import msgspec

import sdk
from plugins.website.components import MediaRef
from plugins.website.media.storage import MediaStorage
from plugins.website.media.validation import MAX_REFS, clean_alt, clean_filename, inspect_media
from plugins.website.media.variants import RESIZABLE, Variants, widths_below
from plugins.website.settings import WebsiteSettings
from plugins.website.types import MediaAssetProps, MediaUploaded, MediaView

log = logging.getLogger("creator.website.media")


def _props(thing: sdk.Thing) -> MediaAssetProps:
    return msgspec.convert(thing.properties, MediaAssetProps)


class MediaLibrary:
    """Uploads, lists, changes and deletes ``media_asset`` things; resolves asset ids to
    URLs for the renderer. Reading needs ``website.read``, changing ``website.manage``."""

    def __init__(
        self, platform: sdk.Platform, storage: MediaStorage, settings: WebsiteSettings
    ) -> None:
        self.platform = platform
        self.storage = storage
        self.settings = settings
        self.variants = Variants(storage)

    def view(self, thing: sdk.Thing) -> MediaView:
        props = _props(thing)
        return MediaView(
            id=str(thing.id),
            filename=props.filename,
            content_type=props.content_type,
            size=props.size,
            width=props.width,
            height=props.height,
            alt=props.alt,
            url=self.storage.url(props.storage_key),
            created_at=thing.created_at.isoformat(),
        )

    async def upload(
        self, group: sdk.GroupContext, filename: str | None, data: bytes, alt: str = ""
    ) -> MediaView:
        """Validate, store and record one file; emits ``media_uploaded``. 413 when it is
        larger than ``media_max_bytes``, 415 when its type is not accepted, 429 when the
        group's ``media_uploads`` quota for this month is used up."""
        group.require("website.manage")
        alt = clean_alt(alt)
        limit = self.settings.media_max_bytes
        if len(data) > limit:
            raise sdk.PayloadTooLarge(
                f"the file is larger than the {limit} bytes an upload may have", limit=limit
            )
        if not data:
            raise sdk.ValidationFailed("the file is empty", field="file")
        found = await sdk.run_cpu(inspect_media, data)
        # A hint without the lock, so a group over its quota does not write the file first.
        await self.platform.quotas.check(group.scope, "media_uploads")
        name = clean_filename(filename, found.extension)
        key = f"{group.group_id}/{sdk.uuid7().hex}-{secrets.token_urlsafe(8)}.{found.extension}"
        props = MediaAssetProps(
            filename=name,
            content_type=found.content_type,
            size=len(data),
            storage_key=key,
            storage=self.storage.name,
            sha256=found.sha256,
            width=found.width,
            height=found.height,
            alt=alt,
        )
        # The file first, so no transaction stays open during (possibly remote) IO; it is
        # removed again if the thing is not created.
        await self.storage.save(key, data, found.content_type)
        try:
            async with self.platform.ontology.transaction(group.scope) as o:
                await self.platform.quotas.check(group.scope, "media_uploads", within=o)
                thing = await o.things.create(
                    "media_asset", name=name, properties=msgspec.to_builtins(props)
                )
                event = MediaUploaded(str(thing.id), name, found.content_type, len(data))
                await o.events.emit(
                    "media_uploaded", msgspec.to_builtins(event), target_id=thing.id
                )
        except Exception:
            # Not created (refused by the quota, or rolled back). A cancellation is let
            # through without this: it may come after the commit, and an orphaned file is
            # better than an asset without one.
            await self._discard(key)
            raise
        return self.view(thing)

    async def list(
        self, group: sdk.GroupContext, cursor: str | None = None, limit: int = 50
    ) -> sdk.Page[MediaView]:
        """The group's assets, newest first."""
        group.require("website.read")
        found = await group.stores.things.list(type="media_asset", cursor=cursor, limit=limit)
        return sdk.Page(items=[self.view(t) for t in found.items], next_cursor=found.next_cursor)

    async def get_thing(self, stores: sdk.ScopedOntology, asset_id: UUID) -> sdk.Thing:
        try:
            return await stores.things.get(asset_id, type="media_asset")
        except sdk.NotFound:
            raise sdk.NotFound(f"media asset {asset_id} not found") from None

    async def get(self, group: sdk.GroupContext, asset_id: UUID) -> MediaView:
        group.require("website.read")
        return self.view(await self.get_thing(group.stores, asset_id))

    async def update_alt(self, group: sdk.GroupContext, asset_id: UUID, alt: str) -> MediaView:
        group.require("website.manage")
        alt = clean_alt(alt)
        async with self.platform.ontology.transaction(group.scope) as o:
            await self.get_thing(o, asset_id)
            thing = await o.things.update(asset_id, properties={"alt": alt})
        return self.view(thing)

    async def delete(self, group: sdk.GroupContext, asset_id: UUID) -> None:
        """Soft-delete the asset (its ``uses`` connections end), then, once that has
        committed, remove its file."""
        group.require("website.manage")
        async with self.platform.ontology.transaction(group.scope) as o:
            props = _props(await self.get_thing(o, asset_id))
            await o.things.delete(asset_id)
        # Only a key this group's uploads make: a thing written some other way must not
        # remove another group's file.
        if props.storage == self.storage.name and props.storage_key.startswith(
            f"{group.group_id}/"
        ):
            await self._discard(props.storage_key)
            try:
                await self.variants.delete_all(props.storage_key)
            except Exception:
                log.warning("could not delete variants of %s", props.storage_key, exc_info=True)

    async def _discard(self, key: str) -> None:
        try:
            await self.storage.delete(key)
        except Exception:
            log.warning("could not delete media %s from %s", key, self.storage.name, exc_info=True)

    async def refs(self, stores: sdk.ScopedOntology, ids: set[str]) -> dict[str, MediaRef]:
        """Asset id → its URL, size and alt text, for the ids that name a live asset of the
        stores' group (others are left out)."""
        out: dict[str, MediaRef] = {}
        for raw in sorted(ids)[:MAX_REFS]:
            try:
                asset_id = UUID(raw)
            except (ValueError, TypeError):
                continue
            try:
                thing = await stores.things.get(asset_id, type="media_asset")
            except sdk.NotFound:
                continue
            props = _props(thing)
            url = self.storage.url(props.storage_key)
            # Variants are made by this plugin's /media route: a backend with its own
            # addresses serves originals only.
            resizable = url.startswith("/media/") and props.storage_key.endswith(
                tuple(f".{extension}" for extension in RESIZABLE)
            )
            out[raw] = MediaRef(
                url=url,
                width=props.width,
                height=props.height,
                alt=props.alt,
                widths=tuple(widths_below(props.width)) if resizable else (),
            )
        return out

"""Media uploads: images and PDFs that pages show, kept by a pluggable storage backend.

An upload is validated before anything is stored: its size (``media_max_bytes``), and its
type *sniffed from the bytes* — the client's ``Content-Type`` and file name are never
trusted. PNG, JPEG, GIF and WebP images (opened and verified with Pillow, which also gives
their size; decompression bombs are refused) and PDF documents are accepted; SVG is not
(it can carry scripts), nor is anything else.

The bytes go to a :class:`MediaStorage` under an unguessable key
``<group id>/<uuid7 hex>-<random>.<ext>``; a ``media_asset`` thing records them and a
``media_uploaded`` event is emitted in the same transaction, after the ``media_uploads``
quota is checked under its lock. Anyone may fetch ``/media/<key>`` (published pages show
these files), which is why keys are random and never listed publicly.

Storage backends
----------------

``local`` (:class:`LocalStorage`, a directory: ``media_dir``, by default
``<data_dir>/media``) is built in. Another backend — an S3-compatible object store, say —
is a plugin that implements this plugin's ``register_media_storage`` hook::

    class S3Storage(MediaStorage):
        name = "s3"

        @classmethod
        def create(cls, platform, settings, directory):
            # its own settings: [plugin_settings.website_s3] (the website plugin's table
            # refuses unknown keys); ``directory`` is for local backends and is ignored
            conf = platform.settings.plugin_settings.get("website_s3", {})
            return cls(conf["endpoint"], conf["bucket"], conf.get("public_url", ""))

        async def save(self, key, data, content_type):
            ...  # PUT the object with its Content-Type (any async S3 client, or httpx
            ...  # with SigV4 signing); raise on failure, so the upload is refused

        async def load(self, key):
            ...  # GET it; raise sdk.NotFound when the object does not exist

        async def delete(self, key):
            ...  # DELETE it; a missing object is not an error

        def path(self, key):
            return None  # not on this machine: /media/<key> answers with load()

        def url(self, key):
            # optional: hand out the bucket's (or a CDN's) address so the bytes never
            # pass through this server; the default is /media/<key>
            return f"{self.public_url}/{key}" if self.public_url else super().url(key)

    @hookimpl
    def register_media_storage():
        return [S3Storage]

and is chosen with ``media_storage = "s3"`` under ``[plugin_settings.website]``. Keys are
plain relative paths (``[0-9a-f-]`` directories, a ``[A-Za-z0-9_-]`` name and a
lower-case extension), valid as object names in any store.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import hashlib
import io
import logging
import os
import re
import secrets
import tempfile
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal
from uuid import UUID

import msgspec
from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from litestar.response import File
from msgspec import Meta
from PIL import Image

import sdk
from plugins.website.components import MediaRef
from plugins.website.settings import WebsiteSettings
from plugins.website.types import MediaAssetProps, MediaUploaded, MediaView

log = logging.getLogger("creator.website.media")

# -- what may be uploaded ----------------------------------------------------------------

#: Accepted file kinds, by extension: (content type, Pillow format or None for a PDF).
KINDS: dict[str, tuple[str, str | None]] = {
    "png": ("image/png", "PNG"),
    "jpg": ("image/jpeg", "JPEG"),
    "gif": ("image/gif", "GIF"),
    "webp": ("image/webp", "WEBP"),
    "pdf": ("application/pdf", None),
}
ALLOWED_TYPES = [content_type for content_type, _ in KINDS.values()]
_ALLOWED_TEXT = "PNG, JPEG, GIF or WebP images, or PDF documents"
#: Largest image, in pixels (one frame), and all frames of an animation together.
MAX_PIXELS = 40_000_000
MAX_ANIMATION_PIXELS = 400_000_000
#: Most characters of a file name shown for an asset.
MAX_FILENAME = 255
MAX_ALT = 300
#: Most asset ids one page resolves (a page holds at most 500 components).
MAX_REFS = 500

#: A storage key as :meth:`MediaLibrary.upload` makes them; the public route serves nothing
#: else (no ``..``, no absolute paths, no temporary files).
KEY_PATTERN = re.compile(
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
    r"/[0-9a-f]{32}-[A-Za-z0-9_-]{11}\.(?P<ext>png|jpg|gif|webp|pdf)"
)


@dataclass(frozen=True)
class Inspected:
    """What the bytes of an accepted upload are."""

    extension: str
    content_type: str
    sha256: str
    width: int | None = None
    height: int | None = None


def sniff(data: bytes) -> str:
    """The extension (a key of :data:`KINDS`) of the type the bytes begin with, or 415."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpg"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    if data.startswith(b"%PDF-"):
        return "pdf"
    head = data[:2048].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if b"<svg" in head or (head.startswith(b"<?xml") and b"svg" in head):
        raise sdk.UnsupportedMediaType(
            f"SVG images are not accepted (they can carry scripts); upload {_ALLOWED_TEXT}",
            allowed=ALLOWED_TYPES,
        )
    raise sdk.UnsupportedMediaType(
        f"this file is not one that can be uploaded; upload {_ALLOWED_TEXT}",
        allowed=ALLOWED_TYPES,
    )


def inspect_media(data: bytes) -> Inspected:
    """Sniff and verify an upload (CPU-bound: run it in a thread). Raises 415 for a type
    that is not accepted or a corrupt image, 422 for an image with too many pixels."""
    extension = sniff(data)
    content_type, pil_format = KINDS[extension]
    width = height = None
    if pil_format is not None:
        width, height = _image_size(data, pil_format, content_type)
    return Inspected(extension, content_type, hashlib.sha256(data).hexdigest(), width, height)


def _too_many_pixels(detail: str) -> sdk.ValidationFailed:
    return sdk.ValidationFailed(detail, field="file", max_pixels=MAX_PIXELS)


def _image_size(data: bytes, pil_format: str, content_type: str) -> tuple[int, int]:
    """Width and height as a browser shows the image (EXIF rotation applied), after Pillow
    has opened it as ``pil_format`` only and verified it."""
    try:
        with Image.open(io.BytesIO(data), formats=[pil_format]) as image:
            width, height = image.size  # from the header: nothing decoded yet
            if width < 1 or height < 1 or width * height > MAX_PIXELS:
                raise _too_many_pixels(
                    f"the image is {width}x{height} pixels; at most "
                    f"{MAX_PIXELS // 1_000_000} megapixels are accepted"
                )
            frames = int(getattr(image, "n_frames", 1))
            if frames * width * height > MAX_ANIMATION_PIXELS:
                raise _too_many_pixels(
                    f"the animation has {frames} frames of {width}x{height} pixels; at most "
                    f"{MAX_ANIMATION_PIXELS // 1_000_000} megapixels in all are accepted"
                )
            orientation = image.getexif().get(0x0112)
        with Image.open(io.BytesIO(data), formats=[pil_format]) as image:
            image.verify()  # must be the first thing done with a freshly opened image
    except sdk.PlatformError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _too_many_pixels(
            f"the image has too many pixels; at most {MAX_PIXELS // 1_000_000} megapixels "
            "are accepted"
        ) from None
    except Exception:  # Pillow raises many kinds of error on malformed input
        raise sdk.UnsupportedMediaType(
            f"the file starts like {content_type} but is not a valid image; upload {_ALLOWED_TEXT}",
            allowed=ALLOWED_TYPES,
        ) from None
    if orientation in (5, 6, 7, 8):  # rotated a quarter turn: shown as height x width
        width, height = height, width
    return width, height


_DROPPED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Zl", "Zp"})


def clean_filename(raw: str | None, extension: str) -> str:
    """A file name safe to show: its last path component, without control or formatting
    characters (no bidi tricks), whitespace collapsed, at most 255 characters (keeping its
    extension); ``upload.<ext>`` when nothing is left."""
    name = unicodedata.normalize("NFC", raw or "")
    name = re.split(r"[/\\]", name)[-1]
    name = "".join(
        " " if c.isspace() or unicodedata.category(c) == "Zs" else c
        for c in name
        if c.isspace() or unicodedata.category(c) not in _DROPPED_CATEGORIES
    )
    name = " ".join(name.split()).strip(" .")
    if not name:
        return f"upload.{extension}"
    if len(name) > MAX_FILENAME:
        stem, dot, suffix = name.rpartition(".")
        if dot and stem and 0 < len(suffix) <= 16:
            name = stem[: MAX_FILENAME - len(suffix) - 1].rstrip(" .") + "." + suffix
        else:
            name = name[:MAX_FILENAME].rstrip(" .")
    return name


def _clean_alt(alt: str) -> str:
    alt = " ".join(alt.split())
    if len(alt) > MAX_ALT:
        raise sdk.ValidationFailed(f"alt text may be at most {MAX_ALT} characters", field="alt")
    return alt


# -- storage -----------------------------------------------------------------------------


class MediaStorage(abc.ABC):
    """Where uploaded bytes live. Subclasses set ``name`` (what ``media_storage`` names)
    and implement the methods below; they are returned by the ``register_media_storage``
    hook and built with :meth:`create`. Keys are relative paths with ``/`` separators, as
    :class:`MediaLibrary` makes them."""

    name: ClassVar[str] = ""

    @classmethod
    @abc.abstractmethod
    def create(
        cls, platform: sdk.Platform, settings: WebsiteSettings, directory: Path
    ) -> MediaStorage:
        """Build the backend at start-up. ``directory`` is where a local backend keeps
        files (``media_dir``, by default ``<data_dir>/media``)."""

    @abc.abstractmethod
    async def save(self, key: str, data: bytes, content_type: str) -> None:
        """Store ``data`` under ``key`` (replacing what was there), all or nothing."""

    @abc.abstractmethod
    async def load(self, key: str) -> bytes:
        """The bytes under ``key``; :class:`sdk.NotFound` when there are none."""

    @abc.abstractmethod
    async def delete(self, key: str) -> None:
        """Remove ``key``; a missing key is not an error."""

    @abc.abstractmethod
    def path(self, key: str) -> Path | None:
        """A local file holding ``key`` (served without loading it into memory), or
        ``None`` for a remote store. Does no IO: the file may not exist."""

    def url(self, key: str) -> str:
        """The public URL of ``key``: ``/media/<key>`` (served by this plugin) unless the
        backend hands out its own (a bucket's or a CDN's address)."""
        return f"/media/{key}"


class LocalStorage(MediaStorage):
    """Files in a directory. Writes are atomic (a temporary file renamed into place), keys
    can never leave the directory, and all file IO runs in a worker thread."""

    name = "local"

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    @classmethod
    def create(
        cls, platform: sdk.Platform, settings: WebsiteSettings, directory: Path
    ) -> LocalStorage:
        return cls(directory)

    def path(self, key: str) -> Path:
        """The file of ``key``; ``ValueError`` for a key that is empty, absolute, or has an
        empty, ``.`` or ``..`` part, a backslash or a NUL."""
        if not key or "\x00" in key or "\\" in key or key.startswith("/"):
            raise ValueError(f"invalid media key {key[:80]!r}")
        parts = key.split("/")
        if any(part in ("", ".", "..") or ":" in part for part in parts):
            raise ValueError(f"invalid media key {key[:80]!r}")
        return self.directory.joinpath(*parts)

    async def save(self, key: str, data: bytes, content_type: str) -> None:
        await asyncio.to_thread(_write_atomically, self.path(key), data)

    async def load(self, key: str) -> bytes:
        path = self.path(key)
        try:
            return await asyncio.to_thread(path.read_bytes)
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise sdk.NotFound(f"media {key} not found") from None

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self.path(key).unlink, missing_ok=True)


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".upload-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, 0o644)  # mkstemp makes it 0600; a web server may serve it
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def storage_for(platform: sdk.Platform, settings: WebsiteSettings, directory: Path) -> MediaStorage:
    """The backend ``settings.media_storage`` names, among those plugins register through
    ``register_media_storage``, built with its ``create(platform, settings, directory)``."""
    backends: dict[str, tuple[str, type[MediaStorage]]] = {}
    for plugin, backend in platform.plugins.collect("register_media_storage"):
        if not (isinstance(backend, type) and issubclass(backend, MediaStorage)):
            raise sdk.PlatformError(
                f"plugin {plugin!r}: register_media_storage must return MediaStorage "
                f"subclasses, not {backend!r}"
            )
        if not backend.name:
            raise sdk.PlatformError(f"plugin {plugin!r}: media storage {backend!r} has no name")
        if backend.name in backends and backends[backend.name][1] is not backend:
            raise sdk.PlatformError(
                f"media storage {backend.name!r} is registered by both plugin "
                f"{backends[backend.name][0]!r} and plugin {plugin!r}"
            )
        backends[backend.name] = (plugin, backend)
    chosen = backends.get(settings.media_storage)
    if chosen is None:
        raise sdk.PlatformError(
            f"plugin_settings.website.media_storage is {settings.media_storage!r}, which no "
            f"enabled plugin provides; available: {', '.join(sorted(backends)) or 'none'}"
        )
    return chosen[1].create(platform, settings, directory)


# -- the library -------------------------------------------------------------------------


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
        alt = _clean_alt(alt)
        limit = self.settings.media_max_bytes
        if len(data) > limit:
            raise sdk.PayloadTooLarge(
                f"the file is larger than the {limit} bytes an upload may have", limit=limit
            )
        if not data:
            raise sdk.ValidationFailed("the file is empty", field="file")
        found = await asyncio.to_thread(inspect_media, data)
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
        alt = _clean_alt(alt)
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
            out[raw] = MediaRef(
                url=self.storage.url(props.storage_key),
                width=props.width,
                height=props.height,
                alt=props.alt,
            )
        return out


# -- routes ------------------------------------------------------------------------------

#: What a multipart body may add around the file: boundaries, part headers, the alt text.
MULTIPART_SLACK = 64 * 1024
#: The upload route's body limit. It is fixed when the route is declared, before the
#: settings are read, so it is a ceiling: ``media_max_bytes`` (+ slack) is enforced per
#: request, from ``Content-Length`` before the body is read and on the file itself after.
UPLOAD_BODY_CEILING = 256 * 1024 * 1024
#: Public files never change (a new upload gets a new key).
_PUBLIC_HEADERS = {
    "Cache-Control": "public, max-age=31536000, immutable",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; sandbox",
}


def media_library(request: Request[Any, Any, Any]) -> MediaLibrary:
    library: MediaLibrary = request.app.state.website_media
    return library


@dataclass
class MediaUpload:
    """The multipart body of an upload: the ``file`` and its optional ``alt`` text."""

    file: UploadFile
    alt: str = ""


class MediaPatch(msgspec.Struct, forbid_unknown_fields=True):
    alt: Annotated[str, Meta(max_length=MAX_ALT)]


async def _read_upload(request: Request[Any, Any, Any]) -> MediaUpload:
    """The ``file`` and ``alt`` fields of a multipart body, or a 4xx naming what is wrong."""
    file, texts = await sdk.read_upload(request, text_fields=("alt",))
    return MediaUpload(file=file, alt=texts.get("alt", ""))


async def _refuse_large_bodies(request: Request[Any, Any, Any]) -> None:
    """Refuse an announced body larger than the upload limit before reading any of it."""
    length = request.headers.get("content-length", "")
    limit = media_library(request).settings.media_max_bytes
    if length.isascii() and length.isdigit() and int(length) > limit + MULTIPART_SLACK:
        raise sdk.PayloadTooLarge(
            f"the request is larger than the {limit} bytes an upload may have", limit=limit
        )


MEDIA = "/media/{asset_id:uuid}"


class MediaController(Controller):
    path = "/groups/{group_id:uuid}"

    @post(
        "/media",
        summary="Upload an image (PNG, JPEG, GIF, WebP) or a PDF",
        before_request=_refuse_large_bodies,
        request_max_body_size=UPLOAD_BODY_CEILING,
    )
    async def upload_media(
        self, request: Request[Any, Any, Any], group: NamedDependency[sdk.GroupContext]
    ) -> Response[MediaView]:
        """A ``multipart/form-data`` body with the ``file`` and an optional ``alt`` text.

        The body is read only after the caller is known to be allowed to upload here, so
        nobody can make the server parse large bodies for groups that are not theirs."""
        group.require("website.manage")
        library = media_library(request)
        upload = await _read_upload(request)
        try:
            content = await upload.file.read(library.settings.media_max_bytes + 1)
        finally:
            await upload.file.close()
        view = await library.upload(group, upload.file.filename, content, upload.alt)
        return Response(view, status_code=201)

    @get("/media", summary="List uploaded media, newest first")
    async def list_media(
        self,
        request: Request[Any, Any, Any],
        group: NamedDependency[sdk.GroupContext],
        cursor: sdk.PageCursor = None,
        limit: sdk.PageLimit = 50,
    ) -> sdk.Page[MediaView]:
        return await media_library(request).list(group, cursor, limit)

    @get(MEDIA, summary="Get one uploaded file's details")
    async def get_media(
        self,
        request: Request[Any, Any, Any],
        group: NamedDependency[sdk.GroupContext],
        asset_id: FromPath[UUID],
    ) -> MediaView:
        return await media_library(request).get(group, asset_id)

    @patch(MEDIA, summary="Change a file's alt text")
    async def update_media(
        self,
        request: Request[Any, Any, Any],
        group: NamedDependency[sdk.GroupContext],
        asset_id: FromPath[UUID],
        data: JSONBody[MediaPatch],
    ) -> MediaView:
        return await media_library(request).update_alt(group, asset_id, data.alt)

    @delete(MEDIA, summary="Delete an uploaded file")
    async def delete_media(
        self,
        request: Request[Any, Any, Any],
        group: NamedDependency[sdk.GroupContext],
        asset_id: FromPath[UUID],
    ) -> None:
        await media_library(request).delete(group, asset_id)


def _stat_file(path: Path) -> os.stat_result | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat if path.is_file() else None


@get(
    "/media/{key:path}",
    summary="An uploaded file (public: published pages show it)",
    tags=["public sites"],
    opt={"public": True, "exclude_from_rate_limit": True},
)
async def serve_media(request: Request[Any, Any, Any], key: FromPath[str]) -> Response[Any]:
    key = key.lstrip("/")
    match = KEY_PATTERN.fullmatch(key)
    if match is None:
        raise sdk.NotFound("no such media file")
    extension = match["ext"]
    content_type = KINDS[extension][0]
    disposition: Literal["attachment", "inline"] = "attachment" if extension == "pdf" else "inline"
    storage = media_library(request).storage
    path = storage.path(key)
    if path is not None:
        stat = await asyncio.to_thread(_stat_file, path)
        if stat is None:
            raise sdk.NotFound("no such media file")
        return File(
            path=path,
            stat_result=stat,
            media_type=content_type,
            filename=path.name,
            content_disposition_type=disposition,
            headers=dict(_PUBLIC_HEADERS),
        )
    data = await storage.load(key)
    name = key.rsplit("/", 1)[-1]
    return Response(
        data,
        media_type=content_type,
        headers={
            **_PUBLIC_HEADERS,
            "Content-Disposition": f'{disposition}; filename="{name}"',
            "ETag": f'"{key.rsplit("/", 1)[-1].split(".")[0]}"',
        },
    )


MEDIA_ROUTES: list[Any] = [sdk.api_router("website", [MediaController]), serve_media]

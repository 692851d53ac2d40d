"""The media routes: the library's API under ``/api/website/media`` and the public
``/media/<key>`` that serves the files."""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal
from uuid import UUID

import msgspec
from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, Parameter
from litestar.response import File
from msgspec import Meta

import sdk
from plugins.website.media.library import MediaLibrary
from plugins.website.media.validation import KEY_PATTERN, KINDS, MAX_ALT
from plugins.website.media.variants import RESIZABLE, VariantWidth, variant_key
from plugins.website.types import MediaView

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
        self,
        request: Request[Any, Any, Any],
        group: NamedDependency[sdk.GroupContext],
        media: NamedDependency[MediaLibrary],
    ) -> Response[MediaView]:
        """A ``multipart/form-data`` body with the ``file`` and an optional ``alt`` text.

        The body is read only after the caller is known to be allowed to upload here, so
        nobody can make the server parse large bodies for groups that are not theirs."""
        group.require("website.manage")
        upload = await _read_upload(request)
        try:
            content = await upload.file.read(media.settings.media_max_bytes + 1)
        finally:
            await upload.file.close()
        view = await media.upload(group, upload.file.filename, content, upload.alt)
        return Response(view, status_code=201)

    @get("/media", summary="List uploaded media, newest first")
    async def list_media(
        self,
        group: NamedDependency[sdk.GroupContext],
        media: NamedDependency[MediaLibrary],
        cursor: sdk.PageCursor = None,
        limit: sdk.PageLimit = 50,
    ) -> sdk.Page[MediaView]:
        return await media.list(group, cursor, limit)

    @get(MEDIA, summary="Get one uploaded file's details")
    async def get_media(
        self,
        group: NamedDependency[sdk.GroupContext],
        media: NamedDependency[MediaLibrary],
        asset_id: FromPath[UUID],
    ) -> MediaView:
        return await media.get(group, asset_id)

    @patch(MEDIA, summary="Change a file's alt text")
    async def update_media(
        self,
        group: NamedDependency[sdk.GroupContext],
        media: NamedDependency[MediaLibrary],
        asset_id: FromPath[UUID],
        data: JSONBody[MediaPatch],
    ) -> MediaView:
        return await media.update_alt(group, asset_id, data.alt)

    @delete(MEDIA, summary="Delete an uploaded file")
    async def delete_media(
        self,
        group: NamedDependency[sdk.GroupContext],
        media: NamedDependency[MediaLibrary],
        asset_id: FromPath[UUID],
    ) -> None:
        await media.delete(group, asset_id)


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
    opt={"public": True, **sdk.NO_API_RATE_LIMIT, **sdk.TENANT_CONTENT},
)
async def serve_media(
    request: Request[Any, Any, Any],
    key: FromPath[str],
    w: Annotated[
        VariantWidth | None,
        Parameter(description="A narrower copy of a PNG, JPEG or WebP picture, this wide"),
    ] = None,
) -> Response[Any]:
    key = key.lstrip("/")
    match = KEY_PATTERN.fullmatch(key)
    if match is None:
        raise sdk.NotFound("no such media file")
    extension = match["ext"]
    content_type = KINDS[extension][0]
    disposition: Literal["attachment", "inline"] = "attachment" if extension == "pdf" else "inline"
    library = media_library(request)
    storage = library.storage
    if w is not None:
        if extension not in RESIZABLE:
            raise sdk.NotFound("only PNG, JPEG and WebP pictures have narrower copies")
        variant = await _variant(library, key, extension, w)
        if variant is not None:
            return variant
        # not wider than that: the original is the answer
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


async def _variant(
    library: MediaLibrary, key: str, extension: str, width: int
) -> Response[Any] | None:
    """The ``width`` variant of ``key`` (made on first request), or ``None`` when the
    original is not wider."""
    content_type = KINDS[extension][0]
    path = library.storage.path(variant_key(key, width))
    if path is not None:
        stat = await asyncio.to_thread(_stat_file, path)
        if stat is not None:
            return File(
                path=path,
                stat_result=stat,
                media_type=content_type,
                filename=path.name,
                content_disposition_type="inline",
                headers=dict(_PUBLIC_HEADERS),
            )
    data = await library.variants.load(key, extension, width)
    if data is None:
        return None
    return Response(data, media_type=content_type, headers=dict(_PUBLIC_HEADERS))


MEDIA_ROUTES: list[Any] = [
    sdk.api_router(
        "website",
        [MediaController],
        dependencies={"media": sdk.from_app_state("website_media", after_group=True)},
    ),
    serve_media,
]

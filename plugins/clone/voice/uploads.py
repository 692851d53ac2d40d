"""Reading a clone's voice recordings and photo from a multipart upload: the bytes decide
what a file is, never its name or declared type."""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

from litestar import Request
from litestar.datastructures import UploadFile
from litestar.exceptions import HTTPException

import sdk
from plugins.clone.voice import AudioSample, Photo

#: Photo formats the avatar services take (Pillow names many phone cameras' JPEGs "MPO").
PHOTO_FORMATS = {"JPEG": "image/jpeg", "MPO": "image/jpeg", "PNG": "image/png"}
#: Smallest photo side, in pixels: a face must be visible.
MIN_PHOTO_SIDE = 64


def sniff_audio(data: bytes) -> str | None:
    """The media type of an audio file from its first bytes (``None``: not audio we know).
    The name and the declared type are not trusted."""
    if len(data) < 12:
        return None
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        return "audio/wav"
    if data[:4] == b"OggS":
        return "audio/ogg"
    if data[:4] == b"fLaC":
        return "audio/flac"
    if data[:4] == b"\x1a\x45\xdf\xa3":
        return "audio/webm"
    if data[4:8] == b"ftyp":
        return "audio/mp4"
    if data[:3] == b"ID3":
        return "audio/mpeg"
    if data[0] == 0xFF and data[1] & 0xE0 == 0xE0:
        return "audio/aac" if (data[1] >> 1) & 0x03 == 0 else "audio/mpeg"
    return None


def check_photo(data: bytes) -> str:
    """The media type of a JPEG or PNG photo that Pillow can read whole; 415 for anything
    else, 422 for a damaged or tiny image."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            kind, size = image.format, image.size
            image.verify()
    except (UnidentifiedImageError, Image.DecompressionBombError):
        raise sdk.UnsupportedMediaType("send the photo as a JPEG or PNG image") from None
    except Exception:
        raise sdk.ValidationFailed("the image is damaged", field="file") from None
    if kind not in PHOTO_FORMATS:
        raise sdk.UnsupportedMediaType(f"send the photo as a JPEG or PNG image, not {kind}")
    if min(size) < MIN_PHOTO_SIDE:
        raise sdk.ValidationFailed(
            f"the photo is too small: at least {MIN_PHOTO_SIDE}x{MIN_PHOTO_SIDE} pixels",
            field="file",
        )
    return PHOTO_FORMATS[kind]


def _filename(upload: UploadFile, fallback: str) -> str:
    name = (upload.filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable() and ch not in "\"';")
    return name.strip()[:100] or fallback


async def _read_files(request: Request[Any, Any, Any], most: int) -> list[UploadFile]:
    """The files of the ``file`` field of a multipart body (1 to ``most``), or a 4xx."""
    if request.content_type[0] != "multipart/form-data":
        raise sdk.UnsupportedMediaType("send the files as multipart/form-data in a field 'file'")
    try:
        form = await request.form()
    except (sdk.PlatformError, HTTPException):
        raise
    except Exception:
        raise sdk.ValidationFailed("the multipart body could not be read", field="file") from None
    everything = [v for v in form.values() if isinstance(v, UploadFile)]
    files = [
        v for v in (form.getall("file") if "file" in form else []) if isinstance(v, UploadFile)
    ]
    problem: sdk.PlatformError | None = None
    if not files:
        problem = sdk.ValidationFailed("send the file in the field 'file'", field="file")
    elif len(files) > most:
        problem = sdk.ValidationFailed(f"send at most {most} files at once", field="file")
    if problem is not None:
        for upload in everything:
            await upload.close()
        raise problem
    return files


async def _contents(files: Sequence[UploadFile], limit: int) -> list[tuple[UploadFile, bytes]]:
    read: list[tuple[UploadFile, bytes]] = []
    try:
        for upload in files:
            data = await upload.read(limit + 1)
            if len(data) > limit:
                raise sdk.PayloadTooLarge(
                    f"{_filename(upload, 'a file')} is larger than the {limit} bytes a file may "
                    "have",
                    limit=limit,
                )
            if not data:
                raise sdk.ValidationFailed(f"{_filename(upload, 'a file')} is empty", field="file")
            read.append((upload, data))
    finally:
        for upload in files:
            await upload.close()
    return read


async def read_samples(request: Request[Any, Any, Any], most: int, limit: int) -> list[AudioSample]:
    """The recordings in the ``file`` field (1 to ``most``, each at most ``limit`` bytes),
    or a 4xx naming the file that is not one."""
    samples = []
    files = await _read_files(request, most)
    for number, (upload, data) in enumerate(await _contents(files, limit), start=1):
        kind = sniff_audio(data)
        if kind is None:
            raise sdk.UnsupportedMediaType(
                f"{_filename(upload, 'a file')} is not a recording: send MP3, WAV, OGG, "
                "FLAC, M4A or WebM audio"
            )
        samples.append(AudioSample(_filename(upload, f"sample-{number}"), data, kind))
    return samples


async def read_photo(request: Request[Any, Any, Any], limit: int) -> Photo:
    """The one photo in the ``file`` field (at most ``limit`` bytes), or a 4xx."""
    [(upload, data)] = await _contents(await _read_files(request, 1), limit)
    kind = await sdk.run_cpu(check_photo, data)
    return Photo(_filename(upload, "photo." + kind.rsplit("/", 1)[-1]), data, kind)

"""What may be uploaded: the accepted kinds and limits, the type sniffed from the bytes
(images opened and verified with Pillow, decompression bombs refused), and clean file names
and alt text."""

from __future__ import annotations

import hashlib
import io
import re
import unicodedata
from dataclasses import dataclass

from PIL import Image

import sdk

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


def clean_alt(alt: str) -> str:
    alt = " ".join(alt.split())
    if len(alt) > MAX_ALT:
        raise sdk.ValidationFailed(f"alt text may be at most {MAX_ALT} characters", field="alt")
    return alt

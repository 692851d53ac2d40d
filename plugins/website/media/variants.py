"""Narrower copies of uploaded pictures, so a phone downloads a picture the size of its
screen (``srcset``) rather than the original.

Widths are fixed (:data:`VARIANT_WIDTHS`), and only those narrower than the original are
made, so an asset has a handful of variants at most. A variant is made on its first request
(``/media/<key>?w=640``): resized with Pillow on the CPU pool, off the event loop, stored
beside the original in the media storage and served from there ever after. Requests for a
variant being made wait for that one job rather than starting their own. GIFs (possibly
animated) and PDFs have no variants.
"""

from __future__ import annotations

import asyncio
import io
from typing import Literal

from PIL import Image, ImageOps

import sdk
from plugins.website.media.storage import MediaStorage
from plugins.website.media.validation import KINDS

#: The widths, in CSS pixels, a picture is offered at (besides its own).
VARIANT_WIDTHS: tuple[int, ...] = (320, 640, 960, 1280, 1920)
VariantWidth = Literal[320, 640, 960, 1280, 1920]
#: Extensions whose pictures get variants.
RESIZABLE = frozenset({"png", "jpg", "webp"})


def widths_below(width: int | None) -> list[int]:
    """The variant widths a picture ``width`` pixels wide is offered at."""
    return [w for w in VARIANT_WIDTHS if width and w < width]


def variant_key(key: str, width: int) -> str:
    """Where the ``width`` variant of ``key`` is stored: ``<name>.w<width>.<ext>``."""
    stem, _, extension = key.rpartition(".")
    return f"{stem}.w{width}.{extension}"


def resize(data: bytes, extension: str, width: int) -> bytes | None:
    """``data`` (an accepted upload) scaled to ``width`` pixels wide, in its own format;
    ``None`` when it is not wider than that already. Runs on the CPU pool."""
    pil_format = KINDS[extension][1]
    assert pil_format is not None
    with Image.open(io.BytesIO(data), formats=[pil_format]) as opened:
        image = ImageOps.exif_transpose(opened)
        if image.width <= width:
            return None
        height = max(1, round(image.height * width / image.width))
        smaller = image.resize((width, height), Image.Resampling.LANCZOS, reducing_gap=3.0)
    if pil_format == "JPEG" and smaller.mode not in ("RGB", "L"):
        smaller = smaller.convert("RGB")
    out = io.BytesIO()
    if pil_format == "PNG":
        smaller.save(out, "PNG", optimize=True)
    else:
        smaller.save(out, pil_format, quality=82)
    return out.getvalue()


class Variants:
    """Makes and finds the variants of one media storage's pictures."""

    def __init__(self, storage: MediaStorage) -> None:
        self.storage = storage
        self._making: dict[str, asyncio.Task[bytes | None]] = {}

    async def load(self, key: str, extension: str, width: int) -> bytes | None:
        """The bytes of ``key``'s ``width`` variant, made now if it does not exist yet;
        ``None`` when the original is not wider (serve the original)."""
        target = variant_key(key, width)
        task = self._making.get(target)
        if task is None:
            task = asyncio.create_task(self._make(key, target, extension, width))
            self._making[target] = task
            task.add_done_callback(lambda _: self._making.pop(target, None))
        return await asyncio.shield(task)

    async def _make(self, key: str, target: str, extension: str, width: int) -> bytes | None:
        try:
            return await self.storage.load(target)
        except sdk.NotFound:
            pass
        original = await self.storage.load(key)
        data = await sdk.run_cpu(resize, original, extension, width)
        if data is not None:
            await self.storage.save(target, data, KINDS[extension][0])
        return data

    async def delete_all(self, key: str) -> None:
        """Remove every variant of ``key`` (missing ones are no error)."""
        for width in VARIANT_WIDTHS:
            await self.storage.delete(variant_key(key, width))

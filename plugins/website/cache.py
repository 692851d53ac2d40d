"""Each process keeps published pages in memory, so serving one is a dictionary lookup.

Publishing writes the rendered page to PostgreSQL (``website_live_pages``) and then tells
every process to forget that site's entries: a message on a Redis channel that each app
process listens to (the process that published also forgets at once). If the listener
loses Redis it forgets everything when it reconnects, since it may have missed messages.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import msgspec

from plugins.website.live import LiveSite

log = logging.getLogger("creator.website")

PURGE_CHANNEL = "creator:website:purge"


@dataclass(frozen=True)
class CachedPage:
    """A response ready to send: ``html`` is ``None`` for a page that does not exist."""

    site_id: UUID | None
    body: bytes
    etag: str
    status: int = 200


class PageCache:
    """Least-recently-used published pages and site lookups of one process."""

    def __init__(self, max_pages: int) -> None:
        self.max_pages = max_pages
        self._pages: OrderedDict[tuple[str, str, str], CachedPage] = OrderedDict()
        self._sites: dict[tuple[str, str], LiveSite | None] = {}
        self.hits = 0
        self.misses = 0

    # -- pages ----------------------------------------------------------------------------

    def get(self, key: tuple[str, str, str]) -> CachedPage | None:
        found = self._pages.get(key)
        if found is None:
            self.misses += 1
            return None
        self.hits += 1
        self._pages.move_to_end(key)
        return found

    def put(self, key: tuple[str, str, str], page: CachedPage) -> None:
        if self.max_pages <= 0:
            return
        self._pages[key] = page
        self._pages.move_to_end(key)
        while len(self._pages) > self.max_pages:
            self._pages.popitem(last=False)

    # -- sites ----------------------------------------------------------------------------

    def site(self, key: tuple[str, str]) -> tuple[bool, LiveSite | None]:
        if key in self._sites:
            return True, self._sites[key]
        return False, None

    def put_site(self, key: tuple[str, str], site: LiveSite | None) -> None:
        if len(self._sites) >= max(self.max_pages, 100):
            self._sites.clear()
        self._sites[key] = site

    # -- forgetting -----------------------------------------------------------------------

    def purge_site(self, site_id: UUID | None) -> None:
        """Forget a site's pages (and every site lookup: its slug or domain may have
        changed, or a new site may now answer a name that was unknown)."""
        self._sites.clear()
        if site_id is None:
            self._pages.clear()
            return
        for key in [k for k, v in self._pages.items() if v.site_id in (site_id, None)]:
            del self._pages[key]

    def clear(self) -> None:
        self._pages.clear()
        self._sites.clear()

    def __len__(self) -> int:
        return len(self._pages)


class PurgeMessage(msgspec.Struct):
    site_id: str | None = None


class PurgeListener:
    """Relays purge messages from Redis to this process's cache."""

    def __init__(self, redis: Any, cache: PageCache) -> None:
        self.redis = redis
        self.cache = cache
        self._task: asyncio.Task[None] | None = None
        self.ready = asyncio.Event()

    async def publish(self, site_id: UUID | None) -> None:
        self.cache.purge_site(site_id)
        message = msgspec.json.encode(PurgeMessage(str(site_id) if site_id else None))
        try:
            await self.redis.publish(PURGE_CHANNEL, message)
        except Exception:  # other processes catch up when they reconnect
            log.warning("could not announce a website cache purge", exc_info=True)

    def start(self) -> None:
        self._task = asyncio.create_task(self._listen(), name="website-cache-purge")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None

    async def _listen(self) -> None:
        decode = msgspec.json.Decoder(PurgeMessage).decode
        delay = 0.1
        while True:
            try:
                async with self.redis.pubsub() as pubsub:
                    await pubsub.subscribe(PURGE_CHANNEL)
                    self.cache.clear()  # whatever happened while we were not listening
                    self.ready.set()
                    delay = 0.1
                    async for message in pubsub.listen():
                        if message.get("type") != "message":
                            continue
                        try:
                            purge = decode(message["data"])
                        except msgspec.DecodeError:
                            continue
                        self.cache.purge_site(UUID(purge.site_id) if purge.site_id else None)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("website cache listener lost Redis; retrying", exc_info=True)
                self.cache.clear()
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

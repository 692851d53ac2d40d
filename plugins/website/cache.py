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
import time
from collections import OrderedDict
from dataclasses import dataclass, replace
from typing import Any
from uuid import UUID, uuid4

import msgspec

from plugins.website.live import LiveSite

log = logging.getLogger("creator.website")

PURGE_CHANNEL = "creator:website:purge"


@dataclass(frozen=True)
class CachedPage:
    """A response ready to send (``status`` 404 for a page or site that does not exist;
    ``site_id`` is ``None`` when no site has that name)."""

    site_id: UUID | None
    body: bytes
    etag: str
    status: int = 200
    stored_at: float = 0.0


Key = tuple[str, str, str]


class PageCache:
    """Least-recently-used published pages and site lookups of one process.

    Answers for names that do not exist live in a smaller LRU of their own, so requests
    for random names cannot push real pages out. Every entry expires after ``max_age``
    seconds, which bounds how stale a process can be if a purge message never reaches
    it. ``generation`` changes on every purge: a reader that started before a purge
    must not store what it read (``put(..., generation=...)``)."""

    def __init__(self, max_pages: int, max_age: float = 60.0, max_missing: int = 1000) -> None:
        self.max_pages = max_pages
        self.max_age = max_age
        self.max_missing = max_missing
        self._pages: OrderedDict[Key, CachedPage] = OrderedDict()
        self._missing: OrderedDict[Key, CachedPage] = OrderedDict()
        self._sites: OrderedDict[tuple[str, str], LiveSite | None] = OrderedDict()
        self.generation = 0
        self.hits = 0
        self.misses = 0

    # -- pages ----------------------------------------------------------------------------

    def get(self, key: Key) -> CachedPage | None:
        table = self._pages if key in self._pages else self._missing
        found = table.get(key)
        if found is None or time.monotonic() - found.stored_at > self.max_age:
            if found is not None:
                del table[key]
            self.misses += 1
            return None
        self.hits += 1
        table.move_to_end(key)
        return found

    def put(self, key: Key, page: CachedPage, *, generation: int | None = None) -> None:
        """Keep ``page`` unless a purge happened since ``generation`` was read."""
        if self.max_pages <= 0 or (generation is not None and generation != self.generation):
            return
        found = page.site_id is not None and page.status == 200
        table, limit = (self._pages, self.max_pages) if found else (self._missing, self.max_missing)
        table[key] = replace(page, stored_at=time.monotonic())
        table.move_to_end(key)
        while len(table) > limit:
            table.popitem(last=False)

    # -- sites ----------------------------------------------------------------------------

    def site(self, key: tuple[str, str]) -> tuple[bool, LiveSite | None]:
        if key in self._sites:
            self._sites.move_to_end(key)
            return True, self._sites[key]
        return False, None

    def put_site(
        self, key: tuple[str, str], site: LiveSite | None, *, generation: int | None = None
    ) -> None:
        if generation is not None and generation != self.generation:
            return
        self._sites[key] = site
        while len(self._sites) > max(self.max_pages, 100):
            self._sites.popitem(last=False)

    # -- forgetting -----------------------------------------------------------------------

    def purge_site(self, site_id: UUID | None) -> None:
        """Forget a site's pages (and every site lookup and answer for unknown names: the
        site's slug or domain may have changed, or it may now answer a name that was
        unknown)."""
        self.generation += 1
        self._sites.clear()
        self._missing.clear()
        if site_id is None:
            self._pages.clear()
            return
        for key in [k for k, v in self._pages.items() if v.site_id == site_id]:
            del self._pages[key]

    def clear(self) -> None:
        self.generation += 1
        self._pages.clear()
        self._missing.clear()
        self._sites.clear()

    def __len__(self) -> int:
        return len(self._pages)


class PurgeMessage(msgspec.Struct):
    site_id: str | None = None
    #: The listener that sent it (it has purged already and ignores its own message).
    origin: str = ""


class PurgeListener:
    """Relays purge messages from Redis to this process's cache."""

    def __init__(self, redis: Any, cache: PageCache) -> None:
        self.redis = redis
        self.cache = cache
        self._task: asyncio.Task[None] | None = None
        self.ready = asyncio.Event()
        self.origin = uuid4().hex

    async def publish(self, site_id: UUID | None) -> None:
        self.cache.purge_site(site_id)
        message = msgspec.json.encode(
            PurgeMessage(str(site_id) if site_id else None, origin=self.origin)
        )
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
                        if purge.origin == self.origin:
                            continue
                        self.cache.purge_site(UUID(purge.site_id) if purge.site_id else None)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("website cache listener lost Redis; retrying", exc_info=True)
                self.cache.clear()
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

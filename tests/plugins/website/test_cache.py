"""The per-process page cache and its purge across processes over Redis."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from plugins.website.cache import CachedPage, PageCache, PurgeListener
from sdk.testing import wait_until


def test_least_recently_used_pages_leave_first():
    cache = PageCache(max_pages=2)
    site = uuid.uuid4()
    for name in ("a", "b"):
        cache.put(("slug", "s", name), CachedPage(site, name.encode(), name))
    assert cache.get(("slug", "s", "a")) is not None  # a is now the most recent
    cache.put(("slug", "s", "c"), CachedPage(site, b"c", "c"))
    assert cache.get(("slug", "s", "b")) is None
    assert cache.get(("slug", "s", "a")) is not None and len(cache) == 2


def test_purging_a_site_keeps_the_others():
    cache = PageCache(max_pages=10)
    one, two = uuid.uuid4(), uuid.uuid4()
    cache.put(("slug", "one", ""), CachedPage(one, b"1", "1"))
    cache.put(("slug", "two", ""), CachedPage(two, b"2", "2"))
    cache.put(("slug", "nobody", ""), CachedPage(None, b"404", "x", 404))
    cache.put_site(("slug", "one"), None)
    cache.purge_site(one)
    assert cache.get(("slug", "one", "")) is None
    assert cache.get(("slug", "two", "")) is not None
    # unknown-site answers go too: the purge may be a site that now has that name
    assert cache.get(("slug", "nobody", "")) is None
    assert cache.site(("slug", "one")) == (False, None)


@pytest.mark.creator_plugins("website")
async def test_a_purge_reaches_every_process(creator_platform):
    redis = creator_platform.platform.redis
    site = uuid.uuid4()
    here, there = PageCache(10), PageCache(10)
    listeners = [PurgeListener(redis, here), PurgeListener(redis, there)]
    for listener in listeners:
        listener.start()
    try:
        await asyncio.wait_for(
            asyncio.gather(*(listener.ready.wait() for listener in listeners)), 5
        )
        there.put(("slug", "s", "home"), CachedPage(site, b"old", "old"))
        other = uuid.uuid4()
        there.put(("slug", "o", "home"), CachedPage(other, b"keep", "keep"))
        await listeners[0].publish(site)
        await wait_until(lambda: there.get(("slug", "s", "home")) is None, within=2)
        assert there.get(("slug", "o", "home")) is not None
    finally:
        for listener in listeners:
            await listener.stop()


def test_a_read_that_started_before_a_purge_is_not_kept():
    cache = PageCache(max_pages=10)
    site = uuid.uuid4()
    generation = cache.generation  # a request reads the old page from the database...
    cache.purge_site(site)  # ...a publish lands meanwhile...
    cache.put(("slug", "s", ""), CachedPage(site, b"old", "old"), generation=generation)
    assert cache.get(("slug", "s", "")) is None  # ...and the old page is not cached


def test_entries_expire(monkeypatch):
    cache = PageCache(max_pages=10, max_age=60)
    cache.put(("slug", "s", ""), CachedPage(uuid.uuid4(), b"p", "p"))
    now = __import__("time").monotonic()
    monkeypatch.setattr("plugins.website.cache.time.monotonic", lambda: now + 61)
    assert cache.get(("slug", "s", "")) is None

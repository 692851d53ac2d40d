"""``platform.limits``: named fixed-window limits in Redis, shared across processes, and
the 429 they raise."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import redis.asyncio as aioredis
from litestar import Request, post

from sdk import Platform, RateLimited, RateLimiter, hookimpl
from sdk.testing import PlatformFactory, assert_problem


async def test_a_limit_counts_hits_in_a_window(
    creator_platform_factory: PlatformFactory,
) -> None:
    harness = await creator_platform_factory(plugins=[])
    limits = harness.platform.limits
    results = [await limits.hit("test:reports", 3, 60) for _ in range(4)]
    assert [r.allowed for r in results] == [True, True, True, False]
    assert [r.count for r in results] == [1, 2, 3, 4]
    assert [r.remaining for r in results] == [2, 1, 0, 0]
    assert all(1 <= r.retry_after <= 60 for r in results)
    # another key has its own count; a reset forgets one
    assert (await limits.hit("test:other", 3, 60)).count == 1
    await limits.reset("test:reports")
    assert (await limits.hit("test:reports", 3, 60)).allowed
    # the window ends with the key's lifetime
    assert 0 < await harness.platform.redis.ttl("test:reports") <= 60


async def test_a_limit_of_zero_is_no_limit(creator_platform_factory: PlatformFactory) -> None:
    harness = await creator_platform_factory(plugins=[])
    for _ in range(5):
        assert (await harness.platform.limits.hit("test:off", 0, 60)).allowed
    assert await harness.platform.redis.exists("test:off") == 0


async def test_processes_share_a_limit_and_never_overshoot_it(
    creator_platform_factory: PlatformFactory,
) -> None:
    """Two limiters on their own connections (as two processes have) hitting one key at
    once: exactly ``limit`` hits are allowed between them."""
    harness = await creator_platform_factory(plugins=[])
    other = aioredis.Redis.from_url(harness.settings.redis_url)
    try:
        limiters = [harness.platform.limits, RateLimiter(other)]
        results = await asyncio.gather(
            *(limiters[n % 2].hit("test:shared", 7, 60) for n in range(20))
        )
    finally:
        await other.aclose()
    assert sum(r.allowed for r in results) == 7
    assert sorted(r.count for r in results) == list(range(1, 21))


async def test_enforce_raises_a_429_with_retry_after(
    creator_platform_factory: PlatformFactory,
) -> None:
    harness = await creator_platform_factory(plugins=[])
    limits = harness.platform.limits
    await limits.enforce("test:exports", 1, 30, what="exports this minute")
    with pytest.raises(RateLimited) as refused:
        await limits.enforce("test:exports", 1, 30, what="exports this minute")
    assert refused.value.status == 429 and refused.value.code == "rate_limited"
    assert 1 <= refused.value.retry_after <= 30
    assert refused.value.detail == (
        f"too many exports this minute; try again in {refused.value.retry_after}s"
    )


class Exports:
    """A plugin route limited to one export per hour and group."""

    @hookimpl
    def register_routes(self) -> list[Any]:
        @post("/exports", status_code=202)
        async def export(request: Request[Any, Any, Any]) -> None:
            platform: Platform = request.app.state.platform
            await platform.limits.enforce("exports:test", 1, 3600, what="exports this hour")

        return [export]


async def test_a_refused_route_answers_problem_json_with_retry_after(
    creator_platform_factory: PlatformFactory,
) -> None:
    harness = await creator_platform_factory(plugins=[], extra_plugins={"exports": Exports()})
    assert (await harness.client.post("/exports")).status_code == 202
    response = await harness.client.post("/exports")
    body = assert_problem(response, 429, "rate_limited")
    assert 3590 <= int(response.headers["retry-after"]) <= 3600
    assert body["retry_after"] == int(response.headers["retry-after"])
    assert "too many exports this hour" in body["detail"]

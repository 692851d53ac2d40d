"""Named rate limits in Redis, for core and plugins: "at most N of this per S seconds".

A limit is a counter per key in a fixed window that opens with the key's first hit and
ends ``seconds`` later (the key expires with it). Redis holds the count, so every process
of a deployment shares it; each hit is one ``MULTI`` transaction (open the window if it
is not open, count, read what is left of it), so two processes never both take the last
allowance. Refused hits count too: hammering does not help, and does not stretch the
window either.

:meth:`RateLimiter.hit` answers whether a hit is allowed and when to try again;
:meth:`RateLimiter.enforce` raises the platform's 429 (:class:`~core.errors.RateLimited`,
code ``rate_limited``, with ``Retry-After``) instead. A limit of 0 or less is no limit, so
a setting of 0 turns a limit off (as ``rate_limit_per_minute`` does for the API).

This is for limits a service chooses (log-in attempts, a widget's questions per day); the
API's own per-client limit is the middleware in :mod:`core.throttle`.
"""

from __future__ import annotations

from dataclasses import dataclass

import redis.asyncio as aioredis

from core.errors import RateLimited


@dataclass(frozen=True, slots=True)
class RateLimitResult:
    """One hit's verdict: ``count`` hits so far in the window (this one included),
    ``remaining`` before the limit, and ``retry_after`` seconds until the window ends."""

    allowed: bool
    count: int
    remaining: int
    retry_after: int


_UNLIMITED = RateLimitResult(allowed=True, count=0, remaining=0, retry_after=0)


class RateLimiter:
    """Fixed-window counters in Redis (module doc). Keys are the caller's: prefix them
    with your plugin's name, as you would any Redis key."""

    def __init__(self, redis: aioredis.Redis) -> None:
        self.redis = redis

    async def hit(self, key: str, limit: int, seconds: int) -> RateLimitResult:
        """Count one hit of ``key`` against ``limit`` per ``seconds``."""
        if limit <= 0:
            return _UNLIMITED
        async with self.redis.pipeline(transaction=True) as pipe:
            # SET NX EX opens the window once; the embedded Redis (6.2) has no EXPIRE NX.
            pipe.set(key, 0, ex=seconds, nx=True)
            pipe.incr(key)
            pipe.ttl(key)
            _, count, ttl = await pipe.execute()
        count = int(count)
        return RateLimitResult(
            allowed=count <= limit,
            count=count,
            remaining=max(limit - count, 0),
            retry_after=max(int(ttl), 1),
        )

    async def enforce(self, key: str, limit: int, seconds: int, *, what: str) -> None:
        """Count one hit; over ``limit``, raise :class:`~core.errors.RateLimited` ("too many
        ``what``; try again in N s", with ``Retry-After``)."""
        result = await self.hit(key, limit, seconds)
        if not result.allowed:
            raise _refusal(what, result.retry_after)

    async def reset(self, key: str) -> None:
        """Forget ``key``'s count (a successful log-in clears its failed attempts)."""
        await self.redis.delete(key)


def _refusal(what: str, retry_after: int) -> RateLimited:
    """The 429 for "too many ``what``": the detail names the wait, the response carries
    ``Retry-After`` and the body ``retry_after``."""
    return RateLimited(f"too many {what}; try again in {retry_after}s", retry_after=retry_after)

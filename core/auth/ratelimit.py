"""Fixed-window counters in Redis, for log-in attempts per account and per address."""

from __future__ import annotations

from dataclasses import dataclass

import redis.asyncio as aioredis

from core.errors import PlatformError


class RateLimited(PlatformError):
    status = 429
    code = "rate_limited"
    title = "Too many requests"


@dataclass(frozen=True)
class Limit:
    name: str
    attempts: int
    window_seconds: int


class AttemptLimiter:
    """Counts attempts per key in a window; :meth:`check` raises once a key is over."""

    def __init__(self, redis: aioredis.Redis, prefix: str = "creator:attempts") -> None:
        self.redis = redis
        self.prefix = prefix

    def _key(self, limit: Limit, subject: str) -> str:
        return f"{self.prefix}:{limit.name}:{subject.lower()}"

    async def hit(self, limit: Limit, subject: str) -> None:
        """Record an attempt; raise :class:`RateLimited` (with ``retry_after``) when over."""
        key = self._key(limit, subject)
        async with self.redis.pipeline(transaction=True) as pipe:
            # SET NX EX opens the window once; Redis 6.2 (embedded) has no EXPIRE NX.
            pipe.set(key, 0, ex=limit.window_seconds, nx=True)
            pipe.incr(key)
            pipe.ttl(key)
            _, count, ttl = await pipe.execute()
        if count > limit.attempts:
            retry_after = max(int(ttl), 1)
            raise RateLimited(
                f"too many {limit.name.replace('_', ' ')} attempts; try again in {retry_after}s",
                retry_after=retry_after,
            )

    async def reset(self, limit: Limit, subject: str) -> None:
        await self.redis.delete(self._key(limit, subject))

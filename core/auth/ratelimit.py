"""Log-in and sign-up attempts, limited per account and per address on
:class:`core.limits.RateLimiter`."""

from __future__ import annotations

from dataclasses import dataclass

from core.limits import RateLimiter


@dataclass(frozen=True)
class Limit:
    name: str
    attempts: int
    window_seconds: int


class AttemptLimiter:
    """Counts attempts per key in a window; :meth:`hit` raises once a key is over."""

    def __init__(self, limiter: RateLimiter, prefix: str = "creator:attempts") -> None:
        self.limiter = limiter
        self.prefix = prefix

    def _key(self, limit: Limit, subject: str) -> str:
        return f"{self.prefix}:{limit.name}:{subject.lower()}"

    async def hit(self, limit: Limit, subject: str) -> None:
        """Record an attempt; raise :class:`~core.errors.RateLimited` when over."""
        await self.limiter.enforce(
            self._key(limit, subject),
            limit.attempts,
            limit.window_seconds,
            what=f"{limit.name.replace('_', ' ')} attempts",
        )

    async def reset(self, limit: Limit, subject: str) -> None:
        await self.limiter.reset(self._key(limit, subject))

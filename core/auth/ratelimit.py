"""Log-in and sign-up attempts: fixed-window limits (:class:`Limit`, on
:class:`core.limits.RateLimiter`) and progressive delays (:class:`Backoff`), both in Redis so
every process of a deployment agrees.

A fixed-window limit locks its key out until the window ends: right for an address that
tries many accounts. On an account it would let anyone lock its owner out by guessing
wrong ten times, so accounts get a :class:`Backoff` instead: a few attempts go freely, then
each further attempt must wait twice as long as the one before (up to a cap) after the
previous attempt. An attempt that comes too early is refused (429, ``Retry-After``) and
neither counts nor stretches the wait, so hammering cannot keep the owner out for longer
than the cap; the owner's right password, once the wait is over, logs in and clears the
count. An attacker gets a handful of guesses an hour, however many addresses they spread
them over.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from core.errors import RateLimited
from core.limits import RateLimiter


@dataclass(frozen=True)
class Limit:
    name: str
    attempts: int
    window_seconds: int


@dataclass(frozen=True)
class Backoff:
    """``free_attempts`` go without waiting; after attempt ``free_attempts + k`` (k >= 0)
    the next waits ``first_delay_seconds * 2**k``, at most ``max_delay_seconds``. The count
    is forgotten ``forget_after_seconds`` after the last counted attempt."""

    name: str
    free_attempts: int
    first_delay_seconds: float
    max_delay_seconds: float
    forget_after_seconds: int


# KEYS: the attempt count, the wait marker (it expires when the wait is over).
# ARGV: free attempts, first delay (ms), max delay (ms), forget after (s).
# Returns {1, count} for a counted attempt, {0, ms left} for one refused as too early.
# One script, so two processes never both take the attempt a wait has just let through.
_BACKOFF_SCRIPT = """
local left = redis.call('PTTL', KEYS[2])
if left > 0 then return {0, left} end
local count = redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[4]))
local over = count - tonumber(ARGV[1])
if over >= 0 then
  local delay = math.min(tonumber(ARGV[2]) * 2 ^ over, tonumber(ARGV[3]))
  redis.call('SET', KEYS[2], 1, 'PX', math.max(math.floor(delay), 1))
end
return {1, count}
"""


class AttemptLimiter:
    """Attempts per key: :meth:`hit` for a :class:`Limit`, :meth:`take_turn` for a
    :class:`Backoff`; each raises :class:`~core.errors.RateLimited` when refused."""

    def __init__(self, limiter: RateLimiter, prefix: str = "creator:attempts") -> None:
        self.limiter = limiter
        self.prefix = prefix
        self._backoff = limiter.redis.register_script(_BACKOFF_SCRIPT)

    def _key(self, limit: Limit | Backoff, subject: str) -> str:
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

    async def take_turn(self, backoff: Backoff, subject: str) -> None:
        """Count an attempt of ``subject``, or raise :class:`~core.errors.RateLimited` if it
        must still wait (that refusal is not counted). Count first, check after: the caller
        clears the count with :meth:`forgive` when the attempt succeeds."""
        key = self._key(backoff, subject)
        counted, value = await self._backoff(
            keys=[key, key + ":wait"],
            args=[
                backoff.free_attempts,
                int(backoff.first_delay_seconds * 1000),
                int(backoff.max_delay_seconds * 1000),
                backoff.forget_after_seconds,
            ],
        )
        if not counted:
            seconds = max(math.ceil(int(value) / 1000), 1)
            raise RateLimited(
                f"too many failed {backoff.name.replace('_', ' ')} attempts; "
                f"try again in {seconds}s",
                retry_after=seconds,
            )

    async def waiting(self, backoff: Backoff, subject: str) -> float:
        """Seconds ``subject`` must still wait before its next attempt (0: none)."""
        left = await self.limiter.redis.pttl(self._key(backoff, subject) + ":wait")
        return max(int(left), 0) / 1000

    async def forgive(self, backoff: Backoff, subject: str) -> None:
        """Forget ``subject``'s attempts and any wait (a successful log-in)."""
        key = self._key(backoff, subject)
        await self.limiter.redis.delete(key, key + ":wait")

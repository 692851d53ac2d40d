"""Metering of hosted model calls against a monthly budget: ``platform.usage``.

A provider that spends the operator's money (a hosted LLM, a hosted embedding API) asks
before it calls and says afterwards what the call used::

    async with platform.usage.metered(group_id, "llm_tokens", estimate=n,
                                      provider="openai", model=model) as meter:
        response = await call_the_api()
        meter.used = response.usage.total_tokens  # else the estimate stands

Usage is counted per root organisation (a sub-group spends its organisation's budget)
and per UTC calendar month, against the month's budget of its kind: the settings
``hosted_llm_tokens_per_month`` and ``hosted_embedding_tokens_per_month`` (``0``: no
limit) until groups carry plans that say it. A call is refused with
:class:`BudgetExhausted` (402 ``budget_exhausted``) before it is made once the month's
count has reached the budget. Offline providers do not call this at all.

The count lives in Redis, not in a table: entering :meth:`Usage.metered` is one Lua script
that refuses when the count has reached the budget and otherwise adds the call's estimate
in the same step, so concurrent calls cannot all pass a check and then all spend. Each
admitted call has already counted its estimate, so the month ends over its budget by at
most one call's estimate (and by what calls used beyond their estimates). Leaving the
block replaces the estimate with what the API reported. Doing this in PostgreSQL would
need a row lock on the organisation's counter for every call, on the hot path of every
answer; Redis already holds the platform's shared counters (rate limits), every process
sees the same count, and the month's keys expire by themselves. What that costs: a Redis
that loses its data forgets the month's count, which errs towards allowing, never
towards refusing.
"""

from __future__ import annotations

import contextvars
import math
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal
from uuid import UUID

import msgspec

from core.errors import PlatformError
from core.ontology.store_base import ROOT_GROUP_SQL

if TYPE_CHECKING:
    import redis.asyncio as aioredis

    from core.db import Database
    from core.settings import Settings

UsageKind = Literal["llm_tokens", "embedding_tokens"]
USAGE_KINDS: tuple[UsageKind, ...] = ("llm_tokens", "embedding_tokens")

#: A month's counters are kept this long (a little over a year) for reports.
_KEEP_SECONDS = 400 * 24 * 3600
#: Roots remembered per process (a group's parent does not change).
_ROOTS_KEPT = 10_000

# KEYS[1] the month's counter; ARGV budget (0: none), amount, seconds to keep.
# Refuses (0, count) when the count has reached the budget; else adds and says (1, count).
_RESERVE_LUA = """
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
local budget = tonumber(ARGV[1])
if budget > 0 and used >= budget then
    return {0, used}
end
local now = redis.call('INCRBY', KEYS[1], ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[3])
return {1, now}
"""


#: The group whose budget the hosted calls made in this context spend (``None``: none).
_charged: contextvars.ContextVar[UUID | None]
_charged = contextvars.ContextVar("creator_usage_charged_group", default=None)


@contextmanager
def charged_to(group_id: UUID | None) -> Iterator[None]:
    """Within the block, hosted embedding calls spend ``group_id``'s budget. Core's
    knowledge ingest and search say so; a plugin that calls an embedding provider itself
    wraps the call. Outside any block (the operator's re-embedding) nothing is metered.
    Use it around awaits, not across an async generator's ``yield``."""
    token = _charged.set(group_id)
    try:
        yield
    finally:
        _charged.reset(token)


def charged_group() -> UUID | None:
    """The group :func:`charged_to` names here, if any."""
    return _charged.get()


class BudgetExhausted(PlatformError):
    """The organisation's hosted-model budget for this month is spent: no call was made."""

    status = 402
    code = "budget_exhausted"
    title = "Monthly budget exhausted"


class UsageReport(msgspec.Struct, frozen=True):
    """One kind's use this month by a root organisation, against its budget
    (``budget`` ``None``: no limit)."""

    root_group_id: UUID
    kind: str
    month: str
    used: int
    budget: int | None
    remaining: int | None


def month_of(now: datetime | None = None) -> str:
    """The UTC calendar month (``2026-12``) that contains ``now``."""
    return (now or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m")


def estimate_tokens(text: str) -> int:
    """Tokens of ``text`` when an API does not report them: about four characters each,
    which over-counts prose a little rather than under-counting it."""
    return math.ceil(len(text) / 4)


class Meter:
    """What :meth:`Usage.metered` yields: set ``used`` to the tokens the API reported;
    left ``None``, the estimate is what counts."""

    __slots__ = ("estimate", "used")

    def __init__(self, estimate: int) -> None:
        self.estimate = estimate
        self.used: int | None = None


class Usage:
    """Hosted calls' usage per root organisation and month (module doc)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._redis: aioredis.Redis | None = None
        self._db: Database | None = None
        self._roots: dict[UUID, UUID] = {}

    def bind(self, redis: aioredis.Redis, db: Database) -> None:
        """Called by ``platform.start()``: where counts live and roots are found."""
        self._redis = redis
        self._db = db

    @property
    def redis(self) -> aioredis.Redis:
        if self._redis is None:
            raise RuntimeError("the platform has not started")
        return self._redis

    def budget(self, kind: UsageKind) -> int:
        """The monthly budget of ``kind`` (``0``: no limit)."""
        if kind == "llm_tokens":
            return self.settings.hosted_llm_tokens_per_month
        if kind == "embedding_tokens":
            return self.settings.hosted_embedding_tokens_per_month
        raise ValueError(f"unknown usage kind {kind!r}; known: {', '.join(USAGE_KINDS)}")

    async def root_of(self, group_id: UUID) -> UUID:
        """The root organisation above ``group_id`` (itself at the top)."""
        root = self._roots.get(group_id)
        if root is None:
            if self._db is None:
                raise RuntimeError("the platform has not started")
            # groups are not row-level secured: any pooled connection reads the chain
            root = await self._db.pool.fetchval(ROOT_GROUP_SQL, group_id) or group_id
            if len(self._roots) >= _ROOTS_KEPT:
                self._roots.clear()
            self._roots[group_id] = root
        return root

    @staticmethod
    def _key(root: UUID, kind: str, month: str) -> str:
        return f"creator:usage:{root}:{month}:{kind}"

    async def report(self, group_id: UUID, kind: UsageKind) -> UsageReport:
        """This month's use of ``kind`` by ``group_id``'s organisation."""
        budget = self.budget(kind)
        root = await self.root_of(group_id)
        month = month_of()
        used = int(await self.redis.get(self._key(root, kind, month)) or 0)
        limit = budget or None
        remaining = None if limit is None else max(limit - used, 0)
        return UsageReport(root, kind, month, used, limit, remaining)

    def _refusal(self, report: UsageReport) -> BudgetExhausted:
        setting = f"hosted_{report.kind}_per_month"
        what = report.kind.replace("_", " ")
        return BudgetExhausted(
            f"this organisation has used its {report.budget} hosted {what} "
            f"for {report.month} ({report.used} used); the budget ({setting}) renews on the "
            "first of next month (UTC)",
            kind=report.kind,
            budget=report.budget,
            used=report.used,
            month=report.month,
        )

    async def check(self, group_id: UUID, kind: UsageKind) -> UsageReport:
        """Refuse (:class:`BudgetExhausted`) when the month's budget of ``kind`` is spent;
        else this month's report. A read: for a hint before work that will call through
        :meth:`metered`, which is what enforces."""
        report = await self.report(group_id, kind)
        if report.budget is not None and report.used >= report.budget:
            raise self._refusal(report)
        return report

    async def record(
        self,
        group_id: UUID,
        kind: UsageKind,
        amount: int,
        *,
        provider: str = "",
        model: str = "",
    ) -> int:
        """Count ``amount`` used (after the fact) and return the month's total."""
        self.budget(kind)  # an unknown kind is a programming error
        if amount < 0:
            raise ValueError("amount must not be negative")
        root = await self.root_of(group_id)
        month = month_of()
        key = self._key(root, kind, month)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.incrby(key, amount)
            pipe.expire(key, _KEEP_SECONDS)
            # by provider and model, for the operator's report
            pipe.hincrby(f"{key}:by_model", f"{provider}/{model}", amount)
            pipe.expire(f"{key}:by_model", _KEEP_SECONDS)
            total, *_ = await pipe.execute()
        return int(total)

    @asynccontextmanager
    async def metered(
        self,
        group_id: UUID,
        kind: UsageKind,
        *,
        estimate: int,
        provider: str = "",
        model: str = "",
    ) -> AsyncIterator[Meter]:
        """Admit one call (or refuse it: :class:`BudgetExhausted`), counting ``estimate``
        at once; on leaving, count what ``meter.used`` says instead. A call that fails
        before reporting anything gives its estimate back."""
        budget = self.budget(kind)
        estimate = max(int(estimate), 0)
        root = await self.root_of(group_id)
        month = month_of()
        key = self._key(root, kind, month)
        admitted, count = await self.redis.eval(  # type: ignore[misc]
            _RESERVE_LUA, 1, key, str(budget), str(estimate), str(_KEEP_SECONDS)
        )
        if not admitted:
            raise self._refusal(UsageReport(root, kind, month, int(count), budget, 0))
        meter = Meter(estimate)
        try:
            yield meter
        except BaseException:
            if meter.used is None:
                await self.redis.decrby(key, estimate)
                raise
            await self._settle(key, meter, provider, model)
            raise
        await self._settle(key, meter, provider, model)

    async def _settle(self, key: str, meter: Meter, provider: str, model: str) -> None:
        used = meter.estimate if meter.used is None else max(int(meter.used), 0)
        async with self.redis.pipeline(transaction=True) as pipe:
            if used != meter.estimate:
                pipe.incrby(key, used - meter.estimate)
            pipe.hincrby(f"{key}:by_model", f"{provider}/{model}", used)
            pipe.expire(f"{key}:by_model", _KEEP_SECONDS)
            await pipe.execute()

"""Background jobs registered by plugins, run by arq workers (``core.worker``).

Services enqueue with ``await platform.jobs.enqueue(name, *args, group_id=..., **kwargs)``,
which returns the job id; ``await platform.jobs.status(job_id, group_id=...)`` answers
where it is (``GET /api/v1/groups/{group_id}/jobs/{job_id}``). A job belongs to the group
it was enqueued for: asked from another group it does not exist.

A job function is ``async def function(ctx, *args, **kwargs)``. Beside arq's keys
(``job_id``, ``job_try``, ``redis``), ``ctx`` carries ``platform``, ``group_id`` (``None``
for cron runs), ``ontology`` (stores scoped to that group as the system, or ``None``) and
``progress`` — ``await ctx["progress"](done, total)`` makes the progress visible in the
job's status. A job that raises is retried with exponential backoff until ``max_tries``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

import msgspec

from core.errors import Conflict
from core.ontology.ids import uuid7

if TYPE_CHECKING:
    import redis.asyncio as aioredis
    from arq.connections import ArqRedis

    from core.ontology.records import Event
    from core.settings import Settings

#: Keyword argument that carries the group of a job enqueued through ``JobRegistry``.
GROUP_KWARG = "creator_group_id"
#: Redis hash per job: its group, name, enqueue time and reported progress.
META_PREFIX = "creator:job:"
META_TTL_SECONDS = 7 * 24 * 3600
#: Longest result summary (characters of JSON) a status answer carries.
MAX_RESULT_CHARS = 2000


@dataclass(frozen=True)
class Job:
    """A coroutine ``function(ctx, *args)`` the worker runs; ``cron`` (an arq ``cron``
    keyword dict such as ``{"minute": 0}``) also schedules it. One try may run for
    ``timeout_seconds`` (unset: the ``job_timeout_seconds`` setting); long work whose
    retry continues where a try stopped (embedding a large knowledge base) sets more."""

    function: Callable[..., Any]
    name: str = ""
    cron: dict[str, Any] | None = None
    max_tries: int = 5
    timeout_seconds: float | None = None

    @property
    def qualified_name(self) -> str:
        return self.name or getattr(self.function, "__name__", repr(self.function))


class DuplicateJobError(Exception):
    """Two plugins registered a job of the same name."""


class UnknownJobError(LookupError):
    """``enqueue`` of a name no enabled plugin registered."""


class JobIdTaken(Conflict):
    """``enqueue`` with an explicit job id that another group's job already has."""


class JobProgress(msgspec.Struct):
    done: int
    total: int | None = None


class JobInfo(msgspec.Struct):
    """A job's state: ``queued``, ``in_progress``, ``complete``, ``failed`` or
    ``not_found`` (its record expired). ``result`` summarises what a complete job
    returned; ``error`` says why a failed one failed."""

    id: str
    name: str
    status: str
    enqueued_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    attempts: int | None = None
    progress: JobProgress | None = None
    result: Any = None
    error: str | None = None


def backoff_seconds(attempt: int, base: float, cap: float = 300.0) -> float:
    """Delay before try ``attempt + 1``: ``base``, ``2 base``, ``4 base``, ... up to ``cap``."""
    return float(min(cap, base * 2 ** max(0, attempt - 1)))


def summarize(result: Any) -> Any:
    """A JSON-able summary of a job's result: itself if small and JSON-able, else a repr."""
    try:
        builtins = msgspec.to_builtins(result)
        if len(msgspec.json.encode(builtins)) <= MAX_RESULT_CHARS:
            return builtins
    except (TypeError, msgspec.EncodeError):
        pass
    text = repr(result)
    return text if len(text) <= MAX_RESULT_CHARS else text[: MAX_RESULT_CHARS - 3] + "..."


def _decode(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class JobRegistry:
    def __init__(self) -> None:
        self.jobs: dict[str, tuple[str, Job]] = {}
        self._arq: ArqRedis | None = None
        self._settings: Settings | None = None

    def add(self, plugin: str, job: Job) -> None:
        name = job.qualified_name
        if job.timeout_seconds is not None and not job.timeout_seconds > 0:
            raise ValueError(f"plugin {plugin!r}: job {name!r} timeout_seconds must be positive")
        self.jobs[name] = (plugin, job)  # unique: the platform uses collect_unique

    def by_plugin(self, plugin: str) -> list[str]:
        return sorted(name for name, (owner, _) in self.jobs.items() if owner == plugin)

    # -- a running platform -----------------------------------------------------------------

    def bind(self, redis: aioredis.Redis, settings: Settings) -> None:
        """Enqueue through the platform's Redis connection pool (at start-up)."""
        from arq.connections import ArqRedis

        self._arq = ArqRedis(redis.connection_pool)
        self._settings = settings

    @property
    def arq(self) -> ArqRedis:
        if self._arq is None:
            raise RuntimeError("the platform has not started")
        return self._arq

    async def enqueue(
        self,
        name: str,
        *args: Any,
        group_id: UUID | None,
        job_id: str | None = None,
        defer_by: float | None = None,
        **kwargs: Any,
    ) -> str:
        """Queue job ``name`` for ``group_id``; returns the job id. With ``job_id`` given,
        enqueueing the same id again while it is queued (or its result is kept) is a no-op
        that returns the same id."""
        if name not in self.jobs:
            raise UnknownJobError(f"no job {name!r} is registered by an enabled plugin")
        job_id = job_id or uuid7().hex
        owner = str(group_id) if group_id else ""
        # The record names the job's group: the first enqueuer of an id owns it, so a
        # chosen id can never move another group's job (and its status) to this one.
        if not await self.arq.hsetnx(META_PREFIX + job_id, "group_id", owner):  # type: ignore[misc]
            existing = await self.arq.hget(META_PREFIX + job_id, "group_id")  # type: ignore[misc]
            if _decode(existing) != owner:
                raise JobIdTaken(f"job id {job_id!r} belongs to another group")
        meta: dict[str | bytes, str | int | float] = {"name": name, "enqueued_at": time.time()}
        async with self.arq.pipeline(transaction=False) as pipe:
            pipe.hset(META_PREFIX + job_id, mapping=meta)
            pipe.expire(META_PREFIX + job_id, META_TTL_SECONDS)
            await pipe.execute()
        if group_id is not None:
            kwargs[GROUP_KWARG] = str(group_id)
        await self.arq.enqueue_job(name, *args, _job_id=job_id, _defer_by=defer_by, **kwargs)
        return job_id

    async def enqueue_handler(self, event: Event, key: str) -> bool:
        """Queue durable handler ``key`` for ``event`` (job id ``<event id>:<key>``); False
        if that job is already queued or done (a redelivery)."""
        from core.events import HANDLER_JOB

        job = await self.arq.enqueue_job(
            HANDLER_JOB, str(event.group_id), str(event.id), key, _job_id=f"{event.id}:{key}"
        )
        return job is not None

    async def report_progress(self, job_id: str, done: int, total: int | None = None) -> None:
        mapping: dict[str | bytes, int] = {"done": int(done)}
        if total is not None:
            mapping["total"] = int(total)
        async with self.arq.pipeline(transaction=False) as pipe:
            pipe.hset(META_PREFIX + job_id, mapping=mapping)
            pipe.expire(META_PREFIX + job_id, META_TTL_SECONDS)
            await pipe.execute()

    async def status(self, job_id: str, *, group_id: UUID) -> JobInfo | None:
        """Where job ``job_id`` of ``group_id`` is; ``None`` if no such job of this group."""
        from arq.jobs import Job as ArqJob
        from arq.jobs import JobStatus

        raw: dict[Any, Any] = await self.arq.hgetall(META_PREFIX + job_id)  # type: ignore[misc]
        meta = {_decode(k): _decode(v) for k, v in raw.items()}
        if not meta or meta.get("group_id") != str(group_id):
            return None
        info = JobInfo(id=job_id, name=meta.get("name", ""), status="not_found")
        if "enqueued_at" in meta:
            info.enqueued_at = datetime.fromtimestamp(float(meta["enqueued_at"]), UTC)
        if "done" in meta:
            total = int(meta["total"]) if "total" in meta else None
            info.progress = JobProgress(done=int(meta["done"]), total=total)
        job = ArqJob(job_id, self.arq)
        state = await job.status()
        if state == JobStatus.complete:
            result = await job.result_info()
            if result is not None:
                info.status = "complete" if result.success else "failed"
                info.started_at = result.start_time
                info.finished_at = result.finish_time
                info.attempts = result.job_try
                if result.success:
                    info.result = summarize(result.result)
                else:
                    info.error = f"{type(result.result).__name__}: {result.result}"
        elif state == JobStatus.in_progress:
            info.status = "in_progress"
        elif state in (JobStatus.queued, JobStatus.deferred):
            info.status = "queued"
            tries = await self.arq.get(f"arq:retry:{job_id}")
            if tries is not None:
                info.attempts = int(tries)
        return info

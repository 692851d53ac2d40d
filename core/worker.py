"""The job worker: an arq ``Worker`` running every enabled plugin's jobs and cron jobs, the
durable event handlers, and the outbox relay.

``creator worker`` runs one on its own; ``creator serve`` runs one inside the app process
when ``worker`` is on (the default with embedded servers), so one command is enough on a
laptop. :class:`Background` is what the app's lifespan starts: the relay always, the
worker when asked.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import warnings
from typing import TYPE_CHECKING, Any
from uuid import UUID

from arq import Retry
from arq.connections import RedisSettings
from arq.cron import CronJob, cron
from arq.worker import Function, Worker, func

from core.errors import NotFound
from core.events import HANDLER_JOB, OutboxRelay
from core.jobs import GROUP_KWARG, Job, backoff_seconds
from core.metrics import JOBS
from core.ontology.scope import Scope

if TYPE_CHECKING:
    from core.platform import Platform

log = logging.getLogger("creator.worker")

#: How long a stopping worker waits for running jobs before cancelling them.
STOP_GRACE_SECONDS = 10.0


def _job_function(platform: Platform, name: str, job: Job) -> Any:
    async def run(ctx: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        group = kwargs.pop(GROUP_KWARG, None)
        group_id = UUID(group) if group else None
        job_id = str(ctx.get("job_id", ""))

        async def progress(done: int, total: int | None = None) -> None:
            await platform.jobs.report_progress(job_id, done, total)

        ctx = {
            **ctx,
            "platform": platform,
            "group_id": group_id,
            "ontology": platform.ontology.scoped(Scope.system(group_id)) if group_id else None,
            "progress": progress,
        }
        attempt = int(ctx.get("job_try") or 1)
        try:
            result = await job.function(ctx, *args, **kwargs)
        except Retry:
            JOBS.labels(name, "retried").inc()
            raise
        except Exception as exc:
            if attempt < job.max_tries:
                JOBS.labels(name, "retried").inc()
                log.warning("job %s (%s) try %d failed: %r; retrying", name, job_id, attempt, exc)
                delay = backoff_seconds(attempt, platform.settings.job_retry_base_seconds)
                raise Retry(defer=delay) from exc
            JOBS.labels(name, "failed").inc()
            raise
        JOBS.labels(name, "complete").inc()
        return result

    run.__qualname__ = run.__name__ = name
    return run


async def _event_handler_job(ctx: dict[str, Any], group_id: str, event_id: str, key: str) -> str:
    """Run durable handler ``key`` on one event; retry with backoff; dead-letter at the end."""
    platform: Platform = ctx["platform"]
    attempt = int(ctx.get("job_try") or 1)
    max_tries = platform.settings.job_max_tries
    try:
        event = await platform.ontology.scoped(Scope.system(UUID(group_id))).events.get(
            UUID(event_id)
        )
    except NotFound:
        JOBS.labels(HANDLER_JOB, "complete").inc()
        return "event gone"
    try:
        await platform.bus.run_durable(key, event, attempt)
    except Exception as exc:
        if attempt < max_tries:
            JOBS.labels(HANDLER_JOB, "retried").inc()
            delay = backoff_seconds(attempt, platform.settings.job_retry_base_seconds)
            log.warning(
                "durable handler %s failed on %s %s (try %d of %d): %r; retrying in %.2fs",
                key, event.type, event.id, attempt, max_tries, exc, delay,
            )  # fmt: skip
            raise Retry(defer=delay) from exc
        JOBS.labels(HANDLER_JOB, "failed").inc()
        await platform.bus.record_failure(event, key, exc, attempts=attempt)
        log.error("durable handler %s gave up on %s %s after %d tries", key, event.type,
                  event.id, attempt)  # fmt: skip
        raise
    JOBS.labels(HANDLER_JOB, "complete").inc()
    return "ok"


def build_worker(platform: Platform, *, burst: bool = False) -> Worker:
    """An arq worker for the platform's jobs (call inside the event loop that runs it)."""
    settings = platform.settings
    assert settings.redis_url, "the platform has not started"
    functions: list[Function] = [
        func(_event_handler_job, name=HANDLER_JOB, max_tries=settings.job_max_tries + 1)
    ]
    cron_jobs: list[CronJob] = []
    for name, (_plugin, job) in platform.jobs.jobs.items():
        wrapped = _job_function(platform, name, job)
        functions.append(func(wrapped, name=name, max_tries=job.max_tries + 1))
        if job.cron is not None:
            cron_jobs.append(cron(wrapped, name=f"cron:{name}", **job.cron))
    return Worker(
        functions=functions,
        cron_jobs=cron_jobs,
        redis_settings=RedisSettings.from_dsn(settings.redis_url),
        handle_signals=False,
        poll_delay=settings.worker_poll_delay_seconds,
        max_jobs=settings.worker_max_jobs,
        ctx={"platform": platform},
        burst=burst,
    )


async def stop_worker(worker: Worker, task: asyncio.Task[None]) -> None:
    """Stop picking jobs, let running ones finish (for a while), then close."""
    worker.allow_pick_jobs = False
    running = [t for t in worker.tasks.values() if not t.done()]
    if running:
        await asyncio.wait(running, timeout=STOP_GRACE_SECONDS)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task
    with contextlib.suppress(asyncio.CancelledError, Exception), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # arq 0.28 calls redis' close()
        await worker.close()


class Background:
    """The outbox relay and (optionally) a job worker, as tasks of the running loop."""

    def __init__(self, platform: Platform, *, worker: bool) -> None:
        self.platform = platform
        self.with_worker = worker
        self.relay = OutboxRelay(platform.bus, platform.ontology, platform.settings)
        self.worker: Worker | None = None
        self._stop = asyncio.Event()
        self._relay_task: asyncio.Task[None] | None = None
        self._worker_task: asyncio.Task[None] | None = None

    async def start(self) -> Background:
        self._relay_task = asyncio.create_task(self.relay.run(self._stop), name="outbox-relay")
        if self.with_worker:
            self.worker = build_worker(self.platform)
            self._worker_task = asyncio.create_task(self.worker.async_run(), name="job-worker")
            log.info("job worker running in this process")
        return self

    async def wait(self) -> None:
        """Until :meth:`stop` (or the worker dies)."""
        waiters: list[asyncio.Future[Any]] = [asyncio.ensure_future(self._stop.wait())]
        if self._worker_task is not None:
            waiters.append(asyncio.shield(self._worker_task))
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()

    async def stop(self) -> None:
        self._stop.set()
        if self.worker is not None and self._worker_task is not None:
            await stop_worker(self.worker, self._worker_task)
        if self._relay_task is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(self._relay_task, 10.0)


async def run_worker(platform: Platform, stop: asyncio.Event | None = None) -> None:
    """``creator worker``: start the platform, run worker + relay until ``stop`` is set."""
    await platform.start()
    try:
        background = await Background(platform, worker=True).start()
        try:
            if stop is None:
                await background.wait()
            else:
                await stop.wait()
        finally:
            await background.stop()
    finally:
        await platform.stop()

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
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any
from uuid import UUID

from arq import Retry
from arq.connections import RedisSettings
from arq.constants import in_progress_key_prefix
from arq.cron import CronJob, cron
from arq.worker import Function, Worker, func

from core.errors import NotFound
from core.events import HANDLER_JOB, OutboxRelay
from core.jobs import GROUP_KWARG, Job, backoff_seconds
from core.looplag import LoopLagMonitor, in_flight
from core.metrics import JOBS
from core.ontology.records import Event
from core.ontology.scope import Scope

if TYPE_CHECKING:
    from core.platform import Platform
    from core.settings import Settings

log = logging.getLogger("creator.worker")

#: How long a stopping worker waits for running jobs before cancelling them.
STOP_GRACE_SECONDS = 10.0
#: How often a job allowed longer than the job timeout setting renews arq's mark that it is
#: running (see :func:`in_progress_seconds`).
IN_PROGRESS_RENEW_SECONDS = 30.0
#: arq's timeout of a try is ours plus this: after our own limit fires, the retry or the
#: dead letter (one database write) is ours to record before arq gives up on the try.
ARQ_TIMEOUT_MARGIN_SECONDS = 10.0
#: arq's running mark outlasts its timeout by this, as arq's own default does.
IN_PROGRESS_SLACK_SECONDS = 10.0


def in_progress_seconds(settings: Settings) -> float:
    """How long arq marks a job as running, so that no other worker takes it: the job
    timeout setting plus arq's margins. It is also how long a job of a worker that was
    killed waits before another worker retries it, so it stays short: arq would make it
    the longest job's timeout, for every job, and one job allowed 6 hours would leave any
    job of a crashed worker, a durable event handler included, untaken for 6 hours. Jobs
    allowed longer renew their mark while they run instead."""
    return settings.job_timeout_seconds + ARQ_TIMEOUT_MARGIN_SECONDS + IN_PROGRESS_SLACK_SECONDS


async def _renew_in_progress(redis: Any, job_id: str, seconds: float) -> None:
    """Keep arq's running mark of ``job_id`` for ``seconds`` more, every
    ``IN_PROGRESS_RENEW_SECONDS`` (or a third of ``seconds``, if less), until cancelled."""
    while True:
        await asyncio.sleep(min(IN_PROGRESS_RENEW_SECONDS, seconds / 3))
        with contextlib.suppress(Exception):  # a Redis blip: the next turn tries again
            await redis.pexpire(in_progress_key_prefix + job_id, int(seconds * 1000))


async def _try(
    platform: Platform,
    name: str,
    attempt: int,
    max_tries: int,
    work: Callable[[], Awaitable[Any]],
    give_up: Callable[[BaseException], Awaitable[None]] | None = None,
    time_limit: float | None = None,
    job_id: str = "",
) -> Any:
    """Run ``work`` as try ``attempt`` of ``max_tries``, within ``time_limit`` (unset: the job
    timeout setting). A failure, a timeout included, is retried with backoff; after the
    last try ``give_up`` records it (a durable handler's dead letter) and the error is
    raised. While it runs, the job is listed in ``in_flight`` (a loop stall names it)."""
    settings = platform.settings
    running = in_flight.job_started(name, job_id)
    try:
        result = await asyncio.wait_for(work(), time_limit or settings.job_timeout_seconds)
    except Retry:  # the job asked for it
        JOBS.labels(name, "retried").inc()
        raise
    except Exception as exc:
        if attempt < max_tries:
            JOBS.labels(name, "retried").inc()
            delay = backoff_seconds(attempt, settings.job_retry_base_seconds)
            log.warning(
                "%s failed (try %d of %d): %r; retrying in %.2fs",
                name,
                attempt,
                max_tries,
                exc,
                delay,
            )
            raise Retry(defer=delay) from exc
        JOBS.labels(name, "failed").inc()
        if give_up is not None:
            await give_up(exc)
        raise
    finally:
        in_flight.ended(running)
    JOBS.labels(name, "complete").inc()
    return result


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
        marked = in_progress_seconds(platform.settings)
        renew = None
        if (
            job.timeout_seconds is not None
            and job.timeout_seconds + ARQ_TIMEOUT_MARGIN_SECONDS > marked
        ):
            renew = asyncio.create_task(_renew_in_progress(ctx["redis"], job_id, marked))
        try:
            return await _try(
                platform,
                name,
                attempt,
                job.max_tries,
                lambda: job.function(ctx, *args, **kwargs),
                time_limit=job.timeout_seconds,
                job_id=job_id,
            )
        finally:
            if renew is not None:
                renew.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await renew

    run.__qualname__ = run.__name__ = name
    return run


async def _event_handler_job(ctx: dict[str, Any], group_id: str, event_id: str, key: str) -> str:
    """Run durable handler ``key`` on one event; retry with backoff; dead-letter at the end.
    Reading the event is part of the try, so a database blip is retried, not lost."""
    platform: Platform = ctx["platform"]
    attempt = int(ctx.get("job_try") or 1)
    event: Event | None = None

    async def work() -> str:
        nonlocal event
        events = platform.ontology.scoped(Scope.system(UUID(group_id))).events
        try:
            event = await events.get(UUID(event_id))
        except NotFound:
            return "event gone"
        await platform.bus.run_durable(key, event, attempt)
        return "ok"

    async def give_up(exc: BaseException) -> None:
        if event is not None:
            await platform.bus.record_failure(event, key, exc, attempts=attempt)
        log.error(
            "durable handler %s gave up on event %s after %d tries: %r", key, event_id, attempt, exc
        )

    return str(
        await _try(
            platform,
            HANDLER_JOB,
            attempt,
            platform.settings.job_max_tries,
            work,
            give_up,
            job_id=str(ctx.get("job_id", "")),
        )
    )


def build_worker(platform: Platform, *, burst: bool = False) -> Worker:
    """An arq worker for the platform's jobs (call inside the event loop that runs it)."""
    settings = platform.settings
    assert settings.redis_url, "the platform has not started"
    # arq's own timeout sits above ours, so a hung try is ours to retry, not arq's to drop.
    arq_timeout = settings.job_timeout_seconds + ARQ_TIMEOUT_MARGIN_SECONDS
    functions: list[Function] = [
        func(
            _event_handler_job,
            name=HANDLER_JOB,
            max_tries=settings.job_max_tries + 1,
            timeout=arq_timeout,
        )
    ]
    cron_jobs: list[CronJob] = []
    for name, (_plugin, job) in platform.jobs.jobs.items():
        wrapped = _job_function(platform, name, job)
        timeout = (job.timeout_seconds or settings.job_timeout_seconds) + ARQ_TIMEOUT_MARGIN_SECONDS
        functions.append(func(wrapped, name=name, max_tries=job.max_tries + 1, timeout=timeout))
        if job.cron is not None:
            cron_jobs.append(
                cron(
                    wrapped,
                    name=f"cron:{name}",
                    max_tries=job.max_tries + 1,
                    timeout=timeout,
                    **job.cron,
                )
            )
    worker = Worker(
        functions=functions,
        cron_jobs=cron_jobs,
        redis_settings=RedisSettings.from_dsn(settings.redis_url),
        handle_signals=False,
        poll_delay=settings.worker_poll_delay_seconds,
        max_jobs=settings.worker_max_jobs,
        ctx={"platform": platform},
        burst=burst,
    )
    worker.in_progress_timeout_s = in_progress_seconds(settings)  # not the longest job's
    return worker


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
    """The outbox relay, the loop-lag monitor and (optionally) a job worker, as tasks of
    the running loop."""

    def __init__(self, platform: Platform, *, worker: bool) -> None:
        self.platform = platform
        self.with_worker = worker
        self.loop_lag = LoopLagMonitor(platform.settings.loop_lag_warn_seconds)
        self.relay = OutboxRelay(platform.bus, platform.ontology, platform.settings)
        self.worker: Worker | None = None
        self._stop = asyncio.Event()
        self._relay_task: asyncio.Task[None] | None = None
        self._worker_task: asyncio.Task[None] | None = None

    async def start(self) -> Background:
        self.loop_lag.start()
        self._relay_task = asyncio.create_task(self.relay.run(self._stop), name="outbox-relay")
        if self.with_worker:
            self.worker = build_worker(self.platform)
            self._worker_task = asyncio.create_task(self.worker.async_run(), name="job-worker")
            log.info("job worker running in this process")
        return self

    @property
    def worker_failed(self) -> bool:
        task = self._worker_task
        return task is not None and task.done() and not self._stop.is_set()

    async def wait(self, stop: asyncio.Event | None = None) -> None:
        """Until :meth:`stop`, ``stop`` is set, or the worker dies."""
        waiters: list[asyncio.Future[Any]] = [asyncio.ensure_future(self._stop.wait())]
        if stop is not None:
            waiters.append(asyncio.ensure_future(stop.wait()))
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
        await self.loop_lag.stop()


async def run_worker(platform: Platform, stop: asyncio.Event | None = None) -> None:
    """``creator worker``: start the platform, run worker + relay until ``stop`` is set."""
    await platform.start()
    try:
        background = await Background(platform, worker=True).start()
        try:
            await background.wait(stop)
            died = background.worker_failed  # before stop(), which ends the worker too
        finally:
            await background.stop()
        if died:
            raise RuntimeError("the job worker stopped unexpectedly; see the log above")
    finally:
        await platform.stop()

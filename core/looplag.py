"""How long the event loop is held: a monitor, and what was running when it was held.

Every request, job and event of a process shares one event loop; a step of CPU work that
does not yield (parsing a large upload, a regex that backtracks) stops all of them. The
:class:`LoopLagMonitor` is a task that sleeps :data:`INTERVAL_SECONDS` and measures how
late it wakes: that lateness is how long something held the loop. Each measurement goes
to :data:`core.metrics.LOOP_LAG`; one above the ``loop_lag_warn_seconds`` setting logs a
warning (logger ``creator.looplag``) naming the requests and jobs that were running
during the stall, taken from :data:`in_flight`, which the observability middleware and
the job worker keep up to date.

Tests read the worst lag since a moment: ``mark = monitor.mark()`` then
``monitor.max_lag_since(mark)``.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections import deque
from dataclasses import dataclass
from time import monotonic
from typing import TYPE_CHECKING, Any

from core.metrics import LOOP_LAG, LOOP_LAG_LAST

if TYPE_CHECKING:
    from collections.abc import Iterator

log = logging.getLogger("creator.looplag")

#: How often the monitor wakes; a stall shorter than this may go unseen.
INTERVAL_SECONDS = 0.1
#: Lags below this are noise (timer slack, a busy moment) and are not kept for
#: :meth:`LoopLagMonitor.max_lag_since`; the metric records every one.
KEPT_ABOVE_SECONDS = 0.02
#: Warning fields the message already shows; text lines do not repeat them.
_IN_MESSAGE = frozenset(("lag_seconds", "held_by"))
#: How many of the requests and jobs running during a stall its warning names.
MOST_NAMED = 3
#: How many recent lags, and recently finished requests/jobs, are remembered.
HISTORY = 256


@dataclass
class Running:
    """A request or job that is (or was, until ``ended``) running on ``loop``."""

    loop: asyncio.AbstractEventLoop
    kind: str  # "request" or "job"
    started: float
    #: For a request: its ASGI scope, read when described (routing fills the template in).
    scope: dict[str, Any] | None = None
    name: str = ""
    ident: str = ""
    ended: float | None = None

    def describe(self) -> str:
        if self.kind == "request" and self.scope is not None:
            route = self.scope.get("path_template") if "route_handler" in self.scope else None
            where = route or self.scope.get("path", "?")
            return f"request {self.scope.get('method', '?')} {where} (request id {self.ident})"
        return f"job {self.name} (job id {self.ident})"


class InFlight:
    """The requests and jobs running in this process now, and the last few that ended.

    One dict insert and one pop per request: cheap enough for every request."""

    def __init__(self) -> None:
        self._running: dict[int, Running] = {}
        self._ended: deque[Running] = deque(maxlen=HISTORY)
        self._keys = itertools.count()

    def request_started(self, scope: Any, request_id: str) -> int:
        return self._add(Running(_loop(), "request", monotonic(), scope=scope, ident=request_id))

    def job_started(self, name: str, job_id: str) -> int:
        return self._add(Running(_loop(), "job", monotonic(), name=name, ident=job_id))

    def _add(self, entry: Running) -> int:
        key = next(self._keys)
        self._running[key] = entry
        return key

    def ended(self, key: int) -> None:
        entry = self._running.pop(key, None)
        if entry is not None:
            entry.ended = monotonic()
            self._ended.append(entry)

    def during(self, loop: asyncio.AbstractEventLoop, since: float) -> Iterator[Running]:
        """Those on ``loop`` that were running at some moment after ``since``."""
        for entry in list(self._running.values()):
            if entry.loop is loop:
                yield entry
        for entry in list(self._ended):
            if entry.loop is loop and entry.ended is not None and entry.ended >= since:
                yield entry


def _loop() -> asyncio.AbstractEventLoop:
    return asyncio.get_running_loop()


#: This process's running requests and jobs.
in_flight = InFlight()


class LoopLagMonitor:
    """Measures how late the running loop wakes a task that sleeps ``interval`` seconds;
    warns above ``warn_seconds``. :meth:`start` and :meth:`stop` run inside the loop."""

    def __init__(self, warn_seconds: float, interval: float = INTERVAL_SECONDS) -> None:
        self.warn_seconds = warn_seconds
        self.interval = interval
        self._lags: deque[tuple[float, float]] = deque(maxlen=HISTORY)  # (woke at, lag)
        self._due: float | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> LoopLagMonitor:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="loop-lag-monitor")
        return self

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._due = None

    def mark(self) -> float:
        """A moment to measure from, for :meth:`max_lag_since`."""
        return monotonic()

    def held_now(self) -> float:
        """How long the loop has been held so far, if it is held now (else 0): callable
        from a signal handler or another thread while the loop's thread is busy."""
        due = self._due
        return max(0.0, monotonic() - due) if due is not None else 0.0

    def max_lag_since(self, mark: float) -> float:
        """The longest the loop was held (seconds) in a stall that began after ``mark``,
        including one still going on while the caller runs. A stall that ended just before
        ``mark`` may be recorded just after it (the monitor wakes when the loop lets it),
        so stalls are placed by when they began (woke - lag), not when they were seen."""
        worst = max((lag for woke, lag in self._lags if woke - lag >= mark), default=0.0)
        return max(worst, self.held_now())  # the monitor is due but the caller holds the loop

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            asked = monotonic()
            self._due = asked + self.interval
            await asyncio.sleep(self.interval)
            woke = monotonic()
            lag = max(0.0, woke - self._due)
            self._due = None
            self.record(lag, woke, loop, asked)

    def record(
        self, lag: float, woke: float, loop: asyncio.AbstractEventLoop, since: float
    ) -> None:
        LOOP_LAG.observe(lag)
        LOOP_LAG_LAST.set(lag)
        if lag >= KEPT_ABOVE_SECONDS:
            self._lags.append((woke, lag))
        if lag > self.warn_seconds:
            # The longest running first: the one holding the loop has been running at
            # least as long as the stall, and most others started while it was held.
            running = sorted(in_flight.during(loop, since), key=lambda entry: entry.started)
            held_by = list(dict.fromkeys(entry.describe() for entry in running))
            shown = "; ".join(held_by[:MOST_NAMED]) or "no request or job (platform code)"
            if len(held_by) > MOST_NAMED:
                shown += f"; and {len(held_by) - MOST_NAMED} more"
            log.warning(
                "event loop held for %.2fs; running then: %s",
                lag,
                shown,
                extra={
                    "lag_seconds": round(lag, 3),
                    "held_by": held_by,
                    "_in_message": _IN_MESSAGE,
                },
            )

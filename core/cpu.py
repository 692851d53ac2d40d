"""One bounded pool for CPU work on user content, so the event loop never waits for it.

    text = await run_cpu(extract.from_markdown, upload_text)

Reading Markdown, HTML or a PDF, decoding an image, chunking text for knowledge: each takes
time that grows with what a user sent, and on the event loop it would stall every request
of the process meanwhile. :func:`run_cpu` runs such a function on a process-wide pool of
``cpu_workers`` threads; at most ``cpu_queue`` more calls may wait for a thread, and a call
beyond that is refused at once with a 503 ``busy`` problem (with ``Retry-After``) rather
than piling up uploads in memory. A call whose caller gave up (a client that went away)
still holds its place until its thread is done, so the bound is on work, not on callers.

**Why threads, not processes.** The functions the platform runs here either spend their
time in C that lets go of the interpreter's lock (the embedding model's tokenizer through
ctypes, Pillow's decoders, hashing), or in pure Python, which the interpreter interrupts
every switch interval (``sys.getswitchinterval()``) so that the loop's thread gets its
turn. Measured with a probe on the loop, both kept it answering. What threads cannot
interrupt is one long C call that holds the lock, such as a regular expression over
megabytes: callers cut such work into bounded slices (the clone's Markdown reader works
paragraph block by block). A process pool would copy megabytes of text to and from its
workers, import the whole platform once more per worker, and need every error to survive
pickling, for no gain on this kind of work.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, ParamSpec, TypeVar

from core.errors import Busy

P = ParamSpec("P")
R = TypeVar("R")

DEFAULT_WORKERS = 2
DEFAULT_QUEUE = 32
#: What a refused call tells the client to wait before trying again, in seconds.
RETRY_AFTER_SECONDS = 5


class CpuPool:
    """``workers`` threads and room for ``queue`` waiting calls."""

    def __init__(self, workers: int = DEFAULT_WORKERS, queue: int = DEFAULT_QUEUE) -> None:
        if workers < 1:
            raise ValueError("cpu_workers must be at least 1")
        if queue < 0:
            raise ValueError("cpu_queue must not be negative")
        self.workers = workers
        self.queue = queue
        self._executor = ThreadPoolExecutor(workers, thread_name_prefix="cpu")
        self._lock = threading.Lock()
        self._in_flight = 0

    @property
    def in_flight(self) -> int:
        """Calls running or waiting for a thread."""
        return self._in_flight

    def _finished(self, _: Future[Any]) -> None:
        with self._lock:
            self._in_flight -= 1

    async def run(self, fn: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs) -> R:
        with self._lock:
            if self._in_flight >= self.workers + self.queue:
                raise Busy(
                    "the server is busy reading other uploads; try again shortly",
                    retry_after=RETRY_AFTER_SECONDS,
                )
            self._in_flight += 1
        context = contextvars.copy_context()  # log lines keep the request's id
        try:
            future = self._executor.submit(context.run, functools.partial(fn, *args, **kwargs))
        except BaseException:
            with self._lock:
                self._in_flight -= 1
            raise
        future.add_done_callback(self._finished)
        return await asyncio.wrap_future(future)

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False)  # calls already queued still run


_pool: CpuPool | None = None
_pool_lock = threading.Lock()


def configure(workers: int, queue: int) -> CpuPool:
    """Size the process's pool (the ``cpu_workers`` and ``cpu_queue`` settings); a pool of
    another size replaces the current one, whose running calls finish on their threads."""
    global _pool
    with _pool_lock:
        if _pool is None or (_pool.workers, _pool.queue) != (workers, queue):
            old, _pool = _pool, CpuPool(workers, queue)
            if old is not None:
                old.shutdown()
        return _pool


def cpu_pool() -> CpuPool:
    """The process's pool (of the default size until :func:`configure` is called)."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = CpuPool()
        return _pool


async def run_cpu(fn: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs) -> R:
    """``fn(*args, **kwargs)`` on the process's CPU pool, off the event loop; its error, if
    it raises, is raised here. 503 ``busy`` when the pool's queue is full."""
    return await cpu_pool().run(fn, *args, **kwargs)

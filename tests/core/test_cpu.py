"""``core.cpu``: CPU work runs on the pool's threads, off the event loop; a full queue is
a 503 ``busy`` problem with ``Retry-After``; the pool takes its size from the settings."""

from __future__ import annotations

import asyncio
import contextvars
import threading
from typing import Any

import pytest
from litestar import Request, post

from core import cpu
from core.errors import Busy, ValidationFailed
from core.settings import Settings
from sdk import hookimpl, run_cpu
from sdk.testing import PlatformFactory, assert_problem

request_name: contextvars.ContextVar[str] = contextvars.ContextVar("request_name", default="")


async def test_work_runs_on_a_pool_thread_with_the_callers_context() -> None:
    request_name.set("upload 1")

    def where(a: int, *, b: int) -> tuple[str, str, int]:
        return threading.current_thread().name, request_name.get(), a + b

    thread, name, total = await run_cpu(where, 1, b=2)
    assert thread.startswith("cpu") and thread != threading.current_thread().name
    assert (name, total) == ("upload 1", 3)


async def test_an_error_is_raised_to_the_caller() -> None:
    def refuse() -> None:
        raise ValidationFailed("not a document", field="file")

    with pytest.raises(ValidationFailed, match="not a document"):
        await run_cpu(refuse)


async def test_a_full_queue_refuses_at_once_and_frees_its_places() -> None:
    pool = cpu.CpuPool(workers=1, queue=1)
    release = threading.Event()
    try:
        running = asyncio.ensure_future(pool.run(release.wait, 10))
        waiting = asyncio.ensure_future(pool.run(lambda: "second"))
        await asyncio.sleep(0.05)
        assert pool.in_flight == 2
        with pytest.raises(Busy) as refused:
            await pool.run(lambda: "third")
        assert refused.value.status == 503 and refused.value.retry_after > 0
        release.set()
        assert await running is True and await waiting == "second"
        assert pool.in_flight == 0
        assert await pool.run(lambda: "again") == "again"
    finally:
        release.set()
        pool.shutdown()


def test_bad_sizes_are_refused() -> None:
    with pytest.raises(ValueError, match="cpu_workers"):
        cpu.CpuPool(workers=0)
    with pytest.raises(ValueError, match="cpu_queue"):
        cpu.CpuPool(queue=-1)
    with pytest.raises(Exception, match="cpu_workers"):
        Settings(cpu_workers=0)


class Busy503:
    @hookimpl
    def register_routes(self) -> list[Any]:
        @post("/documents", status_code=201)
        async def read(request: Request[Any, Any, Any]) -> None:
            raise Busy("the server is busy reading other uploads", retry_after=5)

        return [read]


async def test_the_platform_sizes_the_pool_and_busy_is_a_503(
    creator_platform_factory: PlatformFactory,
) -> None:
    harness = await creator_platform_factory(
        plugins=[], extra_plugins={"busy": Busy503()}, cpu_workers=3, cpu_queue=7
    )
    pool = cpu.cpu_pool()
    assert (pool.workers, pool.queue) == (3, 7)
    response = await harness.client.post("/documents")
    assert_problem(response, 503, "busy")
    assert response.headers["retry-after"] == "5"

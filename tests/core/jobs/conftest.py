"""Fixtures for the job tests: a plugin registering jobs that count (reporting progress),
fail, wait to be released, and say which group they run for."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from sdk import Job, hookimpl

PLUGIN = "jobsplugin"


class JobsPlugin:
    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.started = asyncio.Event()
        self.groups: list[Any] = []

    async def count_to(self, ctx: dict[str, Any], n: int, *, step: int = 1) -> dict[str, Any]:
        for done in range(0, n + 1, step):
            await ctx["progress"](done, n)
        return {"counted": n, "group": str(ctx["group_id"])}

    async def always_fails(self, ctx: dict[str, Any]) -> None:
        raise RuntimeError(f"try {ctx['job_try']} failed")

    async def wait_for_release(self, ctx: dict[str, Any]) -> str:
        await ctx["progress"](1, 2)
        self.started.set()
        await self.release.wait()
        return "released"

    async def which_group(self, ctx: dict[str, Any]) -> str:
        self.groups.append((ctx["group_id"], ctx["ontology"].scope.group_id))
        return "ok"

    async def nightly(self, ctx: dict[str, Any]) -> None:
        pass

    async def nap(self, ctx: dict[str, Any], seconds: float) -> str:
        await asyncio.sleep(seconds)
        return "rested"

    @hookimpl
    def register_jobs(self) -> list[Job]:
        return [
            Job(self.count_to, name="count_to"),
            Job(self.always_fails, name="always_fails", max_tries=2),
            Job(self.wait_for_release, name="wait_for_release"),
            Job(self.which_group, name="which_group"),
            Job(self.nightly, name="nightly", cron={"hour": 3, "minute": 0}),
            Job(self.nap, name="nap_short", max_tries=1, timeout_seconds=0.2),
            Job(self.nap, name="nap_long", max_tries=1, timeout_seconds=30),
        ]


@pytest.fixture
def jobs_plugin() -> JobsPlugin:
    return JobsPlugin()


#: Quick retries and polling for the tests.
FAST = {"job_retry_base_seconds": 0.02, "worker_poll_delay_seconds": 0.02}


@pytest.fixture
def fast_settings() -> dict[str, Any]:
    return dict(FAST)

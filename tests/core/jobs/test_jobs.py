"""Jobs: enqueue from a service, run by an arq worker (in-process or ``creator worker``),
status by id through the API — scoped to the group that enqueued the job."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from core.jobs import UnknownJobError
from core.metrics import JOBS
from core.worker import build_worker
from sdk.testing import CreatorPlatform, wait_until

ROOT = Path(__file__).resolve().parents[3]


async def _status(tenant, job_id: str) -> dict:
    r = await tenant.client.get(tenant.url(f"/jobs/{job_id}"))
    assert r.status_code == 200, r.text
    return r.json()


async def test_a_job_runs_and_reports_status_progress_and_result(
    creator_platform_factory, jobs_plugin, fast_settings
) -> None:
    cp: CreatorPlatform = await creator_platform_factory(
        plugins=["jobsplugin"],
        extra_plugins={"jobsplugin": jobs_plugin},
        worker=True,
        **fast_settings,
    )
    alice, bob = await cp.tenant(), await cp.tenant()
    completed = JOBS.labels("count_to", "complete")._value.get()

    job_id = await cp.platform.jobs.enqueue("count_to", 10, group_id=alice.group.id, step=5)
    done = await wait_until(lambda: _complete(alice, job_id))
    assert done["id"] == job_id and done["name"] == "count_to"
    assert done["result"] == {"counted": 10, "group": str(alice.group.id)}
    assert done["progress"] == {"done": 10, "total": 10}
    assert done["attempts"] == 1 and done["error"] is None
    assert done["enqueued_at"] <= done["started_at"] <= done["finished_at"]
    assert JOBS.labels("count_to", "complete")._value.get() == completed + 1

    # another group cannot see it; an unknown id is not found either
    r = await bob.client.get(bob.url(f"/jobs/{job_id}"))
    assert r.status_code == 404 and r.json()["code"] == "not_found"
    r = await bob.client.get(alice.url(f"/jobs/{job_id}"))
    assert r.status_code == 404
    assert (await alice.client.get(alice.url("/jobs/no-such-job"))).status_code == 404

    # the job's ctx carries the group and stores scoped to it
    await cp.platform.jobs.enqueue("which_group", group_id=bob.group.id)
    await wait_until(lambda: jobs_plugin.groups)
    assert jobs_plugin.groups == [(bob.group.id, bob.group.id)]

    with pytest.raises(UnknownJobError):
        await cp.platform.jobs.enqueue("no_such_job", group_id=alice.group.id)


async def _complete(tenant, job_id: str) -> dict | None:
    status = await _status(tenant, job_id)
    return status if status["status"] in ("complete", "failed") else None


async def test_in_progress_and_failed_jobs(
    creator_platform_factory, jobs_plugin, fast_settings
) -> None:
    cp = await creator_platform_factory(
        plugins=["jobsplugin"],
        extra_plugins={"jobsplugin": jobs_plugin},
        worker=True,
        **fast_settings,
    )
    alice = await cp.tenant()
    waiting = await cp.platform.jobs.enqueue("wait_for_release", group_id=alice.group.id)
    await asyncio.wait_for(jobs_plugin.started.wait(), 10)
    status = await _status(alice, waiting)
    assert status["status"] == "in_progress"
    assert status["progress"] == {"done": 1, "total": 2}
    jobs_plugin.release.set()
    status = await wait_until(lambda: _complete(alice, waiting))
    assert status["status"] == "complete" and status["result"] == "released"

    failed = JOBS.labels("always_fails", "failed")._value.get()
    job_id = await cp.platform.jobs.enqueue("always_fails", group_id=alice.group.id)
    status = await wait_until(lambda: _complete(alice, job_id))
    assert status["status"] == "failed"
    assert status["error"] == "RuntimeError: try 2 failed"  # retried once, max_tries=2
    assert status["attempts"] == 2 and status["result"] is None
    assert JOBS.labels("always_fails", "failed")._value.get() == failed + 1


async def test_a_job_may_run_longer_or_shorter_than_the_timeout_setting(
    creator_platform_factory, jobs_plugin, fast_settings
) -> None:
    """``Job.timeout_seconds`` bounds each try of that job instead of the
    ``job_timeout_seconds`` setting: long, resumable work is not cut off by a setting
    made for quick jobs, and a job can be held shorter."""
    cp = await creator_platform_factory(
        plugins=["jobsplugin"],
        extra_plugins={"jobsplugin": jobs_plugin},
        worker=True,
        job_timeout_seconds=0.5,
        **fast_settings,
    )
    alice = await cp.tenant()
    long_nap = await cp.platform.jobs.enqueue("nap_long", 1.0, group_id=alice.group.id)
    short_nap = await cp.platform.jobs.enqueue("nap_short", 1.0, group_id=alice.group.id)
    status = await wait_until(lambda: _complete(alice, long_nap))
    assert status["status"] == "complete" and status["result"] == "rested"  # 1 s > 0.5 s
    status = await wait_until(lambda: _complete(alice, short_nap))
    assert status["status"] == "failed" and status["error"].startswith("TimeoutError")


async def test_a_long_job_keeps_its_running_mark_short_and_renews_it(
    creator_platform_factory, jobs_plugin, fast_settings, monkeypatch
) -> None:
    """arq marks a running job as taken for as long as its longest job may run, for every
    job, so one job allowed hours would leave a crashed worker's jobs untaken for hours.
    The mark stays at the job timeout setting plus slack; a job allowed longer renews it."""
    from arq.constants import in_progress_key_prefix

    import core.worker

    monkeypatch.setattr(core.worker, "IN_PROGRESS_RENEW_SECONDS", 0.1)
    cp = await creator_platform_factory(
        plugins=["jobsplugin"],
        extra_plugins={"jobsplugin": jobs_plugin},
        worker=True,
        job_timeout_seconds=0.5,
        **fast_settings,
    )
    alice = await cp.tenant()
    redis = cp.platform.jobs.arq
    job_id = await cp.platform.jobs.enqueue("nap_long", 1.5, group_id=alice.group.id)
    key = in_progress_key_prefix + job_id
    await wait_until(lambda: redis.exists(key))
    first = await redis.pttl(key)
    assert 0 < first <= 20_500  # the setting (0.5 s) + 20 s, not nap_long's 30 s + 20 s
    await asyncio.sleep(0.6)
    assert await redis.pttl(key) > first - 300  # renewed meanwhile, not 600 ms older
    status = await wait_until(lambda: _complete(alice, job_id))
    assert status["status"] == "complete"


def test_a_job_timeout_must_be_positive() -> None:
    from core.jobs import Job, JobRegistry

    async def work(ctx: dict) -> None:
        pass

    with pytest.raises(ValueError, match="timeout_seconds must be positive"):
        JobRegistry().add("someplugin", Job(work, name="work", timeout_seconds=0))


async def test_without_a_worker_a_job_stays_queued(creator_platform_factory, jobs_plugin) -> None:
    cp = await creator_platform_factory(
        plugins=["jobsplugin"], extra_plugins={"jobsplugin": jobs_plugin}
    )
    alice = await cp.tenant()
    job_id = await cp.platform.jobs.enqueue("count_to", 3, group_id=alice.group.id)
    status = await _status(alice, job_id)
    assert status["status"] == "queued" and status["progress"] is None
    # the same job id again is a no-op
    again = await cp.platform.jobs.enqueue("count_to", 3, group_id=alice.group.id, job_id=job_id)
    assert again == job_id
    assert await cp.platform.redis.zcard("arq:queue") == 1


async def test_worker_runs_every_job_cron_and_the_event_handler_job(
    creator_platform_factory, jobs_plugin
) -> None:
    cp = await creator_platform_factory(
        plugins=["jobsplugin"], extra_plugins={"jobsplugin": jobs_plugin}
    )
    worker = build_worker(cp.platform)
    assert set(worker.functions) >= {  # (core's own jobs too)
        "creator.event_handler",
        "count_to",
        "always_fails",
        "wait_for_release",
        "which_group",
        "nightly",
        "cron:nightly",
    }
    crons = {cron.name: cron for cron in worker.cron_jobs}
    assert (crons["cron:nightly"].hour, crons["cron:nightly"].minute) == (3, 0)
    await worker.close()


WORKER_PLUGIN = textwrap.dedent(
    """
    from sdk import Job, hookimpl

    async def shout(ctx, word):
        await ctx["progress"](1, 1)
        return word.upper()

    @hookimpl
    def register_jobs():
        return [Job(shout, name="plugintest_shout")]
    """
)


def _fake_distribution(root: Path, name: str, module: str) -> None:
    dist = root / f"{name}-0.1.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(f"[creator.plugins]\nshouter = {module}\n")


async def test_creator_worker_command_runs_jobs_and_stops_on_sigterm(
    creator_platform_factory, tmp_path, monkeypatch
) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "plugintest_shouter.py").write_text(WORKER_PLUGIN)
    _fake_distribution(site, "plugintest-shouter", "plugintest_shouter")
    monkeypatch.syspath_prepend(str(site))  # installed: found through its entry point
    monkeypatch.delitem(sys.modules, "plugintest_shouter", raising=False)
    cp = await creator_platform_factory(plugins=["shouter"])
    alice = await cp.tenant()
    job_id = await cp.platform.jobs.enqueue("plugintest_shout", "hi", group_id=alice.group.id)

    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(site), str(ROOT)]),
        "CREATOR_DATABASE_URL": cp.settings.database_url or "",
        "CREATOR_REDIS_URL": cp.settings.redis_url or "",
        "CREATOR_PLUGINS": "shouter",
        "CREATOR_MIGRATE_ON_START": "false",
        "CREATOR_WORKER_POLL_DELAY_SECONDS": "0.05",
    }
    proc = await asyncio.to_thread(
        subprocess.Popen,
        [sys.executable, "-m", "core.cli", "worker"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        status = await wait_until(lambda: _complete(alice, job_id), within=30)
        assert status["status"] == "complete" and status["result"] == "HI"
        assert status["progress"] == {"done": 1, "total": 1}
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = await asyncio.to_thread(proc.communicate, timeout=30)
    assert proc.returncode == 0, err
    assert "shouter" in err and "Traceback" not in err


def test_cli_has_worker_and_the_serve_worker_flag() -> None:
    from click.testing import CliRunner

    from core.cli import cli

    serve = CliRunner().invoke(cli, ["serve", "--help"])
    assert "--with-worker / --no-worker" in serve.output
    assert CliRunner().invoke(cli, ["worker", "--help"]).exit_code == 0
    failed = CliRunner().invoke(cli, ["events", "failed", "--help"])
    assert "--group" in failed.output and "--json" in failed.output

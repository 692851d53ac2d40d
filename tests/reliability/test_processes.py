"""Several processes on one PostgreSQL and one Redis, with faults: the deployment shape of
the README's "Scaling" section, and what survives a process killed mid-work.

The session's PostgreSQL and Redis (``creator_servers``, started once) serve two
``creator serve --no-worker`` processes, A and B, and one ``creator worker``: this
checkout's code (``python -c "from core.cli import main; main()"`` with the repository
first on ``PYTHONPATH``; the ``creator`` script may belong to another checkout), one
secret key, the ``hello`` plugin of ``tests/thirdparty/creator-hello``. Then:

* the worker is SIGKILLed while a ``hello.tally`` job runs (it reported progress); a new
  worker retries it to completion once arq's running mark of the dead try expires
  (``core.worker.in_progress_seconds``: the job timeout setting, lowered here, + 20 s);
* A is SIGKILLed mid-request while it holds events it committed but has not delivered:
  greetings pour into A, which is frozen (SIGSTOP) until the outbox shows such rows, then
  killed. The outbox relays of B and the worker deliver them: the outbox empties, every
  greeting is acknowledged (the in-process handler ran for each ``greeted`` event) and
  every event of the group reaches the live stream;
* a client's live stream on A, cut when A dies, waits (as a browser does) while B takes
  greetings and the relays deliver A's leftovers, then reconnects to B sending back the
  last ``id:`` it got as ``Last-Event-ID`` (whatever form the ids take), and receives
  everything it missed, then the live events;
* B answers every ``/health`` probe throughout.

While resuming replayed events by id from the events table, the resume step failed in
two runs of seven: an event A committed (or delivered) after one with a larger id
that the client had already got was never sent, the review's finding on event streams.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg
import httpx
import pytest
import pytest_asyncio

from core.platform import Platform
from core.runtime import _die_with_parent
from core.settings import load_settings
from sdk.testing import wait_until
from sdk.testing.servers import Servers, database_url

ROOT = Path(__file__).resolve().parents[2]
HELLO = ROOT / "tests" / "thirdparty" / "creator-hello"
LAUNCH = "from core.cli import main; main()"
#: The Redis database of this test's processes (the per-test platforms use the first ones).
REDIS_DB = 13
#: Each try of a job may run this long; a killed worker's job is retried this + 20 s later.
JOB_TIMEOUT_SECONDS = 3.0
#: How long the tally job sleeps after reporting that it started: the worker dies then.
TALLY_PAUSE_SECONDS = 2.0
#: Greeting requests kept in flight at app A until it is killed.
GREETS_IN_FLIGHT = 6


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Process:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path
    url: str = ""

    def tail(self, chars: int = 3000) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return (
            f"--- {self.name} (pid {self.popen.pid}, exit {self.popen.poll()}) ---\n"
            + (text[-chars:])
        )


@dataclass
class Deployment:
    """The processes of one deployment; every one is killed when the test ends."""

    env: dict[str, str]
    logs: Path
    processes: list[Process] = field(default_factory=list)

    def start(self, name: str, *args: str, url: str = "") -> Process:
        log = self.logs / f"{name}.log"
        with log.open("wb") as out:
            popen = subprocess.Popen(
                [sys.executable, "-c", LAUNCH, *args],
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent,  # a killed test run leaves no process behind
            )
        process = Process(name, popen, log, url)
        self.processes.append(process)
        return process

    def serve(self, name: str) -> Process:
        port = _free_port()
        return self.start(
            name, "serve", "--port", str(port), "--no-worker", url=f"http://127.0.0.1:{port}"
        )

    def worker(self, name: str) -> Process:
        return self.start(name, "worker")

    def tails(self) -> str:
        return "\n".join(process.tail() for process in self.processes)

    def kill_all(self) -> None:
        for process in self.processes:
            if process.popen.poll() is None:
                process.popen.kill()
        for process in self.processes:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.popen.wait(10)


@dataclass
class Arranged:
    database: str
    database_url: str
    group_id: UUID
    token: str


async def _arrange(servers: Servers, redis_url: str) -> Arranged:
    """A database copied from the migrated template, and a person owning a group there."""
    name = await servers.create_database()
    url = database_url(servers.database_url, name)
    settings = load_settings(
        environ={},
        data_dir=servers.data_dir,
        database_url=url,
        redis_url=redis_url,
        plugins=["hello"],
        migrate_on_start=False,
    )
    platform = Platform.load(settings)
    await platform.start()
    try:
        await platform.redis.flushdb()
        owner = await platform.directory.create_person("owner@example.test", "Owner")
        _, token = await platform.directory.issue_token(owner.id, "processes")
        group = await platform.directory.create_group(owner, slug="processes", name="Processes")
    finally:
        await platform.stop()
    return Arranged(name, url, group.id, token)


@pytest_asyncio.fixture
async def deployment(
    creator_servers: Servers, tmp_path: Path
) -> AsyncIterator[tuple[Deployment, Arranged]]:
    redis_url = creator_servers.redis_url.rsplit("/", 1)[0] + f"/{REDIS_DB}"
    arranged = await _arrange(creator_servers, redis_url)
    env = {key: value for key, value in os.environ.items() if not key.startswith("CREATOR_")}
    env.update(
        PYTHONPATH=os.pathsep.join([str(ROOT), str(HELLO)]),
        CREATOR_DATABASE_URL=arranged.database_url,
        CREATOR_REDIS_URL=redis_url,
        CREATOR_SECRET_KEY=uuid.uuid4().hex + uuid.uuid4().hex,
        CREATOR_DATA_DIR=str(tmp_path / "data"),
        CREATOR_PLUGINS="hello",
        CREATOR_MIGRATE_ON_START="false",
        CREATOR_LOG_LEVEL="warning",
        CREATOR_DB_POOL_MIN_SIZE="1",
        # An orphaned outbox row is relayed within about a second and a half.
        CREATOR_RELAY_GRACE_SECONDS="1",
        CREATOR_RELAY_INTERVAL_SECONDS="0.2",
        CREATOR_JOB_TIMEOUT_SECONDS=str(JOB_TIMEOUT_SECONDS),
        CREATOR_STREAM_HEARTBEAT_SECONDS="0.5",
    )
    running = Deployment(env, tmp_path)
    try:
        yield running, arranged
    finally:
        running.kill_all()
        await creator_servers.drop_database(arranged.database)


async def _ready(client: httpx.AsyncClient, app: Process) -> None:
    async def answers() -> bool:
        assert app.popen.poll() is None, app.tail()
        with contextlib.suppress(httpx.TransportError):
            return (await client.get(f"{app.url}/ready", timeout=2)).status_code == 200
        return False

    await wait_until(answers, within=60, interval=0.1, message=f"{app.name} ready")


@dataclass
class Probe:
    """Asks ``/health`` over and over; records latencies and every failure."""

    url: str
    latencies: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    async def run(self, client: httpx.AsyncClient) -> None:
        while True:
            began = time.monotonic()
            try:
                response = await client.get(f"{self.url}/health", timeout=5)
                if response.status_code != 200:
                    self.failures.append(f"{response.status_code} {response.text[:200]}")
            except httpx.HTTPError as exc:
                self.failures.append(repr(exc))
            self.latencies.append(time.monotonic() - began)
            await asyncio.sleep(0.05)


@dataclass
class StreamClient:
    """A live-stream client as a browser's EventSource: on a dropped connection it
    reconnects (here to the next app) sending the last ``id:`` it got as Last-Event-ID."""

    token: str
    path: str
    last_id: str | None = None
    #: The event ids (``data``'s ``id``) received, in order, with the app that sent each.
    received: list[tuple[str, str]] = field(default_factory=list)
    subscribed: asyncio.Event = field(default_factory=asyncio.Event)
    #: Set to let a dropped stream reconnect (a browser waits a few seconds before it does).
    may_reconnect: asyncio.Event = field(default_factory=asyncio.Event)
    dropped_at: float | None = None
    resumed_at: float | None = None

    def seen(self, sent_by: str | None = None) -> set[str]:
        return {event_id for event_id, app in self.received if sent_by in (None, app)}

    async def follow(self, client: httpx.AsyncClient, apps: list[Process]) -> None:
        for n, app in enumerate(apps):
            if n:
                await self.may_reconnect.wait()
            with contextlib.suppress(httpx.TransportError):
                await self._read(client, app)
            self.dropped_at = time.monotonic()

    async def _read(self, client: httpx.AsyncClient, app: Process) -> None:
        headers = {"Authorization": f"Bearer {self.token}"}
        if self.last_id is not None:
            headers["Last-Event-ID"] = self.last_id
        timeout = httpx.Timeout(10, read=None)
        async with client.stream("GET", app.url + self.path, headers=headers, timeout=timeout) as r:
            assert r.status_code == 200, await r.aread()
            if self.dropped_at is not None:
                self.resumed_at = time.monotonic()
            fields: dict[str, str] = {}
            async for line in r.aiter_lines():
                if line:
                    name, _, value = line.partition(":")
                    value = value.removeprefix(" ")
                    fields[name] = fields[name] + "\n" + value if name in fields else value
                    continue
                if "" in fields:  # a comment: the keep-alive, sent once subscribed
                    self.subscribed.set()
                if "data" in fields:
                    self.received.append((json.loads(fields["data"])["id"], app.name))
                if "id" in fields:
                    self.last_id = fields["id"]
                fields = {}


async def _job_status(client: httpx.AsyncClient, app: Process, group: UUID, job_id: str) -> Any:
    response = await client.get(f"{app.url}/api/v1/groups/{group}/jobs/{job_id}")
    assert response.status_code == 200, response.text
    return response.json()


async def _greet_forever(client: httpx.AsyncClient, url: str, counter: Iterator[int]) -> None:
    """One request after another at ``url`` until cancelled; a failed one (its app was
    killed) is not retried: whether it committed is for the events table to say."""
    while True:
        with contextlib.suppress(httpx.HTTPError):
            await client.post(url, json={"name": f"visitor {next(counter)}"}, timeout=10)


async def _undelivered(conn: asyncpg.Connection, group: UUID) -> int:
    return int(await conn.fetchval("SELECT count(*) FROM event_outbox WHERE group_id = $1", group))


async def _kill_holding_committed_events(
    app: Process, conn: asyncpg.Connection, group: UUID
) -> int:
    """Freeze ``app`` until the outbox shows events it committed and has not delivered,
    then SIGKILL it; the number of those events."""
    for _ in range(200):
        await asyncio.sleep(0.05)
        os.kill(app.popen.pid, signal.SIGSTOP)
        left = await _undelivered(conn, group)
        if left:
            app.popen.kill()
            app.popen.wait(10)
            return left
        os.kill(app.popen.pid, signal.SIGCONT)
    pytest.fail("app A never held a committed, undelivered event when frozen")


async def _event_ids(conn: asyncpg.Connection, group: UUID) -> set[str]:
    return {
        str(row["id"])
        for row in await conn.fetch("SELECT id FROM events WHERE group_id = $1", group)
    }


async def _kill_worker_mid_job(
    client: httpx.AsyncClient, running: Deployment, app: Process, group: UUID
) -> str:
    """Queue a tally job through ``app``; SIGKILL the worker once the job has reported that
    it started, and start another worker. The job's id."""
    r = await client.post(
        f"{app.url}/api/v1/hello/groups/{group}/tally", json={"pause_seconds": TALLY_PAUSE_SECONDS}
    )
    assert r.status_code == 202, r.text
    job_id: str = r.json()["job_id"]

    async def job_running() -> bool:
        status = await _job_status(client, app, group, job_id)
        return status["status"] == "in_progress" and status["progress"] is not None

    await wait_until(job_running, within=30, interval=0.05)
    worker = next(p for p in running.processes if p.name == "worker-1")
    worker.popen.kill()
    worker.popen.wait(10)
    running.worker("worker-2")
    return job_id


async def _kill_app_mid_requests(
    client: httpx.AsyncClient, app: Process, conn: asyncpg.Connection, group: UUID
) -> int:
    """Keep greetings in flight at ``app`` and kill it while it holds events it committed
    but has not delivered; how many it held."""
    counter = iter(range(10**6))
    url = f"{app.url}/api/v1/hello/groups/{group}/greet"
    pumps = [
        asyncio.create_task(_greet_forever(client, url, counter)) for _ in range(GREETS_IN_FLIGHT)
    ]
    try:
        return await _kill_holding_committed_events(app, conn, group)
    finally:
        for pump in pumps:
            pump.cancel()
        await asyncio.gather(*pumps, return_exceptions=True)


async def _greet(client: httpx.AsyncClient, app: Process, group: UUID, name: str) -> None:
    r = await client.post(f"{app.url}/api/v1/hello/groups/{group}/greet", json={"name": name})
    assert r.status_code == 201, r.text


async def test_killed_worker_and_app_lose_no_job_event_or_stream(deployment) -> None:
    running, arranged = deployment
    group = arranged.group_id
    app_a, app_b = running.serve("app-a"), running.serve("app-b")
    running.worker("worker-1")
    conn = await asyncpg.connect(arranged.database_url)  # the owner: sees every group
    tasks: list[asyncio.Task[None]] = []
    try:
        async with httpx.AsyncClient(
            headers={"Authorization": f"Bearer {arranged.token}"}
        ) as client:
            await asyncio.gather(_ready(client, app_a), _ready(client, app_b))
            probe = Probe(app_b.url)
            tasks.append(asyncio.create_task(probe.run(client)))
            before = await _event_ids(conn, group)
            stream = StreamClient(arranged.token, f"/api/v1/groups/{group}/events/stream")
            tasks.append(asyncio.create_task(stream.follow(client, [app_a, app_b])))
            await asyncio.wait_for(stream.subscribed.wait(), 30)

            job_id = await _kill_worker_mid_job(client, running, app_b, group)
            worker_killed_at = time.time()  # compared with the job's finished_at
            # The stream has an id to resume from (one that never got an event has none).
            await _greet(client, app_a, group, "first")
            await wait_until(lambda: stream.seen("app-a"), within=20)
            orphaned = await _kill_app_mid_requests(client, app_a, conn, group)
            app_killed_at = time.monotonic()

            # While the stream is away: B takes greetings, and the relays of B and the
            # worker deliver what A left in the outbox.
            for n in range(3):
                await _greet(client, app_b, group, f"while away {n}")

            async def outbox_empty() -> bool:
                return await _undelivered(conn, group) == 0

            await wait_until(outbox_empty, within=20)
            relayed_at = time.monotonic()

            async def all_acknowledged() -> bool:
                return not await conn.fetchval(
                    "SELECT count(*) FROM things WHERE group_id = $1 AND type = 'greeting' "
                    "AND properties->>'acknowledged' IS DISTINCT FROM 'true'",
                    group,
                )

            await wait_until(all_acknowledged, within=20)
            missed = await _event_ids(conn, group) - before - stream.seen("app-a")
            assert missed  # B's greetings at least

            # The stream resumes on B from the last id A sent, then goes on live.
            stream.may_reconnect.set()
            resumed_from = stream.last_id
            try:
                await wait_until(lambda: missed <= stream.seen("app-b"), within=20)
            except AssertionError:
                lost = sorted(missed - stream.seen("app-b"))
                rows = await conn.fetch(
                    "SELECT id, type FROM events WHERE id = ANY($1::uuid[]) ORDER BY id", lost
                )
                lost_events = ", ".join(f"{row['type']} {row['id']}" for row in rows)
                pytest.fail(f"resumed from id {resumed_from}, the stream never sent {lost_events}")
            for n in range(2):
                await _greet(client, app_b, group, f"after resuming {n}")
            committed = await _event_ids(conn, group) - before
            await wait_until(lambda: committed <= stream.seen(), within=20)
            greeted = await conn.fetchval(
                "SELECT count(*) FROM events WHERE group_id = $1 AND type = 'greeted'", group
            )
            assert greeted == await conn.fetchval(
                "SELECT count(*) FROM things WHERE group_id = $1 AND type = 'greeting'", group
            )

            async def job_done() -> Any:
                status = await _job_status(client, app_b, group, job_id)
                return status if status["status"] in ("complete", "failed") else None

            status = await wait_until(job_done, within=45, interval=0.1)
            recovery = datetime.fromisoformat(status["finished_at"]).timestamp() - worker_killed_at
            assert status["status"] == "complete", status
            assert status["attempts"] == 2, status  # the killed try, then the one that finished
            assert isinstance(status["result"]["greetings"], int), status

            assert app_b.popen.poll() is None, app_b.tail()
            assert not probe.failures, probe.failures
            assert stream.dropped_at is not None and stream.resumed_at is not None
            print(
                f"\nworker killed mid-job: retried to completion {recovery:.1f} s later; "
                f"app A killed holding {orphaned} undelivered event(s): outbox empty "
                f"{relayed_at - app_killed_at:.1f} s later; {len(committed)} events committed, "
                f"{len(missed)} of them missed by the stream on A, all received after resuming "
                f"on B ({len(stream.received) - len(stream.seen())} duplicate(s)); "
                f"/health on B: {len(probe.latencies)} probes, none failed, slowest "
                f"{max(probe.latencies) * 1000:.0f} ms"
            )
    except BaseException:
        print(running.tails())  # the processes' logs, shown with the failure
        raise
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await conn.close()

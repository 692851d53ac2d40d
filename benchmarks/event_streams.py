"""Live event streams: ``--streams`` concurrent server-sent-event streams on one app process
(memory per stream, Redis connections, delivery latency from commit), beside the design
they replaced, one Redis pub/sub connection per client, at the same number in the same run.

One embedded PostgreSQL + Redis on a temp dir. The app runs in a child process (uvicorn,
one worker, this file with ``--serve``), once per design:

* **hub**: core's ``GET /api/v1/groups/{id}/events/stream``: delivery appends each event
  to its group's Redis Stream; the process's ``StreamHub`` reads the streams once (one
  subscription to wake-ups, reads on a small pool) and fans entries out to its clients;
* **pub/sub per client** (the baseline): a minimal copy of the former route, kept here,
  at ``/api/v1/bench/groups/{id}/events/old-stream``: each client subscribes to its
  group's channel on a Redis connection of its own, and delivery publishes each event
  on it.

This process opens the streams over HTTP (raw asyncio sockets, ``--groups`` groups, each
stream of one of them), then emits ``--rounds`` rounds of one event per group through the
platform's stores (a ``Platform`` of its own on the same servers, so delivery after the
commit runs here). Each event carries the time just before its transaction; a stream's
latency is when its ``data:`` line arrives, so it includes the insert and commit (~1 ms).
Memory is the server's RSS after the streams are open minus before (after a warm-up of
``--groups`` streams), divided by the streams; connections are Redis's ``CLIENT LIST``
count with the streams open minus before.

    python benchmarks/event_streams.py                  # 2000 streams
    python benchmarks/event_streams.py --streams 200    # quicker

Nothing is asserted: the figures are printed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any
from uuid import UUID

import msgspec

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, free_port, log, machine, percentile, spawn, stop, table, wait_http

sys.path.insert(0, str(ROOT))
import anyio
from litestar import get
from litestar.di import NamedDependency
from litestar.response import ServerSentEvent, ServerSentEventMessage

import core.events
from core.hookspecs import hookimpl
from core.ontology.scope import Scope
from core.ontology.types import EventType
from core.platform import Platform

SCRIPT = str(Path(__file__).resolve())
EVENT_TYPE = "bench_tick"
OLD_CHANNEL = "bench:old-stream:"
HOST = "127.0.0.1"


class Tick(msgspec.Struct):
    t: float = 0.0


class BenchPlugin:
    """The event type, and the baseline's route (the former one-subscription-per-client
    stream, reduced to its live part)."""

    @hookimpl
    def register_event_types(self) -> list[EventType]:
        return [EventType(EVENT_TYPE, Tick, "A benchmark tick")]

    @hookimpl
    def register_routes(self) -> list[Any]:
        return [old_stream_route()]


def old_stream_route() -> Any:
    """The former design: one Redis pub/sub connection per client."""

    async def events(platform: Platform, group_id: UUID) -> AsyncIterator[ServerSentEventMessage]:
        heartbeat = platform.settings.stream_heartbeat_seconds
        pubsub = platform.redis.pubsub()
        try:
            await pubsub.subscribe(f"{OLD_CHANNEL}{group_id}")
            while True:
                confirmation = await pubsub.get_message(timeout=heartbeat)
                if confirmation is not None and confirmation["type"] == "subscribe":
                    break
            while True:
                message = await pubsub.get_message(
                    ignore_subscribe_messages=True, timeout=heartbeat
                )
                if message is None:
                    yield ServerSentEventMessage(data=None, comment="keep-alive")
                    continue
                if message["type"] == "message":
                    yield ServerSentEventMessage(data=message["data"].decode(), event=EVENT_TYPE)
        finally:
            with anyio.CancelScope(shield=True):
                await pubsub.aclose()  # type: ignore[no-untyped-call]

    @get("/api/v1/bench/groups/{group_id:uuid}/events/old-stream")
    async def old_stream(
        group_scope: NamedDependency[Scope], platform: NamedDependency[Platform]
    ) -> ServerSentEvent:
        return ServerSentEvent(events(platform, group_scope.group_id))

    return old_stream


async def publish_old(
    redis: Any, batches: dict[UUID, list[tuple[str, str, bytes]]], _: int
) -> None:
    """The former delivery: publish each event's JSON on its group's channel."""
    async with redis.pipeline(transaction=False) as pipe:
        for group_id, entries in batches.items():
            for _, _, data in entries:
                pipe.publish(f"{OLD_CHANNEL}{group_id}", data)
        await pipe.execute()


# -- the server (child process) -----------------------------------------------------------


def serve(port: int) -> None:
    import uvicorn

    from core.app import create_app
    from core.settings import load_settings

    app = create_app(load_settings(), extra_plugins={"bench": BenchPlugin()})
    uvicorn.run(app, host=HOST, port=port, log_level="warning", access_log=False)


# -- clients ----------------------------------------------------------------------------------


class Client:
    """One stream over a raw socket; records the latency of each event it receives."""

    def __init__(self, path: str, token: str) -> None:
        self.path, self.token = path, token
        self.latencies: list[float] = []
        self.task: asyncio.Task[None] | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self, port: int) -> None:
        reader, self.writer = await asyncio.open_connection(HOST, port)
        self.writer.write(
            (
                f"GET {self.path} HTTP/1.1\r\nHost: {HOST}:{port}\r\n"
                f"Authorization: Bearer {self.token}\r\nAccept: text/event-stream\r\n\r\n"
            ).encode()
        )
        head = await reader.readuntil(b"\r\n\r\n")
        if head[9:12] != b"200":
            raise RuntimeError(f"stream refused: {head[:200]!r}")
        self.task = asyncio.create_task(self._read(reader))

    async def _read(self, reader: asyncio.StreamReader) -> None:
        decode = msgspec.json.Decoder().decode
        while True:
            line = await reader.readline()
            if not line:
                return
            if line.startswith(b"data: {"):
                sent = decode(line[6:])["payload"]["t"]
                self.latencies.append(time.time() - sent)

    async def close(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(BaseException):
                await self.task
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(Exception):
                await self.writer.wait_closed()


async def open_all(clients: Sequence[Client], port: int, concurrency: int = 50) -> None:
    gate = asyncio.Semaphore(concurrency)

    async def one(client: Client) -> None:
        async with gate:
            await client.open(port)

    await asyncio.gather(*(one(c) for c in clients))


# -- the run --------------------------------------------------------------------------------


async def measure(
    design: str, args: argparse.Namespace, env: dict[str, str], emitter: Any, tenants: list[Any]
) -> dict[str, Any]:
    import psutil

    port = free_port()
    work = Path(env["CREATOR_DATA_DIR"])
    log_path = work / f"server-{design.replace('/', '').replace(' ', '-')}.log"
    proc = spawn(
        [sys.executable, SCRIPT, "--serve", str(port)],
        env=env,
        log_path=log_path,
    )
    clients: list[Client] = []
    warm: list[Client] = []
    try:
        wait_http(f"http://{HOST}:{port}/ready", proc=proc, log_path=log_path)
        server = psutil.Process(proc.pid)

        def path(group_id: UUID) -> str:
            if design == "hub":
                return f"/api/v1/groups/{group_id}/events/stream"
            return f"/api/v1/bench/groups/{group_id}/events/old-stream"

        warm = [Client(path(g.id), token) for _, g, token in tenants]
        await open_all(warm, port)
        await asyncio.sleep(1.0)
        rss_before = server.memory_info().rss
        redis_before = len(await emitter.redis.client_list())
        log(f"{design}: opening {args.streams} streams")
        clients = [
            Client(path(tenants[i % len(tenants)][1].id), tenants[i % len(tenants)][2])
            for i in range(args.streams)
        ]
        started = time.monotonic()
        await open_all(clients, port)
        opened = time.monotonic() - started
        await asyncio.sleep(1.0)
        rss_after = server.memory_info().rss
        redis_after = len(await emitter.redis.client_list())
        log(f"{design}: {args.rounds} rounds of one event per group")
        original = core.events.append_events
        if design != "hub":
            core.events.append_events = publish_old  # type: ignore[assignment]
        try:
            for _ in range(args.rounds):
                for scope, _, _ in tenants:
                    await emitter.ontology.scoped(scope).events.emit(EVENT_TYPE, {"t": time.time()})
                await asyncio.sleep(args.pause)
            expected = args.rounds * len(clients)
            deadline = time.monotonic() + 30
            while sum(len(c.latencies) for c in clients) < expected:
                if time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.05)
        finally:
            core.events.append_events = original  # type: ignore[assignment]
        latencies = [x for c in clients for x in c.latencies]
        return {
            "design": design,
            "open s": opened,
            "rss per stream": (rss_after - rss_before) / args.streams,
            "redis added": redis_after - redis_before,
            "redis total": redis_after,
            "delivered": len(latencies),
            "expected": args.rounds * len(clients),
            "p50": percentile(latencies, 50),
            "p95": percentile(latencies, 95),
        }
    finally:
        for client in [*warm, *clients]:
            await client.close()
        stop(proc)


async def run(args: argparse.Namespace, work: Path) -> list[dict[str, Any]]:
    from core.runtime import Runtime
    from core.settings import load_settings

    overrides = {
        "plugins": ["bench"],
        "rate_limit_per_minute": 0,
        "stream_max_per_person": args.streams + 100,
        "stream_max_per_group": args.streams + 100,
        "worker": False,
        "db_pool_max_size": 10,
    }
    settings = load_settings(environ={}, data_dir=work / "data", **overrides)
    log("starting embedded PostgreSQL and Redis")
    with Runtime(settings) as runtime:
        running = msgspec.structs.replace(
            settings, database_url=runtime.database_url, redis_url=runtime.redis_url
        )
        emitter = Platform.load(running, extra_plugins={"bench": BenchPlugin()})
        await emitter.start()
        try:
            tenants = []
            for i in range(args.groups):
                person = await emitter.directory.create_person(f"b{i}@example.test", f"B{i}")
                group = await emitter.directory.create_group(person, slug=f"b{i}", name=f"B{i}")
                _, token = await emitter.directory.issue_token(person.id, "bench")
                tenants.append(
                    (Scope(group_id=group.id, person_id=person.id, role="org_owner"), group, token)
                )
            env = {k: v for k, v in os.environ.items() if not k.startswith("CREATOR_")}
            env.update(
                {
                    "CREATOR_DATA_DIR": str(work),
                    "CREATOR_DATABASE_URL": runtime.database_url,
                    "CREATOR_REDIS_URL": runtime.redis_url,
                    "CREATOR_PLUGINS": "bench",
                    "CREATOR_WORKER": "false",
                    "CREATOR_MIGRATE_ON_START": "false",
                    "CREATOR_RATE_LIMIT_PER_MINUTE": "0",
                    "CREATOR_STREAM_MAX_PER_PERSON": str(args.streams + 100),
                    "CREATOR_STREAM_MAX_PER_GROUP": str(args.streams + 100),
                    "CREATOR_LOG_LEVEL": "warning",
                }
            )
            return [
                await measure(design, args, env, emitter, tenants)
                for design in ("hub", "pub/sub per client")
            ]
        finally:
            await emitter.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--streams", type=int, default=2000, help="concurrent streams")
    parser.add_argument("--groups", type=int, default=20, help="groups the streams watch")
    parser.add_argument("--rounds", type=int, default=10, help="events per group")
    parser.add_argument("--pause", type=float, default=0.2, help="seconds between rounds")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return
    work = Path(tempfile.mkdtemp(prefix="creator-bench-streams-"))
    try:
        results = asyncio.run(run(args, work))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print()
    print(f"Live event streams; {machine()}")
    print(
        f"{args.streams} concurrent streams over {args.groups} groups on one app process "
        f"(uvicorn, one worker); {args.rounds} rounds of one event per group; embedded "
        "PostgreSQL 18 + Redis"
    )
    print()
    rows = [
        [
            r["design"],
            f"{r['rss per stream'] / 1024:.1f}",
            r["redis added"],
            r["redis total"],
            f"{r['p50'] * 1000:.1f}",
            f"{r['p95'] * 1000:.1f}",
            f"{r['delivered']}/{r['expected']}",
            f"{r['open s']:.1f}",
        ]
        for r in results
    ]
    print(
        table(
            [
                "design",
                "server KB / stream",
                "Redis conns added",
                "Redis conns total",
                "latency p50 ms",
                "p95 ms",
                "delivered",
                "open all s",
            ],
            rows,
        )
    )
    print()
    print(
        "latency: from just before the emitting transaction to the data: line at the "
        "client; Redis connections: CLIENT LIST with the streams open minus before "
        "(the hub's are opened at start-up, so target: ~0)."
    )


if __name__ == "__main__":
    main()

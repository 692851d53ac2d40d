"""Things API throughput: the full platform stack versus a bare Litestar + asyncpg app.

Both servers run in their own uvicorn subprocess (one worker each, same uvicorn options,
same asyncpg pool size) on 127.0.0.1, against one embedded PostgreSQL, each on a fresh
database migrated with the platform's migrations. The bare app runs the SAME SQL as the
platform (the token + membership lookup of ``Directory.scope_for_token``, then
``BEGIN; INSERT INTO things ... RETURNING; INSERT INTO events ...; COMMIT`` for a create,
or the same ``SELECT ... ORDER BY id DESC LIMIT 51`` for a list), so the ratio
platform/bare is what the platform's layers (dependency injection, plugins, permission
hooks, type registry, stores, sessions, problem handling) cost on top of the database work.

The load generator (httpx, fixed concurrency) runs in this process, separate from the
servers. Bursts alternate platform/bare/bare/platform so drift hits both alike.

    python benchmarks/things_api.py                  # defaults: 2000 requests, concurrency 16
    python benchmarks/things_api.py --requests 500   # quicker
    python benchmarks/things_api.py --profile        # + cProfile of both servers

Nothing is asserted: the figures and the target (platform >= 0.7 x bare) are printed.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit
from uuid import UUID

import asyncpg
import msgspec
from litestar import Litestar, Response, get, post
from litestar.exceptions import HTTPException, NotAuthorizedException, NotFoundException
from litestar.params import FromHeader, FromPath, FromQuery, JSONBody

from core import events, streams
from core.auth import tokens
from core.db import SET_GROUPS_SQL, database_logins
from core.ontology import events as ontology_events
from core.ontology import stores

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (
    LOOPBACK,
    RawHttpConnection,
    free_port,
    log,
    machine,
    percentile,
    profile_name,
    profile_package,
    profile_stats,
    raw_request,
    spawn,
    stop,
    table,
    wait_http,
)

from core.hookspecs import hookimpl
from core.ontology.ids import uuid7
from core.ontology.types import ThingType

TARGET_RATIO = 0.7
THING_TYPE = "bench_item"

# -- the tiny in-file plugin: one thing type with a small properties struct ----------------


class BenchProps(msgspec.Struct, forbid_unknown_fields=True):
    sku: str
    price_cents: int = 0
    tags: list[str] = msgspec.field(default_factory=list)


class BenchPlugin:
    """Registers ``bench_item``; passed to ``create_app(..., extra_plugins=...)``."""

    @hookimpl
    def register_thing_types(self) -> list[ThingType]:
        return [ThingType(THING_TYPE, BenchProps, "A benchmark item")]


# -- the SQL: imported from core, so the bare app runs the very same statements ------------

THING_COLUMNS = stores.THING_COLUMNS
SCOPE_FOR_TOKEN_SQL = tokens.SCOPE_FOR_TOKEN_SQL  # Directory.scope_for_token
INSERT_THING_SQL = (  # Things.create
    f"INSERT INTO things (id, group_id, type, name, status, properties) "
    f"VALUES ($1, $2, $3, $4, $5, $6) RETURNING {THING_COLUMNS}"
)
INSERT_EVENT_SQL = ontology_events._INSERT_EVENT_SQL  # Events._insert: the event and its outbox row
ACK_OUTBOX_SQL = events.ACK_OUTBOX_SQL  # EventBus._ack, after the commit
STREAM_RETENTION = 10_000  # the default stream_retention_events
LIST_THINGS_SQL = (  # Things.list with no filters, through _Query.page
    f"SELECT {THING_COLUMNS} FROM things WHERE group_id = $1 AND deleted_at IS NULL "
    f"ORDER BY id DESC LIMIT $2"
)


def check_sql_matches_core() -> list[str]:
    """Warn (not fail) when core's Things SQL has moved on from the text above."""
    import inspect

    source = inspect.getsource(stores.Things.create)
    if "INSERT INTO things (id, group_id, type, name, status, properties)" not in source:
        return ["Things.create's INSERT changed"]
    return []


# -- the bare app: Litestar + raw asyncpg, no platform code on the request path -------------


class BareCreate(msgspec.Struct, forbid_unknown_fields=True):
    type: str
    name: str
    properties: BenchProps
    status: str | None = None


class BareThing(msgspec.Struct):
    id: UUID
    group_id: UUID
    type: str
    name: str
    status: str
    properties: dict[str, Any]
    version: int
    created_at: datetime
    updated_at: datetime


class BarePage(msgspec.Struct):
    items: list[BareThing]
    next_cursor: str | None = None


def bare_app(database_url: str, redis_url: str, pool_min: int, pool_max: int) -> Any:
    import redis.asyncio as aioredis

    encode = msgspec.json.Encoder().encode
    decode = msgspec.json.Decoder().decode
    pool: asyncpg.Pool | None = None
    system_pool: asyncpg.Pool | None = None
    redis: aioredis.Redis | None = None
    logins = database_logins(bench_settings(database_url))

    async def init(conn: asyncpg.Connection) -> None:
        await conn.set_type_codec(
            "jsonb", encoder=lambda v: encode(v).decode(), decoder=decode, schema="pg_catalog"
        )

    @asynccontextmanager
    async def lifespan(app: Litestar) -> Any:
        nonlocal pool, system_pool, redis
        pool = await asyncpg.create_pool(
            dsn=logins.app,  # as the platform: under row-level security
            min_size=pool_min,
            max_size=pool_max,
            init=init,
        )
        system_pool = await asyncpg.create_pool(dsn=logins.system, min_size=1, max_size=4)
        redis = aioredis.Redis.from_url(redis_url)
        try:
            yield
        finally:
            await redis.aclose()
            await pool.close()
            await system_pool.close()

    async def scope(authorization: str | None, group_id: UUID) -> tuple[UUID, str]:
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise NotAuthorizedException("bearer token needed")
        assert pool is not None
        row = await pool.fetchrow(
            SCOPE_FOR_TOKEN_SQL, hashlib.sha256(token.strip().encode()).hexdigest(), group_id
        )
        if row is None:
            raise NotAuthorizedException("unknown token")
        role = row["role"] or ("org_owner" if row["owner_sees"] else None)
        if role not in ("org_owner", "org_user"):
            raise NotFoundException("group not found")
        return row["id"], role

    @get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @post("/api/v1/groups/{group_id:uuid}/things")
    async def create_thing(
        group_id: FromPath[UUID],
        data: JSONBody[BareCreate],
        authorization: FromHeader[str | None] = None,
    ) -> Response[BareThing]:
        person_id, _ = await scope(authorization, group_id)
        if data.type != THING_TYPE:
            raise HTTPException(status_code=422, detail="unknown thing type")
        assert pool is not None
        async with pool.acquire() as conn, conn.transaction():
            await conn.execute(SET_GROUPS_SQL, str(group_id), True)
            row = await conn.fetchrow(
                INSERT_THING_SQL,
                uuid7(),
                group_id,
                data.type,
                data.name,
                data.status or "active",
                data.properties,
            )
            thing = BareThing(**row)
            event = await conn.fetchrow(
                INSERT_EVENT_SQL,
                uuid7(),
                group_id,
                "thing_created",
                person_id,
                thing.id,
                {"type": data.type, "name": data.name, "changed": []},
            )
        # After the commit, as the platform's bus does: append to the group's live stream,
        # then delete the outbox row.
        assert redis is not None
        entry = (str(event["id"]), "thing_created", encode(dict(event)))
        await streams.append_events(redis, {group_id: [entry]}, STREAM_RETENTION)
        assert system_pool is not None
        async with system_pool.acquire() as conn:  # the platform acks as system work
            await conn.execute(ACK_OUTBOX_SQL, [group_id], [event["id"]])
        return Response(
            thing,
            status_code=201,
            headers={
                "ETag": f'"{thing.version}"',
                "Location": f"/api/v1/groups/{group_id}/things/{thing.id}",
            },
        )

    @get("/api/v1/groups/{group_id:uuid}/things")
    async def list_things(
        group_id: FromPath[UUID],
        authorization: FromHeader[str | None] = None,
        limit: FromQuery[int] = 50,
    ) -> BarePage:
        await scope(authorization, group_id)
        assert pool is not None
        async with pool.acquire() as conn:
            await conn.execute(SET_GROUPS_SQL, str(group_id), False)
            rows = await conn.fetch(LIST_THINGS_SQL, group_id, limit + 1)
        items = [BareThing(**row) for row in rows]
        if len(items) > limit:
            items = items[:limit]
            cursor = base64.urlsafe_b64encode(items[-1].id.bytes).decode().rstrip("=")
            return BarePage(items=items, next_cursor=cursor)
        return BarePage(items=items)

    return Litestar(route_handlers=[health, create_thing, list_things], lifespan=[lifespan])


def bench_settings(database_url: str, **overrides: Any) -> Any:
    """Settings of every process of the benchmark: one data_dir, so one secret (and so
    the same passwords of the database roles)."""
    from core.settings import load_settings

    return load_settings(
        environ={},
        data_dir=Path(tempfile.gettempdir()) / "creator-bench-unused",
        database_url=database_url,
        **overrides,
    )


def platform_app(database_url: str, redis_url: str, pool_min: int, pool_max: int) -> Any:
    from core.app import create_app

    settings = bench_settings(
        database_url,
        redis_url=redis_url,
        plugins=["bench"],  # core's built-ins are always on; no other installed plugin
        migrate_on_start=False,  # migrated by the benchmark before the servers start
        db_pool_min_size=pool_min,
        db_pool_max_size=pool_max,
        log_level="warning",
        # One token sends every request: a limit it never reaches, so the limiter's cost
        # (one Redis round trip per request) is measured without refusing anything.
        rate_limit_per_minute=1_000_000_000,
    )
    return create_app(settings, extra_plugins={"bench": BenchPlugin()})


def serve(args: argparse.Namespace) -> None:
    """Child process: one uvicorn worker, same options for both apps."""
    import uvicorn

    if args.serve == "platform":
        app = platform_app(args.database_url, args.redis_url, args.pool_min, args.pool_max)
    else:
        app = bare_app(args.database_url, args.redis_url, args.pool_min, args.pool_max)
    config = dict(host=LOOPBACK, port=args.port, log_level="warning", access_log=False)
    profile_path = os.environ.get("BENCH_PROFILE")
    if not profile_path:
        uvicorn.run(app, **config)  # type: ignore[arg-type]
        return
    import cProfile
    import signal

    # uvicorn re-raises SIGTERM after its graceful shutdown; exit through Python so the
    # profile is written.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
    profiler = cProfile.Profile()
    profiler.enable()
    try:
        uvicorn.run(app, **config)  # type: ignore[arg-type]
    finally:
        profiler.disable()
        profiler.dump_stats(profile_path)


# -- orchestration --------------------------------------------------------------------------


def database_url(server_url: str, name: str) -> str:
    parts = urlsplit(server_url)
    return urlunsplit(parts._replace(path=f"/{name}"))


@dataclass
class Target:
    name: str
    url: str  # database
    port: int = 0
    token: str = ""
    group_id: str = ""
    proc: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None
    client: Any = None  # httpx.AsyncClient
    conns: list[RawHttpConnection] = field(default_factory=list)
    results: dict[str, Burst] = field(default_factory=dict)
    profile: Path | None = None
    served: int = 0  # requests sent to this server, all kinds

    @property
    def base_url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def things_path(self) -> str:
        return f"/api/v1/groups/{self.group_id}/things"


@dataclass
class Burst:
    requests: int = 0
    elapsed: float = 0.0
    errors: int = 0
    latencies: list[float] = field(default_factory=list)
    server_cpu: float = 0.0
    postgres_cpu: float = 0.0
    loadgen_cpu: float = 0.0

    def add(self, other: Burst) -> None:
        self.requests += other.requests
        self.elapsed += other.elapsed
        self.errors += other.errors
        self.latencies += other.latencies
        self.server_cpu += other.server_cpu
        self.postgres_cpu += other.postgres_cpu
        self.loadgen_cpu += other.loadgen_cpu

    @property
    def rps(self) -> float:
        return self.requests / self.elapsed if self.elapsed else 0.0

    def ms(self, pct: float) -> float:
        return percentile(self.latencies, pct) * 1000

    def per_req(self, seconds: float) -> float:
        return seconds / self.requests * 1000 if self.requests else 0.0


async def prepare(server_url: str, targets: list[Target]) -> None:
    """A fresh, migrated database per target, with a person, an API token and a group."""
    from core.auth.tokens import Directory
    from core.db import Database
    from core.migrations import migrate
    from core.platform import Platform

    conn = await asyncpg.connect(server_url)
    try:
        for target in targets:
            name = urlsplit(target.url).path.lstrip("/")
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    for target in targets:
        settings = bench_settings(target.url, plugins=["bench"])
        apps = Platform.load(settings, extra_plugins={"bench": BenchPlugin()}).migration_apps()
        logins = database_logins(settings)
        await migrate(target.url, apps, role_passwords=logins.managed)
        db = Database(logins, min_size=1, max_size=1)
        await db.open()
        try:
            directory = Directory(db)
            person = await directory.create_person(f"bench-{target.name}@example.test", "Bench")
            _, target.token = await directory.issue_token(person.id, "bench")
            group = await directory.create_group(person, slug=f"bench-{target.name}", name="B")
            target.group_id = str(group.id)
        finally:
            await db.close()


def postgres_processes(postmaster_pid: int) -> list[Any]:
    import psutil

    try:
        root = psutil.Process(postmaster_pid)
        return [root, *root.children(recursive=True)]
    except psutil.Error:
        return []


def cpu_seconds(processes: list[Any]) -> float:
    import psutil

    total = 0.0
    for proc in processes:
        try:
            times = proc.cpu_times()
            total += times.user + times.system
        except psutil.Error:
            pass
    return total


def create_body(i: int) -> bytes:
    return msgspec.json.encode(
        {
            "type": THING_TYPE,
            "name": f"item {i}",
            "properties": {"sku": f"SKU-{i:06d}", "price_cents": 100 + i % 900, "tags": ["a", "b"]},
        }
    )


async def burst(target: Target, op: str, n: int, concurrency: int, pg_pid: int) -> Burst:
    """``n`` requests of ``op`` at ``concurrency`` in flight; latencies per request."""
    import psutil

    server = psutil.Process(target.proc.pid)  # type: ignore[union-attr]
    me = psutil.Process()
    pg = postgres_processes(pg_pid)
    expected = 201 if op == "create" else 200
    result = Burst(requests=n)
    target.served += n
    counter = iter(range(n))
    path = target.things_path
    headers = {"Authorization": f"Bearer {target.token}", "Content-Type": "application/json"}
    if op == "create":
        bodies = [create_body(i) for i in range(n)]
        raws = [raw_request("POST", LOOPBACK, target.port, path, headers, b) for b in bodies]
    else:
        bodies, raws = [], [raw_request("GET", LOOPBACK, target.port, path, headers)]

    def failed(status: int, text: str) -> None:
        result.errors += 1
        if result.errors == 1:
            log(f"  {target.name} {op}: {status} {text[:300]}")

    async def raw_worker(conn: RawHttpConnection) -> None:
        for i in counter:
            start = time.perf_counter()
            status, body = await conn.request(raws[i] if op == "create" else raws[0])
            result.latencies.append(time.perf_counter() - start)
            if status != expected:
                failed(status, body.decode(errors="replace"))

    async def httpx_worker() -> None:
        client = target.client
        for i in counter:
            start = time.perf_counter()
            if op == "create":
                resp = await client.post(path, content=bodies[i])
            else:
                resp = await client.get(path)
            result.latencies.append(time.perf_counter() - start)
            if resp.status_code != expected:
                failed(resp.status_code, resp.text)

    workers = (
        [raw_worker(conn) for conn in target.conns]
        if target.conns
        else [httpx_worker() for _ in range(concurrency)]
    )
    cpu0 = server.cpu_times()
    pg0, me0 = cpu_seconds(pg), me.cpu_times()
    start = time.perf_counter()
    await asyncio.gather(*workers)
    result.elapsed = time.perf_counter() - start
    cpu1, pg1, me1 = server.cpu_times(), cpu_seconds(pg), me.cpu_times()
    result.server_cpu = (cpu1.user + cpu1.system) - (cpu0.user + cpu0.system)
    result.postgres_cpu = pg1 - pg0
    result.loadgen_cpu = (me1.user + me1.system) - (me0.user + me0.system)
    return result


async def run_load(targets: list[Target], args: argparse.Namespace, pg_pid: int) -> None:
    import httpx

    limits = httpx.Limits(
        max_connections=args.concurrency, max_keepalive_connections=args.concurrency
    )
    for target in targets:
        target.client = httpx.AsyncClient(
            base_url=target.base_url,
            headers={"Authorization": f"Bearer {target.token}", "Content-Type": "application/json"},
            limits=limits,
            timeout=60.0,
        )
        if args.client == "raw":
            target.conns = [
                RawHttpConnection(LOOPBACK, target.port) for _ in range(args.concurrency)
            ]
    try:
        # Same request to both: the same status and the same JSON keys.
        shapes = []
        for target in targets:
            created = await target.client.post(target.things_path, content=create_body(0))
            listed = await target.client.get(target.things_path)
            target.served += 2
            shapes.append(
                (
                    created.status_code,
                    sorted(created.json()),
                    listed.status_code,
                    sorted(listed.json()),
                    len(listed.json()["items"]),
                )
            )
            if created.status_code != 201 or listed.status_code != 200:
                raise RuntimeError(f"{target.name}: {created.text[:300]} / {listed.text[:300]}")
        if shapes[0] != shapes[1]:
            log(f"WARNING: responses differ in shape: {shapes}")

        for op in ("create", "list"):
            log(f"warm-up: {args.warmup} {op} requests per server")
            for target in targets:
                await burst(target, op, args.warmup, args.concurrency, pg_pid)
            per_round = max(1, args.requests // args.rounds)
            for r in range(args.rounds):
                order = targets if r % 2 == 0 else targets[::-1]
                for target in order:
                    b = await burst(target, op, per_round, args.concurrency, pg_pid)
                    target.results.setdefault(op, Burst()).add(b)
                    log(
                        f"  {op:6} round {r + 1}/{args.rounds} {target.name:8} "
                        f"{b.rps:7.0f} req/s  p50 {b.ms(50):6.1f} ms  p95 {b.ms(95):6.1f} ms"
                        + (f"  ERRORS {b.errors}" if b.errors else "")
                    )
    finally:
        for target in targets:
            await target.client.aclose()
            for conn in target.conns:
                await conn.close()


async def row_counts(target: Target) -> tuple[int, int]:
    conn = await asyncpg.connect(target.url)
    try:
        things = await conn.fetchval("SELECT count(*) FROM things")
        events = await conn.fetchval("SELECT count(*) FROM events")
        return int(things), int(events)
    finally:
        await conn.close()


def report(platform: Target, bare: Target, args: argparse.Namespace) -> None:
    rows, cpu_rows = [], []
    for op in ("create", "list"):
        p, b = platform.results[op], bare.results[op]
        ratio = p.rps / b.rps if b.rps else 0.0
        rows.append(
            [
                op,
                f"{p.rps:.0f}",
                f"{b.rps:.0f}",
                f"{ratio:.2f}",
                f">= {TARGET_RATIO}",
                "yes" if ratio >= TARGET_RATIO else "NO",
                f"{p.ms(50):.1f} / {p.ms(95):.1f}",
                f"{b.ms(50):.1f} / {b.ms(95):.1f}",
                f"{p.errors} / {b.errors}",
            ]
        )
        cpu_rows.append(
            [
                op,
                f"{p.per_req(p.server_cpu):.2f}",
                f"{b.per_req(b.server_cpu):.2f}",
                f"{p.per_req(p.postgres_cpu):.2f} / {b.per_req(b.postgres_cpu):.2f}",
                f"{p.per_req(p.loadgen_cpu):.2f} / {b.per_req(b.loadgen_cpu):.2f}",
                f"{b.per_req(b.server_cpu) / p.per_req(p.server_cpu):.2f}",
            ]
        )
    print()
    print(
        f"Things API, {args.requests} requests per operation and server at concurrency "
        f"{args.concurrency} (after {args.warmup} warm-up), load generator "
        f"{args.client}, uvicorn 1 worker each, "
        f"asyncpg pool {args.pool_min}..{args.pool_max}; {machine()}"
    )
    print()
    print(
        table(
            [
                "operation",
                "platform req/s",
                "bare req/s",
                "ratio",
                "target",
                "met",
                "platform p50 / p95 ms",
                "bare p50 / p95 ms",
                "errors p / b",
            ],
            rows,
        )
    )
    print()
    print(
        "CPU per request (ms), psutil over the same bursts. The server CPU ratio (bare / "
        "platform) is\nthe throughput ratio a server-bound run would show; it is steadier "
        "than req/s when other work\nshares the machine."
    )
    print()
    print(
        table(
            [
                "operation",
                "platform server",
                "bare server",
                "postgres p / b",
                "load generator p / b",
                "server CPU ratio b / p",
            ],
            cpu_rows,
        )
    )


PACKAGES = (  # (label, substring of the code's file path), first match wins
    ("core/ (platform code)", "/core/"),
    ("sdk/", "/sdk/"),
    ("litestar", "/litestar/"),
    ("uvicorn + h11", "/uvicorn/"),
    ("uvicorn + h11", "/h11/"),
    ("asyncpg", "/asyncpg/"),
    ("pluggy", "/pluggy/"),
    ("msgspec", "msgspec"),
    ("anyio", "/anyio/"),
    ("asyncio", "/asyncio/"),
    ("asyncio", "_asyncio"),
    ("contextlib", "contextlib"),
    ("this benchmark (bare app)", "things_api.py"),
)


def print_profiles(platform: Target, bare: Target, top: int = 20) -> None:
    """Where the platform's server spends CPU beyond the bare app's, per request.

    cProfile inflates code made of many small Python calls more than code in C, so read
    the split as an attribution of the difference, not as absolute costs.
    """
    prof = {t.name: profile_stats(t.profile) for t in (platform, bare) if t.profile}  # type: ignore[misc]
    if len(prof) != 2:
        log("profiles missing; nothing to compare")
        return
    served = {t.name: t.served for t in (platform, bare)}
    by_pkg: dict[str, dict[str, float]] = {}
    for name, stats in prof.items():
        for key, (tt, _, _) in stats.items():
            pkg = by_pkg.setdefault(profile_package(key, PACKAGES), {"platform": 0.0, "bare": 0.0})
            pkg[name] += tt / served[name] * 1e6
    rows = sorted(by_pkg.items(), key=lambda kv: kv[1]["bare"] - kv[1]["platform"])
    print()
    print(
        f"cProfile of both servers (own time per request, us; {served['platform']} / "
        f"{served['bare']} requests of both operations; profiled servers run slower):"
    )
    print()
    print(
        table(
            ["package", "platform us/req", "bare us/req", "difference"],
            [
                [
                    pkg,
                    f"{v['platform']:.0f}",
                    f"{v['bare']:.0f}",
                    f"{v['platform'] - v['bare']:+.0f}",
                ]
                for pkg, v in rows
            ],
        )
    )
    keys = set(prof["platform"]) | set(prof["bare"])
    zero = (0.0, 0.0, 0)

    def per_req(name: str, key: tuple[str, int, str], index: int) -> float:
        return prof[name].get(key, zero)[index] / served[name] * 1e6

    deltas = sorted(keys, key=lambda k: per_req("bare", k, 0) - per_req("platform", k, 0))
    print()
    print(f"Functions with the largest extra own time in the platform (top {top}):")
    print()
    print(
        table(
            ["function", "platform us/req", "bare us/req", "calls/req p / b"],
            [
                [
                    profile_name(k),
                    f"{per_req('platform', k, 0):.1f}",
                    f"{per_req('bare', k, 0):.1f}",
                    f"{prof['platform'].get(k, zero)[2] / served['platform']:.1f} / "
                    f"{prof['bare'].get(k, zero)[2] / served['bare']:.1f}",
                ]
                for k in deltas[:top]
                if "epoll" not in k[2]
            ],
        )
    )
    core_keys = sorted(
        (k for k in prof["platform"] if "/core/" in k[0] or "/litestar/_kwargs" in k[0]),
        key=lambda k: -per_req("platform", k, 1),
    )
    print()
    print(f"Platform code and Litestar's dependency resolution, inclusive time (top {top}):")
    print()
    print(
        table(
            ["function", "inclusive us/req", "own us/req"],
            [
                [
                    profile_name(k),
                    f"{per_req('platform', k, 1):.1f}",
                    f"{per_req('platform', k, 0):.1f}",
                ]
                for k in core_keys[:top]
            ],
        )
    )


def main(args: argparse.Namespace) -> int:
    from core.runtime import Runtime
    from core.settings import load_settings

    drift = check_sql_matches_core()
    for problem in drift:
        log(f"WARNING: the bare app's SQL copy may be stale: {problem}")
    work = Path(tempfile.mkdtemp(prefix="creator-bench-things-"))
    runtime: Runtime | None = None
    targets: list[Target] = []
    try:
        log(f"starting embedded PostgreSQL + Redis in {work}")
        t0 = time.perf_counter()
        runtime = Runtime(load_settings(environ={}, data_dir=work / "data")).start()
        log(f"  ready in {time.perf_counter() - t0:.2f} s")
        assert runtime.postgres is not None and runtime.postgres.pid is not None
        pg_pid = runtime.postgres.pid
        suffix = uuid.uuid4().hex[:8]
        platform = Target("platform", database_url(runtime.database_url, f"bench_p_{suffix}"))
        bare = Target("bare", database_url(runtime.database_url, f"bench_b_{suffix}"))
        targets = [platform, bare]
        log("creating and migrating one database per server")
        asyncio.run(prepare(runtime.database_url, targets))
        for target in targets:
            target.port = free_port()
            target.log_path = work / f"{target.name}.log"
            target.profile = work / f"{target.name}.prof" if args.profile else None
            env = {"BENCH_PROFILE": str(target.profile)} if target.profile else {}
            command = [
                sys.executable,
                str(Path(__file__).resolve()),
                "--serve",
                target.name,
                "--port",
                str(target.port),
                "--database-url",
                target.url,
                "--redis-url",
                runtime.redis_url,
                "--pool-min",
                str(args.pool_min),
                "--pool-max",
                str(args.pool_max),
            ]
            target.proc = spawn(command, env=env, log_path=target.log_path)
        for target in targets:
            wait_http(
                f"{target.base_url}/health", proc=target.proc, timeout=60, log_path=target.log_path
            )
            log(f"{target.name} server up on {target.base_url} (pid {target.proc.pid})")  # type: ignore[union-attr]
        asyncio.run(run_load(targets, args, pg_pid))
        for target in targets:
            things, events = asyncio.run(row_counts(target))
            log(f"{target.name}: {things} things, {events} events in its database")
        report(platform, bare, args)
        if args.profile:
            for target in targets:
                stop(target.proc, timeout=30)
            print_profiles(platform, bare)
            if args.keep_profiles:
                args.keep_profiles.mkdir(parents=True, exist_ok=True)
                for target in targets:
                    if target.profile and target.profile.exists():
                        shutil.copy(target.profile, args.keep_profiles / target.profile.name)
                log(f"profiles copied to {args.keep_profiles} (python -m pstats FILE)")
        return 0
    finally:
        for target in targets:
            stop(target.proc)
        if runtime is not None:
            runtime.stop()
        shutil.rmtree(work, ignore_errors=True)
        log("cleaned up servers and temp dirs")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else "")
    parser.add_argument("--requests", type=int, default=2000, help="per operation and server")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--warmup", type=int, default=200, help="per operation and server")
    parser.add_argument("--rounds", type=int, default=4, help="alternating bursts per server")
    parser.add_argument("--pool-min", type=int, default=2, help="asyncpg pool, both servers")
    parser.add_argument("--pool-max", type=int, default=10, help="asyncpg pool, both servers")
    parser.add_argument(
        "--client",
        choices=["raw", "httpx"],
        default="raw",
        help="load generator: a minimal HTTP/1.1 client (default) or httpx.AsyncClient",
    )
    parser.add_argument(
        "--profile", action="store_true", help="cProfile both servers and compare them"
    )
    parser.add_argument(
        "--keep-profiles", type=Path, metavar="DIR", help="with --profile: copy the .prof files"
    )
    # Internal: run one of the two servers (the benchmark starts these itself).
    parser.add_argument("--serve", choices=["platform", "bare"], help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--database-url", help=argparse.SUPPRESS)
    parser.add_argument("--redis-url", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


if __name__ == "__main__":
    arguments = parse_args()
    if arguments.serve:
        serve(arguments)
    else:
        sys.exit(main(arguments))

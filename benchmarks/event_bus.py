"""Event bus throughput: events emitted, committed and delivered to an in-process handler
per second, through the platform's stores, beside raw batched INSERTs of the same rows.

Everything runs in this process against an embedded PostgreSQL and Redis started by
``core.runtime.Runtime`` on a temporary data dir, on a fresh migrated database:

* **platform, batched emit**: ``ontology.transaction(scope)`` with ``--batch`` emits each
  (event + outbox row per emit, one commit, then the drain: the handler runs for every
  event, one Redis pipeline publishes them, one DELETE removes the outbox rows), with
  ``--workers`` such transactions in flight;
* **platform, batched emit_many**: the same with one ``events.emit_many`` per transaction
  (one statement writes the batch's events and outbox rows);
* **platform, single**: ``--concurrency`` tasks each emitting one event per transaction
  (the API's shape: one change, one commit, one drain);
* **raw INSERT events**: ``executemany`` of the same rows into ``events`` in transactions
  of ``--batch``, no platform code — the floor;
* **raw INSERT events + outbox**: the same with the platform's event+outbox statement, so
  the outbox row's own cost is visible;
* **raw single INSERT transactions**: ``--concurrency`` tasks each committing one raw
  INSERT per transaction (the floor of the single path);
* **relay**: events left in the outbox (as by a killed process) relayed by
  ``OutboxRelay`` to the handler.

    python benchmarks/event_bus.py              # defaults: 20000 batched, 4000 single
    python benchmarks/event_bus.py --events 5000 --single 1000   # quicker

Nothing is asserted: the figures and the target (>= 5,000 events/s) are printed.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import asyncpg
import msgspec

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import log, machine, table

from core.db import SET_GROUPS_SQL, database_logins
from core.events import EventHandler, HandlerContext, OutboxRelay
from core.hookspecs import hookimpl
from core.migrations import migrate
from core.ontology.events import _INSERT_EVENT_SQL
from core.ontology.ids import uuid7
from core.ontology.records import Event
from core.ontology.stores import Ontology
from core.ontology.types import EventType
from core.platform import Platform
from core.runtime import Runtime
from core.settings import load_settings

TARGET = 5000.0
EVENT_TYPE = "bench_tick"


class Tick(msgspec.Struct, forbid_unknown_fields=True):
    n: int
    source: str = "bench"


class BenchPlugin:
    """One event type and one in-process handler that counts what it is handed."""

    def __init__(self) -> None:
        self.delivered = 0
        self.done = asyncio.Event()
        self.expect = 0

    async def count(self, event: Event, ctx: HandlerContext) -> None:
        self.delivered += 1
        if self.delivered >= self.expect:
            self.done.set()

    def reset(self, expect: int) -> None:
        self.delivered, self.expect = 0, expect
        self.done = asyncio.Event()

    @hookimpl
    def register_event_types(self) -> list[EventType]:
        return [EventType(EVENT_TYPE, Tick, "A benchmark tick")]

    @hookimpl
    def register_event_handlers(self) -> list[EventHandler]:
        return [EventHandler(EVENT_TYPE, self.count, name="count")]


def rate(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else 0.0


async def platform_batched(
    platform: Platform,
    plugin: BenchPlugin,
    scope: Any,
    total: int,
    batch: int,
    workers: int,
    many: bool = False,
) -> float:
    plugin.reset(total)
    batches = total // batch
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(batches):
        queue.put_nowait(i)

    async def worker() -> None:
        while not queue.empty():
            i = queue.get_nowait()
            async with platform.ontology.transaction(scope) as o:
                if many:
                    await o.events.emit_many(
                        [(EVENT_TYPE, {"n": i * batch + j}, None) for j in range(batch)]
                    )
                    continue
                for j in range(batch):
                    await o.events.emit(EVENT_TYPE, {"n": i * batch + j})

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(workers)))
    await asyncio.wait_for(plugin.done.wait(), 60)
    elapsed = time.perf_counter() - start
    assert plugin.delivered == batches * batch, plugin.delivered
    return elapsed


async def platform_single(
    platform: Platform, plugin: BenchPlugin, scope: Any, total: int, concurrency: int
) -> float:
    plugin.reset(total)
    events = platform.ontology.scoped(scope).events
    remaining = [total]

    async def worker() -> None:
        while remaining[0] > 0:
            remaining[0] -= 1
            await events.emit(EVENT_TYPE, {"n": remaining[0]})

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    await asyncio.wait_for(plugin.done.wait(), 60)
    return time.perf_counter() - start


async def raw_batched(
    pool: asyncpg.Pool,
    sql: str,
    group_id: Any,
    person_id: Any,
    total: int,
    batch: int,
    workers: int,
) -> float:
    batches = total // batch
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(batches):
        queue.put_nowait(i)

    async def worker() -> None:
        while not queue.empty():
            i = queue.get_nowait()
            rows = [
                (
                    uuid7(),
                    group_id,
                    EVENT_TYPE,
                    person_id,
                    None,
                    {"n": i * batch + j, "source": "bench"},
                )
                for j in range(batch)
            ]
            async with pool.acquire() as conn, conn.transaction():
                # as any unit of work: name the group (row-level security)
                await conn.execute(SET_GROUPS_SQL, str(group_id), True)
                await conn.executemany(sql, rows)

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(workers)))
    return time.perf_counter() - start


async def raw_single(
    pool: asyncpg.Pool, sql: str, group_id: Any, person_id: Any, total: int, concurrency: int
) -> float:
    remaining = [total]

    async def worker() -> None:
        while remaining[0] > 0:
            remaining[0] -= 1
            async with pool.acquire() as conn, conn.transaction():
                await conn.execute(SET_GROUPS_SQL, str(group_id), True)
                await conn.execute(
                    sql,
                    uuid7(),
                    group_id,
                    EVENT_TYPE,
                    person_id,
                    None,
                    {"n": remaining[0], "source": "bench"},
                )

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - start


async def relay(platform: Platform, plugin: BenchPlugin, scope: Any, total: int) -> float:
    async def never(events: Sequence[Event]) -> None:
        pass

    crashed = Ontology(platform.db, platform.registry, never)
    for start_n in range(0, total, 500):
        async with crashed.transaction(scope) as o:
            for n in range(start_n, min(total, start_n + 500)):
                await o.events.emit(EVENT_TYPE, {"n": n})
    plugin.reset(total)
    relayer = OutboxRelay(platform.bus, platform.ontology, platform.settings)
    start = time.perf_counter()
    relayed = await relayer.relay_all(older_than=0.0, batch=500)
    elapsed = time.perf_counter() - start
    assert relayed == total == plugin.delivered, (relayed, plugin.delivered)
    return elapsed


async def run(args: argparse.Namespace, data_dir: Path) -> None:
    settings = load_settings(environ={}, data_dir=data_dir, log_level="warning")
    runtime = Runtime(settings).start()
    try:
        admin = await asyncpg.connect(runtime.database_url)
        await admin.execute('CREATE DATABASE "bench_events"')
        await admin.close()
        from urllib.parse import urlsplit, urlunsplit

        url = urlunsplit(urlsplit(runtime.database_url)._replace(path="/bench_events"))
        plugin = BenchPlugin()
        settings = load_settings(
            environ={},
            data_dir=data_dir,
            database_url=url,
            redis_url=runtime.redis_url,
            plugins=["bench"],
            migrate_on_start=False,
            log_level="warning",
            db_pool_min_size=args.workers,
            db_pool_max_size=max(10, args.concurrency + 2),
        )
        platform = Platform.load(settings, extra_plugins={"bench": plugin})
        await migrate(
            url, platform.migration_apps(), role_passwords=database_logins(settings).managed
        )
        await platform.start()
        try:
            person = await platform.directory.create_person("bench@example.test", "Bench")
            group = await platform.directory.create_group(person, slug="bench", name="Bench")
            from core.ontology.scope import Scope

            scope = Scope(group_id=group.id, person_id=person.id, role="org_owner")
            pool = platform.db.pool
            raw_events_sql = (
                "INSERT INTO events (id, group_id, type, actor_id, target_id, payload) "
                "VALUES ($1, $2, $3, $4, $5, $6)"
            )
            log("warm-up")
            await platform_batched(platform, plugin, scope, 1000, args.batch, args.workers)
            await raw_batched(pool, raw_events_sql, group.id, person.id, 1000, args.batch, 1)

            results: dict[str, list[float]] = {}
            for round_ in range(args.rounds):
                log(f"round {round_ + 1}/{args.rounds}")
                for name, coro in (
                    (
                        "platform, batched emit",
                        platform_batched(
                            platform, plugin, scope, args.events, args.batch, args.workers
                        ),
                    ),
                    (
                        "platform, batched emit_many",
                        platform_batched(
                            platform, plugin, scope, args.events, args.batch, args.workers, True
                        ),
                    ),
                    (
                        "raw INSERT events",
                        raw_batched(
                            pool,
                            raw_events_sql,
                            group.id,
                            person.id,
                            args.events,
                            args.batch,
                            args.workers,
                        ),
                    ),
                    (
                        "raw INSERT events + outbox",
                        raw_batched(
                            pool,
                            _INSERT_EVENT_SQL,
                            group.id,
                            person.id,
                            args.events,
                            args.batch,
                            args.workers,
                        ),
                    ),
                    (
                        "platform, single",
                        platform_single(platform, plugin, scope, args.single, args.concurrency),
                    ),
                    (
                        "raw single INSERT transactions",
                        raw_single(
                            pool, raw_events_sql, group.id, person.id, args.single, args.concurrency
                        ),
                    ),
                ):
                    elapsed = await coro
                    single = "single" in name
                    count = args.single if single else (args.events // args.batch) * args.batch
                    results.setdefault(name, []).append(rate(count, elapsed))
                # raw "events + outbox" rows stay in the outbox: clear them between runs
                async with platform.db.as_owner() as owner:  # housekeeping, not app work
                    await owner.execute("TRUNCATE event_outbox")
            log("relay")
            relay_elapsed = await relay(platform, plugin, scope, args.relay)
        finally:
            await platform.stop()
    finally:
        runtime.stop()

    best = {name: max(values) for name, values in results.items()}
    raw = best["raw INSERT events"]
    print()
    print(f"Event bus throughput; {machine()}")
    print(
        f"batched: {args.events} events in transactions of {args.batch}, {args.workers} in "
        f"flight; single: {args.single} one-event transactions, {args.concurrency} in "
        f"flight; best of {args.rounds} rounds; embedded PostgreSQL 18 + Redis"
    )
    print()
    rows = []
    raw_single_rate = best["raw single INSERT transactions"]
    for name in (
        "platform, batched emit",
        "platform, batched emit_many",
        "raw INSERT events",
        "raw INSERT events + outbox",
        "platform, single",
        "raw single INSERT transactions",
    ):
        value = best[name]
        is_platform = name.startswith("platform")
        baseline = raw_single_rate if "single" in name else raw
        rows.append(
            [
                name,
                f"{value:,.0f}",
                " / ".join(f"{v:,.0f}" for v in results[name]),
                f"{value / baseline:.2f}",
                f">= {TARGET:,.0f}" if is_platform else "",
                ("yes" if value >= TARGET else "no") if is_platform else "",
            ]
        )
    relay_rate = rate(args.relay, relay_elapsed)
    rows.append(
        [
            "crash recovery: OutboxRelay",
            f"{relay_rate:,.0f}",
            "",
            f"{relay_rate / raw:.2f}",
            "",
            "",
        ]
    )
    print(table(["path", "events/s (best)", "each round", "x raw", "target", "met"], rows))
    print()
    print(
        "platform rows count events delivered to the in-process handler (after commit); raw "
        "rows only commit. 'x raw' compares batched paths (and the relay) with the raw "
        "batched INSERT of events, single paths with raw single-event transactions. The "
        f"relay figure is for {args.relay} events left in the outbox, claimed 500 per "
        "transaction."
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=20000, help="events per batched run")
    parser.add_argument("--batch", type=int, default=100, help="emits per transaction")
    parser.add_argument("--workers", type=int, default=4, help="batched transactions in flight")
    parser.add_argument("--single", type=int, default=4000, help="one-event transactions")
    parser.add_argument("--concurrency", type=int, default=16, help="single ones in flight")
    parser.add_argument("--relay", type=int, default=5000, help="events to relay")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    data_dir = Path(tempfile.mkdtemp(prefix="creator-bench-events-"))
    try:
        asyncio.run(run(args, data_dir))
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()

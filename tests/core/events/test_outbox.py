"""The transactional outbox: an event's outbox row commits with it, the emitting process
deletes it once the event is delivered, and the relay delivers what a dead process left —
including after a real SIGKILL between commit and dispatch."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import msgspec
import pytest

from core.app import create_app
from core.events import OutboxRelay
from core.ontology.scope import Scope
from core.settings import load_settings
from sdk.testing import CreatorPlatform, Servers, Tenant, database_url, wait_until

ROOT = Path(__file__).resolve().parents[3]


async def test_outbox_row_commits_with_the_event_and_goes_after_delivery(
    evt: CreatorPlatform, alice: Tenant, events_plugin, outbox_count
) -> None:
    async with evt.platform.ontology.transaction(alice.scope) as o:
        first = await o.events.emit("doom", {"n": 1})
        second = await o.events.emit("doom", {"n": 2})
        # inside the transaction the rows exist (on its connection), outside not yet
        assert await outbox_count() == 0
        assert events_plugin.seen == []
    assert [e.id for e in events_plugin.seen] == [first.id, second.id]
    assert events_plugin.keys == [f"{first.id}:evt.record", f"{second.id}:evt.record"]
    assert await outbox_count() == 0

    with pytest.raises(RuntimeError):
        async with evt.platform.ontology.transaction(alice.scope) as o:
            await o.events.emit("doom", {"n": 3})
            raise RuntimeError("roll back")
    assert await outbox_count() == 0
    assert len(events_plugin.seen) == 2


async def test_relay_delivers_what_a_dead_process_left(
    evt: CreatorPlatform, alice: Tenant, events_plugin, crashed_ontology, outbox_count
) -> None:
    async with crashed_ontology.transaction(alice.scope) as o:
        left = [(await o.events.emit("doom", {"n": n})).id for n in range(3)]
    assert await outbox_count() == 3
    assert events_plugin.seen == []

    relay = OutboxRelay(evt.platform.bus, evt.platform.ontology, evt.platform.settings)
    assert await relay.relay_all(older_than=60.0) == 0  # too young: a live process's
    assert await relay.relay_all(older_than=0.0) == 3
    assert [e.id for e in events_plugin.seen] == left  # oldest first
    assert await outbox_count() == 0
    assert await relay.relay_all() == 0


async def test_concurrent_relays_share_the_work_without_repeats(
    evt: CreatorPlatform, alice: Tenant, events_plugin, crashed_ontology, outbox_count
) -> None:
    async with crashed_ontology.transaction(alice.scope) as o:
        left = {(await o.events.emit("doom", {"n": n})).id for n in range(120)}
    relays = [
        OutboxRelay(evt.platform.bus, evt.platform.ontology, evt.platform.settings)
        for _ in range(3)
    ]
    counts = await asyncio.gather(*(r.relay_all(batch=10) for r in relays))
    assert sum(counts) == 120
    seen = [e.id for e in events_plugin.seen]
    assert len(seen) == len(set(seen)) == 120 and set(seen) == left
    assert await outbox_count() == 0


async def test_the_running_relay_picks_up_abandoned_rows(
    creator_platform_factory, events_plugin, settings_fast
) -> None:
    settings_fast["relay_grace_seconds"] = 0.0
    cp = await creator_platform_factory(
        plugins=["evt"], extra_plugins={"evt": events_plugin}, **settings_fast
    )
    tenant = await cp.tenant()
    from core.ontology.stores import Ontology

    async def never(events):
        pass

    crashed = Ontology(cp.platform.db, cp.platform.registry, never)
    event = await crashed.scoped(tenant.scope).events.emit("doom", {"n": 7})
    await wait_until(lambda: [e.id for e in events_plugin.seen] == [event.id])


CRASHING_SCRIPT = textwrap.dedent(
    """
    import asyncio, os, signal, sys
    from uuid import UUID

    from core.ontology.scope import Scope
    from core.platform import Platform
    from core.settings import load_settings


    async def main(database_url, redis_url, group_id):
        settings = load_settings(
            environ={}, database_url=database_url, redis_url=redis_url, plugins=[],
            migrate_on_start=False, db_pool_min_size=1,
        )
        platform = Platform.load(settings)

        async def die_before_dispatch(events):
            # the transaction has committed; dispatch is next: die as hard as a process can
            print(" ".join(str(e.id) for e in events), flush=True)
            os.kill(os.getpid(), signal.SIGKILL)

        platform.bus.dispatch = die_before_dispatch
        await platform.start()
        scoped = platform.ontology.scoped(Scope.system(UUID(group_id)))
        await scoped.events.emit("thing_created", {"type": "note", "name": "lost?"})
        print("survived", flush=True)


    asyncio.run(main(*sys.argv[1:]))
    """
)


async def test_sigkill_between_commit_and_dispatch_loses_nothing(
    creator_servers: Servers, events_plugin, tmp_path
) -> None:
    name = await creator_servers.create_database()
    try:
        settings = load_settings(
            environ={},
            data_dir=creator_servers.data_dir,
            database_url=database_url(creator_servers.database_url, name),
            redis_url=creator_servers.redis_url.rsplit("/", 1)[0] + "/15",
            plugins=["evt"],
            migrate_on_start=True,  # the template predates nothing, but be sure
            db_pool_min_size=1,
            # rows younger than this may be a live process's: the relay leaves them alone
            relay_grace_seconds=0.5,
            relay_interval_seconds=0.1,
        )
        # 1. a group to emit in
        app = create_app(settings, extra_plugins={"evt": events_plugin})
        async with app.lifespan():
            platform = app.state.platform
            person = await platform.directory.create_person("crash@example.test", "Crash")
            group = await platform.directory.create_group(person, slug="crash", name="Crash")

        # 2. a real process commits an event and is SIGKILLed before it dispatches
        script = tmp_path / "crash.py"
        script.write_text(CRASHING_SCRIPT)
        assert settings.database_url and settings.redis_url
        result = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, str(script), settings.database_url, settings.redis_url, str(group.id)],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        assert result.returncode == -signal.SIGKILL, (result.returncode, result.stderr)
        assert "survived" not in result.stdout
        (event_id,) = result.stdout.split()

        # 3. the platform starts again on the same database: its relay delivers the event
        #    as soon as it is older than the grace period
        restarted = create_app(settings, extra_plugins={"evt": events_plugin})
        async with restarted.lifespan():
            platform = restarted.state.platform
            await wait_until(lambda: events_plugin.seen, within=15, message="the delivery")
            (delivered,) = events_plugin.seen
            assert str(delivered.id) == event_id  # exactly the event the dead process wrote
            assert delivered.type == "thing_created" and delivered.group_id == group.id
            assert delivered.payload == {"type": "note", "name": "lost?", "changed": []}
            async with platform.db.system() as conn:
                assert await conn.fetchval("SELECT count(*) FROM event_outbox") == 0
            stored = await platform.ontology.scoped(Scope.system(group.id)).events.get(delivered.id)
            assert msgspec.structs.asdict(stored) == msgspec.structs.asdict(delivered)
    finally:
        await creator_servers.drop_database(name)


async def test_concurrent_tasks_on_one_set_of_stores_get_their_own_transactions(
    evt: CreatorPlatform, alice: Tenant, events_plugin
) -> None:
    o = evt.ontology(alice)
    opened, release = asyncio.Event(), asyncio.Event()

    async def slow() -> None:
        async with o.session.transaction():
            await o.events.emit("note", {"n": 1})
            opened.set()
            await release.wait()

    task = asyncio.ensure_future(slow())
    await opened.wait()
    quick = await o.events.emit("note", {"n": 2})  # not inside the other task's transaction
    assert [e.id for e in events_plugin.seen] == [quick.id]
    release.set()
    await task
    assert [e.payload["n"] for e in events_plugin.seen] == [2, 1]


async def test_emit_many_writes_events_and_outbox_rows_in_one_statement(
    evt: CreatorPlatform, alice: Tenant, events_plugin, outbox_count
) -> None:
    from core.errors import ValidationFailed

    o = evt.ontology(alice)
    target = uuid.uuid4()
    many = await o.events.emit_many(
        [("note", {"n": 1}, None), ("ping", None, target), ("note", {"n": 3}, None)]
    )
    assert [(e.type, e.payload, e.target_id) for e in many] == [
        ("note", {"n": 1}, None),
        ("ping", {"n": 0}, target),
        ("note", {"n": 3}, None),
    ]
    assert [e.id for e in events_plugin.seen] == [e.id for e in many]
    assert all(e.actor_id == alice.person.id and e.group_id == alice.group.id for e in many)
    assert await outbox_count() == 0
    assert await o.events.get(many[1].id) == many[1]
    with pytest.raises(ValidationFailed):
        await o.events.emit_many([("note", {"n": 4}, None), ("note", {"n": "four"}, None)])
    assert len((await o.events.list(type="note")).items) == 2

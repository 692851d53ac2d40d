"""The live event stream: server-sent events per group from the group's Redis Stream,
resumable with Last-Event-ID without missing an event that committed late, capped per
person and group, bounded for slow clients, read by one hub per process, and never
carrying another group's events."""

from __future__ import annotations

import asyncio
import uuid

import pytest_asyncio

from core.streams import HUB_CLIENT_NAME, HUB_CONNECTIONS, StreamSlots
from sdk.testing import CreatorPlatform, PlatformFactory, Tenant, assert_problem, wait_until
from tests.core.events.conftest import FAST, PLUGIN, EventsPlugin


async def test_committed_events_arrive_live(evt: CreatorPlatform, alice: Tenant, sse) -> None:
    o = evt.ontology(alice)
    async with sse(evt, alice) as stream:
        first = await o.events.emit("note", {"n": 1})
        async with evt.platform.ontology.transaction(alice.scope) as tx:
            second = await tx.events.emit("note", {"n": 2})
        one, two = await stream.events(2)
        assert one.event == "note"
        assert one.json() == {
            "id": str(first.id),
            "group_id": str(alice.group.id),
            "type": "note",
            "actor_id": str(alice.person.id),
            "target_id": None,
            "payload": {"n": 1},
            "occurred_at": first.occurred_at.isoformat().replace("+00:00", "Z"),
        }
        assert (two.json()["id"], two.json()["payload"]) == (str(second.id), {"n": 2})
        # ids are the stream's entry ids, in delivery order
        assert [tuple(map(int, m.id.split("-"))) for m in (one, two)] == sorted(
            tuple(map(int, m.id.split("-"))) for m in (one, two)
        )
        # an idle stream gets keep-alive comments
        beat = await stream.next(5, comments=True)
        assert beat.comment == "keep-alive" and beat.data is None


async def test_an_event_committed_late_with_a_smaller_id_is_not_missed_on_resume(
    evt: CreatorPlatform, alice: Tenant, sse
) -> None:
    """The review's case: ids are taken at emit, so a transaction that commits late
    carries a smaller id than events the client already saw. Resuming "after the last
    id seen" by event id skipped it; the stream's entry ids follow delivery."""
    o = evt.ontology(alice)
    async with sse(evt, alice) as stream:
        async with evt.platform.ontology.transaction(alice.scope) as slow:
            late = await slow.events.emit("note", {"n": 1})  # its id is taken now...
            early = await o.events.emit("note", {"n": 2})  # ...this one commits first
            (seen,) = await stream.events(1)
            assert seen.json()["id"] == str(early.id)
        # the slow transaction commits after the client went away
    assert late.id < early.id
    async with sse(evt, alice, last_event_id=seen.id) as resumed:
        (message,) = await resumed.events(1, within=5)
        assert message.json()["id"] == str(late.id)
        assert await resumed.nothing_for(0.3) == []


async def test_resume_replays_then_goes_live_without_repeats(
    evt: CreatorPlatform, alice: Tenant, sse
) -> None:
    o = evt.ontology(alice)
    async with sse(evt, alice) as first:
        emitted = [(await o.events.emit("note", {"n": n})).id for n in range(4)]
        messages = await first.events(4)
    assert [m.json()["id"] for m in messages] == [str(i) for i in emitted]
    async with sse(evt, alice, last_event_id=messages[1].id) as stream:
        replayed = await stream.events(2)
        assert [m.id for m in replayed] == [m.id for m in messages[2:]]
        live = await o.events.emit("note", {"n": 4})
        (message,) = await stream.events(1)
        assert message.json()["id"] == str(live.id)
        # the outbox relay delivering an event again (at least once) appends it once
        await evt.platform.bus.deliver([await o.events.get(emitted[3])])
        later = await o.events.emit("note", {"n": 5})
        (message,) = await stream.events(1)
        assert message.json()["id"] == str(later.id)
    # ?last_event_id= is read as the header is (EventSource cannot set headers)
    r = await alice.client.get(alice.url("/events/stream"), params={"last_event_id": "nope"})
    assert_problem(r, 422, "validation_failed")
    r = await alice.client.get(alice.url("/events/stream"), headers={"Last-Event-ID": "x-1"})
    assert_problem(r, 422, "validation_failed", field="last_event_id")


async def test_an_event_id_from_an_older_client_still_resumes(
    evt: CreatorPlatform, alice: Tenant, sse
) -> None:
    o = evt.ontology(alice)
    ids = [(await o.events.emit("note", {"n": n})).id for n in range(4)]
    async with sse(evt, alice, last_event_id=str(ids[1])) as stream:
        replayed = await stream.events(2)
        assert [m.json()["id"] for m in replayed] == [str(ids[2]), str(ids[3])]
        live = await o.events.emit("note", {"n": 4})
        (message,) = await stream.events(1)
        assert message.json()["id"] == str(live.id) and "-" in message.id
        assert await stream.nothing_for(0.3) == []


async def test_a_group_stream_never_carries_another_groups_events(
    evt: CreatorPlatform, alice: Tenant, sse
) -> None:
    bob = await evt.tenant()
    async with sse(evt, bob) as bobs, sse(evt, alice) as alices:
        for n in range(3):
            await evt.ontology(alice).events.emit("note", {"n": n})
        mine = await evt.ontology(bob).events.emit("note", {"n": 99})
        (first,) = await bobs.events(1)
        assert first.json()["id"] == str(mine.id)  # alice's three came first, not sent
        assert first.json()["group_id"] == str(bob.group.id)
        alice_messages = await alices.events(3)
        assert await alices.nothing_for(0.3) == []
    # resuming with an id of another group's stream (or an event id of another group)
    # replays only this group's events
    for position in (alice_messages[0].id, "0-0", str(uuid.UUID(int=0))):
        async with sse(evt, bob, last_event_id=position) as again:
            (only,) = await again.events(1)
            assert only.json()["id"] == str(mine.id)
            assert await again.nothing_for(0.3) == []


async def test_stream_needs_a_member(evt: CreatorPlatform, alice: Tenant) -> None:
    bob = await evt.tenant()
    r = await bob.client.get(alice.url("/events/stream"))
    assert r.status_code == 404
    assert (await evt.client.get(alice.url("/events/stream"))).status_code == 401
    customer = await evt.member(alice, "customer")
    assert (await customer.client.get(alice.url("/events/stream"))).status_code == 403


# -- limits ----------------------------------------------------------------------------------


@pytest_asyncio.fixture
async def tight(
    creator_platform_factory: PlatformFactory, events_plugin: EventsPlugin
) -> CreatorPlatform:
    """Streams capped at 2 per person and 3 per group; a short retention and buffer."""
    return await creator_platform_factory(
        plugins=[PLUGIN],
        extra_plugins={PLUGIN: events_plugin},
        **FAST,
        stream_max_per_person=2,
        stream_max_per_group=3,
        stream_retention_events=10,
        stream_client_buffer_events=5,
    )


async def test_open_streams_are_capped_per_person_and_per_group(
    tight: CreatorPlatform, sse
) -> None:
    alice = await tight.tenant()
    bob = await tight.member(alice, "org_user")
    url = alice.url("/events/stream")
    async with sse(tight, alice), sse(tight, alice) as second:
        body = assert_problem(await alice.client.get(url), 429, "too_many_streams")
        assert body["limit"] == 2
        async with sse(tight, bob):
            # bob has one stream of his two, but the group has its three
            body = assert_problem(await bob.client.get(url), 429, "too_many_streams")
            assert body["limit"] == 3
            await second.__aexit__(None, None, None)
            async with sse(tight, bob):  # a closed stream frees its slot
                pass
    # other groups are counted on their own
    other = await tight.tenant()
    async with sse(tight, other), sse(tight, other):
        pass


async def test_a_dead_processs_stream_slots_free_themselves(tight: CreatorPlatform, sse) -> None:
    alice = await tight.tenant()
    # Slots taken by a process that then died: nobody renews them.
    dead = StreamSlots(tight.platform.redis, per_person=2, per_group=3, lease_seconds=0.5)
    for _ in range(2):
        await dead.acquire(alice.scope)
    url = alice.url("/events/stream")
    assert_problem(await alice.client.get(url), 429, "too_many_streams")
    await asyncio.sleep(0.6)
    async with sse(tight, alice), sse(tight, alice):
        pass


async def test_a_resume_from_before_what_the_stream_keeps_is_told_to_reset(
    tight: CreatorPlatform, sse
) -> None:
    alice = await tight.tenant()
    o = tight.ontology(alice)
    async with sse(tight, alice) as stream:
        await o.events.emit("note", {"n": 0})
        (first,) = await stream.events(1)
    await o.events.emit_many([("note", {"n": n}, None) for n in range(1, 30)])
    async with sse(tight, alice, last_event_id=first.id) as resumed:
        reset = await resumed.next()
        assert reset.event == "reset" and reset.json()["reason"] == "trimmed"
        assert await resumed.nothing_for(0.3) == []  # nothing silently skipped after it
        live = await o.events.emit("note", {"n": 30})
        (message,) = await resumed.events(1)
        assert message.json()["id"] == str(live.id)
    # from the reset's id on, a resume is exact again
    async with sse(tight, alice, last_event_id=reset.id) as again:
        (message,) = await again.events(1)
        assert message.json()["id"] == str(live.id)


async def test_a_slow_client_is_disconnected_and_resumes_where_it_stopped(
    tight: CreatorPlatform, sse
) -> None:
    alice = await tight.tenant()
    o = tight.ontology(alice)
    hub = tight.platform.streams
    async with sse(tight, alice) as stream:
        await o.events.emit("note", {"n": -1})
        (start,) = await stream.events(1)
        stream.flowing.clear()  # the client stops reading
        emitted = [(await o.events.emit("note", {"n": n})).id for n in range(8)]
        await wait_until(lambda: hub.stats()["overflowed"] == 1)
        stream.flowing.set()
        assert await stream.closed(within=5)  # closed, not buffering without bound
        got = await stream.rest()
    assert len(got) < len(emitted)
    last = got[-1].id if got else start.id
    async with sse(tight, alice, last_event_id=last) as resumed:
        rest = await resumed.events(len(emitted) - len(got))
    assert [m.json()["id"] for m in got + rest] == [str(i) for i in emitted]
    assert hub.stats()["clients"] == 0


async def test_one_process_reads_every_stream_over_a_constant_number_of_connections(
    evt: CreatorPlatform, sse
) -> None:
    redis = evt.platform.redis
    db = int(str(evt.settings.redis_url).rsplit("/", 1)[1])

    async def connections() -> tuple[int, int]:
        mine = [c for c in await redis.client_list() if int(c.get("db", -1)) == db]
        return len(mine), sum(c.get("name") == HUB_CLIENT_NAME for c in mine)

    tenants = [await evt.tenant() for _ in range(3)]
    async with sse(evt, tenants[0]):  # the first stream warms the pools up
        pass
    before, _ = await connections()
    streams = [sse(evt, tenants[i % 3]) for i in range(30)]
    for stream in streams:
        await stream.__aenter__()
    try:
        for i, tenant in enumerate(tenants):
            await evt.ontology(tenant).events.emit("note", {"n": i})
        for i, stream in enumerate(streams):
            (message,) = await stream.events(1)
            assert message.json()["payload"] == {"n": i % 3}
        during, hub = await connections()
    finally:
        for stream in streams:
            await stream.__aexit__(None, None, None)
    assert hub <= HUB_CONNECTIONS
    assert during - before <= 2, (before, during)  # not one per stream

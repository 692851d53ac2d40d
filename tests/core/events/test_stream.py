"""The live event stream: server-sent events per group, fanned out through Redis,
resumable with Last-Event-ID, never carrying another group's events."""

from __future__ import annotations

import uuid

from sdk.testing import CreatorPlatform, Tenant


async def test_committed_events_arrive_live(evt: CreatorPlatform, alice: Tenant, sse) -> None:
    o = evt.ontology(alice)
    async with sse(evt, alice) as stream:
        first = await o.events.emit("note", {"n": 1})
        async with evt.platform.ontology.transaction(alice.scope) as tx:
            second = await tx.events.emit("note", {"n": 2})
        one, two = await stream.events(2)
        assert (one.id, one.event) == (str(first.id), "note")
        assert one.json() == {
            "id": str(first.id),
            "group_id": str(alice.group.id),
            "type": "note",
            "actor_id": str(alice.person.id),
            "target_id": None,
            "payload": {"n": 1},
            "occurred_at": first.occurred_at.isoformat().replace("+00:00", "Z"),
        }
        assert (two.id, two.json()["payload"]) == (str(second.id), {"n": 2})
        # an idle stream gets keep-alive comments
        beat = await stream.next(5, comments=True)
        assert beat.comment == "keep-alive" and beat.data is None


async def test_resume_with_last_event_id_replays_then_goes_live_without_repeats(
    evt: CreatorPlatform, alice: Tenant, sse
) -> None:
    o = evt.ontology(alice)
    ids = [(await o.events.emit("note", {"n": n})).id for n in range(4)]
    async with sse(evt, alice, last_event_id=str(ids[1])) as stream:
        replayed = await stream.events(2)
        assert [m.id for m in replayed] == [str(ids[2]), str(ids[3])]
        live = await o.events.emit("note", {"n": 4})
        (message,) = await stream.events(1)
        assert message.id == str(live.id)
        # an event that was replayed and is published again (a relay redelivering it)
        # is not sent twice
        await evt.platform.bus.deliver([await o.events.get(ids[3])])
        later = await o.events.emit("note", {"n": 5})
        (message,) = await stream.events(1)
        assert message.id == str(later.id)
    # ?last_event_id= works as the header does (EventSource cannot set headers)
    r = await alice.client.get(alice.url("/events/stream"), params={"last_event_id": "nope"})
    assert r.status_code == 422


async def test_a_group_stream_never_carries_another_groups_events(
    evt: CreatorPlatform, alice: Tenant, sse
) -> None:
    bob = await evt.tenant()
    async with sse(evt, bob) as bobs, sse(evt, alice) as alices:
        for n in range(3):
            await evt.ontology(alice).events.emit("note", {"n": n})
        mine = await evt.ontology(bob).events.emit("note", {"n": 99})
        (first,) = await bobs.events(1)
        assert first.id == str(mine.id)  # alice's three came before it, and were not sent
        assert first.json()["group_id"] == str(bob.group.id)
        assert len(await alices.events(3)) == 3
        assert await alices.nothing_for(0.3) == []
    # resuming with an id from another group replays only this group's events
    async with sse(evt, bob, last_event_id=str(uuid.UUID(int=0))) as again:
        (only,) = await again.events(1)
        assert only.id == str(mine.id)
        assert await again.nothing_for(0.3) == []


async def test_stream_needs_a_member(evt: CreatorPlatform, alice: Tenant) -> None:
    bob = await evt.tenant()
    r = await bob.client.get(alice.url("/events/stream"))
    assert r.status_code == 404
    assert (await evt.client.get(alice.url("/events/stream"))).status_code == 401
    customer = await evt.member(alice, "customer")
    assert (await customer.client.get(alice.url("/events/stream"))).status_code == 403

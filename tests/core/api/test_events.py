"""``/api/v1/groups/{group}/events``: the group's log, filtered by type, target and time."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sdk.testing import CreatorPlatform, Tenant, assert_problem


async def _events(tenant: Tenant, **params) -> list[dict]:
    r = await tenant.client.get(tenant.url("/events"), params=params)
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"items", "next_cursor"}
    return body["items"]


async def test_every_change_is_in_the_log(owner: Tenant) -> None:
    r = await owner.client.post(owner.url("/things"), json={"type": "note", "name": "n"})
    note = r.json()["id"]
    await owner.client.patch(owner.url(f"/things/{note}"), json={"name": "renamed"})
    await owner.client.delete(owner.url(f"/things/{note}"))
    events = await _events(owner)
    assert [e["type"] for e in events] == ["thing_deleted", "thing_updated", "thing_created"]
    for event in events:
        assert event["target_id"] == note
        assert event["actor_id"] == str(owner.person.id)
        assert event["group_id"] == str(owner.group.id)
    assert events[1]["payload"] == {"type": "note", "name": "renamed", "changed": ["name"]}
    got = await owner.client.get(owner.url(f"/events/{events[1]['id']}"))
    assert got.status_code == 200 and got.json() == events[1]


async def test_filters_and_pagination(typed_platform: CreatorPlatform, owner: Tenant) -> None:
    o = typed_platform.ontology(owner)
    mug = await o.things.create("product", name="Mug", properties={"sku": "M1"})
    cap = await o.things.create("product", name="Cap", properties={"sku": "C1"})
    views = [(await o.events.emit("product_viewed", target_id=mug.id)).id for _ in range(4)]

    assert [e["id"] for e in await _events(owner, type="product_viewed")] == [
        str(v) for v in reversed(views)
    ]
    assert [e["type"] for e in await _events(owner, target_id=str(cap.id))] == ["thing_created"]
    assert len(await _events(owner, target_id=str(mug.id))) == 5
    assert await _events(owner, type="nothing_happened") == []
    assert await _events(owner, target_id=str(uuid.uuid4())) == []

    seen, cursor, pages = [], None, 0
    while True:
        params = {"limit": 4} | ({"cursor": cursor} if cursor else {})
        body = (await owner.client.get(owner.url("/events"), params=params)).json()
        seen += [e["id"] for e in body["items"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert pages == 2 and len(seen) == len(set(seen)) == 6
    assert seen == [e["id"] for e in await _events(owner)]


async def test_since_is_inclusive_and_until_exclusive(owner: Tenant) -> None:
    for i in range(3):
        await owner.client.post(owner.url("/things"), json={"type": "note", "name": f"n{i}"})
    events = await _events(owner)
    times = [datetime.fromisoformat(e["occurred_at"]) for e in events]
    oldest, newest = times[-1], times[0]
    assert len(await _events(owner, since=oldest.isoformat())) == 3
    assert await _events(owner, until=oldest.isoformat()) == []
    assert len(await _events(owner, until=(newest + timedelta(seconds=1)).isoformat())) == 3
    assert await _events(owner, since=(newest + timedelta(seconds=1)).isoformat()) == []
    # Another offset names the same instant.
    shifted = (oldest - timedelta(hours=5)).replace(tzinfo=None).isoformat() + "-05:00"
    assert len(await _events(owner, since=shifted)) == 3
    # A time without an offset is taken as UTC.
    naive = newest.replace(tzinfo=None) + timedelta(seconds=1)
    assert len(await _events(owner, until=naive.isoformat())) == 3
    assert await _events(owner, since=naive.isoformat()) == []


async def test_refusals(owner: Tenant) -> None:
    for params, field in (
        ({"since": "yesterday"}, "since"),
        ({"until": "2024-13-01T00:00:00Z"}, "until"),
        ({"since": "0001-01-01T00:00:00+01:00"}, "since"),
        ({"until": "9999-12-31T23:59:59-01:00"}, "until"),
        ({"target_id": "not-a-uuid"}, "target_id"),
        ({"limit": "-5"}, "limit"),
        ({"cursor": "%%%"}, "cursor"),
    ):
        r = await owner.client.get(owner.url("/events"), params=params)
        err = assert_problem(r, 422, "validation_failed")
        assert err.get("field") == field, (params, err)
    assert_problem(await owner.client.get(owner.url(f"/events/{uuid.uuid4()}")), 404, "not_found")


async def test_roles_and_tenancy(typed_platform: CreatorPlatform, owner: Tenant) -> None:
    await owner.client.post(owner.url("/things"), json={"type": "note", "name": "n"})
    (event,) = await _events(owner)
    user = await typed_platform.member(owner, "org_user")
    assert [e["id"] for e in await _events(user)] == [event["id"]]
    customer = await typed_platform.member(owner, "customer")
    assert_problem(await customer.client.get(owner.url("/events")), 403, "forbidden")
    assert_problem(await customer.client.get(owner.url(f"/events/{event['id']}")), 403, "forbidden")
    other = await typed_platform.tenant()
    assert_problem(await other.client.get(owner.url("/events")), 404, "not_found")
    assert_problem(await other.client.get(other.url(f"/events/{event['id']}")), 404, "not_found")
    assert await _events(other) == []

"""The scoped stores on real PostgreSQL: things, connections, events and knowledge, their
pagination, concurrency control, transactional events, and tenancy."""

from __future__ import annotations

import asyncio
import math
import uuid
from datetime import timedelta

import pytest

from core.errors import (
    Conflict,
    NotFound,
    PreconditionFailed,
    UnknownType,
    ValidationFailed,
)
from core.ontology.scope import Scope
from core.ontology.stores import MAX_LIMIT, ScopedOntology
from sdk.testing import CreatorPlatform, Tenant


@pytest.fixture
def o(typed_platform: CreatorPlatform, owner: Tenant) -> ScopedOntology:
    return typed_platform.ontology(owner)


async def _all_pages(list_page, cursor: str | None = None, **filters) -> list:
    """Follow ``next_cursor`` to the end, returning every item in order."""
    items, pages = [], 0
    while True:
        page = await list_page(cursor=cursor, **filters)
        items.extend(page.items)
        pages += 1
        assert pages < 100, "pagination does not end"
        if page.next_cursor is None:
            return items
        assert page.items, "a page with a next_cursor must not be empty"
        cursor = page.next_cursor


async def _events(o: ScopedOntology, **filters) -> list:
    return await _all_pages(o.events.list, limit=MAX_LIMIT, **filters)


# -- things -------------------------------------------------------------------------------


async def test_create_fills_defaults_and_emits_thing_created(
    o: ScopedOntology, owner: Tenant
) -> None:
    thing = await o.things.create("product", name="Mug", properties={"sku": "M1"})
    assert thing.type == "product" and thing.name == "Mug"
    assert thing.group_id == owner.group.id
    assert thing.status == "draft"  # the type's first status
    assert thing.version == 1
    assert thing.properties == {
        "sku": "M1",
        "price_cents": 0,
        "currency": "USD",
        "featured": False,
        "tags": [],
        "dimensions": None,
    }
    assert thing.id.version == 7
    assert await o.things.get(thing.id) == thing
    (event,) = await _events(o, target_id=thing.id)
    assert event.type == "thing_created"
    assert event.actor_id == owner.person.id
    assert event.payload["type"] == "product" and event.payload["name"] == "Mug"


async def test_create_without_a_status_list_defaults_to_active(o: ScopedOntology) -> None:
    note = await o.things.create("note", name="n", properties={"free": {"form": [1, 2]}})
    assert note.status == "active"
    assert note.properties == {"free": {"form": [1, 2]}}


async def test_create_refuses_bad_input(o: ScopedOntology) -> None:
    with pytest.raises(UnknownType) as info:
        await o.things.create("gadget", name="x")
    assert info.value.field == "type"
    with pytest.raises(ValidationFailed) as info:
        await o.things.create("product", name="x", properties={"sku": "a", "price_cents": "9"})
    assert info.value.field == "properties.price_cents"
    with pytest.raises(ValidationFailed) as info:
        await o.things.create("product", name="x", properties={"sku": "a", "colour": "red"})
    assert info.value.field == "properties.colour"
    with pytest.raises(ValidationFailed) as info:
        await o.things.create("product", name="x", properties={"sku": "a"}, status="sold")
    assert info.value.field == "status"
    with pytest.raises(ValidationFailed) as info:
        await o.things.create("note", name="x", status="s" * 51)
    assert info.value.field == "status"
    assert (await o.things.list()).items == []
    assert await _events(o) == []  # nothing half-written


async def test_get_with_the_wrong_type_or_a_missing_id(o: ScopedOntology) -> None:
    note = await o.things.create("note", name="n")
    assert (await o.things.get(note.id, type="note")).id == note.id
    with pytest.raises(NotFound):
        await o.things.get(note.id, type="product")
    with pytest.raises(NotFound):
        await o.things.get(uuid.uuid4())


async def test_update_merges_properties_and_bumps_the_version(o: ScopedOntology) -> None:
    thing = await o.things.create(
        "product", name="Mug", properties={"sku": "M1", "price_cents": 500, "tags": ["a"]}
    )
    updated = await o.things.update(thing.id, properties={"price_cents": 450})
    assert updated.version == 2
    assert updated.properties["price_cents"] == 450
    assert updated.properties["sku"] == "M1" and updated.properties["tags"] == ["a"]
    assert updated.updated_at >= thing.updated_at and updated.created_at == thing.created_at
    assert await o.things.get(thing.id) == updated
    events = await _events(o, type="thing_updated")
    assert [e.payload["changed"] for e in events] == [["price_cents"]]
    assert events[0].target_id == thing.id


async def test_update_none_removes_a_key(o: ScopedOntology) -> None:
    note = await o.things.create("note", name="n", properties={"a": 1, "b": 2})
    updated = await o.things.update(note.id, properties={"a": None, "c": 3})
    assert updated.properties == {"b": 2, "c": 3}
    # For a typed thing, removing a key brings back the field's default.
    product = await o.things.create("product", name="p", properties={"sku": "s", "price_cents": 9})
    updated = await o.things.update(product.id, properties={"price_cents": None})
    assert updated.properties["price_cents"] == 0


async def test_update_replace_properties(o: ScopedOntology) -> None:
    note = await o.things.create("note", name="n", properties={"a": 1, "b": 2})
    updated = await o.things.update(note.id, properties={"z": 26}, replace_properties=True)
    assert updated.properties == {"z": 26}
    product = await o.things.create(
        "product", name="p", properties={"sku": "s", "price_cents": 9, "tags": ["x"]}
    )
    updated = await o.things.update(product.id, properties={"sku": "t"}, replace_properties=True)
    assert updated.properties["sku"] == "t"
    assert updated.properties["price_cents"] == 0 and updated.properties["tags"] == []


async def test_update_name_and_status_lists_what_changed(o: ScopedOntology) -> None:
    thing = await o.things.create("product", name="Mug", properties={"sku": "M1"})
    updated = await o.things.update(
        thing.id, name="Big mug", status="published", properties={"featured": True}
    )
    assert (updated.name, updated.status, updated.version) == ("Big mug", "published", 2)
    (event,) = await _events(o, type="thing_updated")
    assert event.payload == {
        "type": "product",
        "name": "Big mug",
        "changed": ["name", "status", "featured"],
    }


async def test_update_that_changes_nothing_keeps_the_version(o: ScopedOntology) -> None:
    thing = await o.things.create("product", name="Mug", properties={"sku": "M1"})
    same = await o.things.update(
        thing.id, name="Mug", status="draft", properties={"sku": "M1"}, expected_version=1
    )
    assert same.version == 1 and same == thing
    assert await _events(o, type="thing_updated") == []


async def test_update_validates_the_whole_result(o: ScopedOntology) -> None:
    thing = await o.things.create("product", name="Mug", properties={"sku": "M1"})
    with pytest.raises(ValidationFailed) as info:
        await o.things.update(thing.id, properties={"sku": None})  # removes a required field
    assert info.value.field == "properties.sku"
    with pytest.raises(ValidationFailed) as info:
        await o.things.update(thing.id, properties={"tags": "a"})
    assert info.value.field == "properties.tags"
    with pytest.raises(ValidationFailed) as info:
        await o.things.update(thing.id, status="sold")
    assert info.value.field == "status"
    assert (await o.things.get(thing.id)).version == 1
    with pytest.raises(NotFound):
        await o.things.update(uuid.uuid4(), name="x")


async def test_optimistic_concurrency(o: ScopedOntology) -> None:
    thing = await o.things.create("note", name="v1")
    v2 = await o.things.update(thing.id, name="v2", expected_version=1)
    assert v2.version == 2
    # A writer who still holds version 1 must not overwrite v2.
    with pytest.raises(PreconditionFailed) as info:
        await o.things.update(thing.id, name="stale", expected_version=1)
    assert info.value.status == 412 and info.value.extra["current_version"] == 2
    assert (await o.things.get(thing.id)).name == "v2"
    with pytest.raises(PreconditionFailed):
        await o.things.delete(thing.id, expected_version=1)
    assert (await o.things.get(thing.id)).version == 2
    await o.things.delete(thing.id, expected_version=2)
    with pytest.raises(NotFound):
        await o.things.get(thing.id)


async def test_soft_delete(typed_platform: CreatorPlatform, o: ScopedOntology) -> None:
    keep = await o.things.create("note", name="keep")
    gone = await o.things.create("note", name="gone")
    await o.things.delete(gone.id)
    with pytest.raises(NotFound):
        await o.things.get(gone.id)
    assert [t.id for t in (await o.things.list()).items] == [keep.id]
    with pytest.raises(NotFound):
        await o.things.update(gone.id, name="back")
    with pytest.raises(NotFound):
        await o.things.delete(gone.id)
    # The row and its history remain: the log still tells what happened to it.
    assert [e.type for e in await _events(o, target_id=gone.id)] == [
        "thing_deleted",
        "thing_created",
    ]
    async with typed_platform.platform.db.system() as conn:
        deleted_at = await conn.fetchval("SELECT deleted_at FROM things WHERE id = $1", gone.id)
    assert deleted_at is not None


async def test_pagination_visits_every_thing_once_newest_first(o: ScopedOntology) -> None:
    created = [await o.things.create("note", name=f"n{i}") for i in range(23)]
    first = await o.things.list(limit=10)
    assert len(first.items) == 10 and first.next_cursor
    items = await _all_pages(o.things.list, limit=10)
    assert [t.id for t in items] == [t.id for t in reversed(created)]
    # A limit that divides the total exactly ends without an empty page.
    exact = await o.things.list(limit=23)
    assert len(exact.items) == 23 and exact.next_cursor is None
    assert (await o.things.list(limit=MAX_LIMIT)).next_cursor is None


async def test_pagination_is_stable_while_things_are_added(o: ScopedOntology) -> None:
    old = [await o.things.create("note", name=f"old{i}") for i in range(6)]
    page = await o.things.list(limit=4)
    newer = await o.things.create("note", name="newer")  # arrives between two pages
    rest = await _all_pages(o.things.list, limit=4, cursor=page.next_cursor)
    seen = [t.id for t in page.items + rest]
    assert seen == [t.id for t in reversed(old)]
    assert newer.id not in seen


async def test_pagination_after_deletes_has_no_gaps(o: ScopedOntology) -> None:
    created = [await o.things.create("note", name=f"n{i}") for i in range(12)]
    page = await o.things.list(limit=5)
    boundary = page.items[-1]  # the cursor points at this thing; deleting it must not matter
    await o.things.delete(boundary.id)
    rest = await _all_pages(o.things.list, limit=5, cursor=page.next_cursor)
    expected = [t.id for t in reversed(created)][5:]
    assert [t.id for t in rest] == expected


async def test_bad_limit_and_cursor(o: ScopedOntology) -> None:
    for limit in (0, -1, MAX_LIMIT + 1):
        with pytest.raises(ValidationFailed) as info:
            await o.things.list(limit=limit)
        assert info.value.field == "limit"
    for cursor in ("!!!", "abc", "é", "AAAA"):
        with pytest.raises(ValidationFailed) as info:
            await o.things.list(cursor=cursor)
        assert info.value.field == "cursor"


async def test_filter_by_type_status_and_properties(o: ScopedOntology) -> None:
    mug = await o.things.create(
        "product", name="Mug", properties={"sku": "M1", "price_cents": 500, "featured": True}
    )
    cap = await o.things.create(
        "product",
        name="Cap",
        properties={"sku": "C1", "price_cents": 500, "tags": ["summer", "hat"]},
        status="published",
    )
    await o.things.create("product", name="Pen", properties={"sku": "P1", "price_cents": 90})
    note = await o.things.create("note", name="n", properties={"price_cents": 500})

    def ids(page) -> list:
        return [t.id for t in page.items]

    assert ids(await o.things.list(type="note")) == [note.id]
    assert len((await o.things.list(type="product")).items) == 3
    assert ids(await o.things.list(type="product", status="published")) == [cap.id]
    assert ids(await o.things.list(status="published")) == [cap.id]
    assert ids(await o.things.list(type="product", where={"price_cents": 500})) == [
        cap.id,
        mug.id,
    ]
    # Without a type, equality matches any thing whose properties agree.
    assert set(ids(await o.things.list(where={"price_cents": 500}))) == {
        note.id,
        cap.id,
        mug.id,
    }
    assert ids(await o.things.list(where={"featured": True})) == [mug.id]
    assert ids(await o.things.list(where={"price_cents": 500, "sku": "C1"})) == [cap.id]
    assert ids(await o.things.list(where={"tags": ["hat"]})) == [cap.id]  # containment
    assert ids(await o.things.list(where={"price_cents": "500"})) == []  # types matter
    assert ids(await o.things.list(type="product", status="archived")) == []
    assert ids(await o.things.list(type="unregistered")) == []


async def test_filtered_pagination(o: ScopedOntology) -> None:
    wanted = []
    for i in range(15):
        thing = await o.things.create(
            "product", name=f"p{i}", properties={"sku": f"s{i}", "featured": i % 3 == 0}
        )
        if i % 3 == 0:
            wanted.append(thing.id)
        await o.things.create("note", name=f"n{i}")
    got = await _all_pages(o.things.list, type="product", where={"featured": True}, limit=2)
    assert [t.id for t in got] == list(reversed(wanted))


# -- connections --------------------------------------------------------------------------


async def _shop(o: ScopedOntology):
    collection = await o.things.create("collection", name="Summer")
    mug = await o.things.create("product", name="Mug", properties={"sku": "M1"})
    cap = await o.things.create("product", name="Cap", properties={"sku": "C1"})
    return collection, mug, cap


async def test_connect_fills_metadata_defaults_and_emits(o: ScopedOntology) -> None:
    collection, mug, _ = await _shop(o)
    link = await o.connections.create("contains", collection.id, mug.id)
    assert (link.type, link.from_id, link.to_id) == ("contains", collection.id, mug.id)
    assert link.metadata == {"position": 0} and link.valid_to is None
    assert await o.connections.get(link.id) == link
    (event,) = await _events(o, type="connection_created")
    assert event.target_id == link.id
    assert event.payload == {
        "type": "contains",
        "from_id": str(collection.id),
        "to_id": str(mug.id),
    }


async def test_connection_metadata_is_validated(o: ScopedOntology) -> None:
    collection, mug, _ = await _shop(o)
    with pytest.raises(ValidationFailed) as info:
        await o.connections.create("contains", collection.id, mug.id, {"position": "first"})
    assert info.value.field == "metadata.position"
    with pytest.raises(ValidationFailed) as info:
        await o.connections.create("contains", collection.id, mug.id, {"rank": 1})
    assert info.value.field == "metadata.rank"
    with pytest.raises(UnknownType):
        await o.connections.create("likes", collection.id, mug.id)


async def test_connection_endpoint_types_are_checked(o: ScopedOntology) -> None:
    collection, mug, cap = await _shop(o)
    note = await o.things.create("note", name="n")
    with pytest.raises(ValidationFailed) as info:
        await o.connections.create("contains", mug.id, cap.id)  # from must be a collection
    assert info.value.field == "from_id" and "collection" in info.value.detail
    with pytest.raises(ValidationFailed) as info:
        await o.connections.create("contains", collection.id, note.id)  # to must be a product
    assert info.value.field == "to_id" and "'note'" in info.value.detail
    # A type with no restriction connects anything.
    assert (await o.connections.create("related", note.id, mug.id)).type == "related"
    assert (await o.connections.list(type="contains")).items == []


async def test_connection_endpoints_must_exist(o: ScopedOntology) -> None:
    collection, mug, _ = await _shop(o)
    missing = uuid.uuid4()
    with pytest.raises(NotFound) as info:
        await o.connections.create("contains", collection.id, missing)
    assert info.value.extra["field"] == "to_id"
    with pytest.raises(NotFound) as info:
        await o.connections.create("contains", missing, mug.id)
    assert info.value.extra["field"] == "from_id"
    await o.things.delete(mug.id)
    with pytest.raises(NotFound):
        await o.connections.create("contains", collection.id, mug.id)


async def test_unique_connections(o: ScopedOntology) -> None:
    collection, mug, cap = await _shop(o)
    first = await o.connections.create("contains", collection.id, mug.id)
    with pytest.raises(Conflict) as info:
        await o.connections.create("contains", collection.id, mug.id, {"position": 2})
    assert info.value.status == 409
    # Other endpoints are fine, and so is the same pair once the first connection ends.
    await o.connections.create("contains", collection.id, cap.id)
    await o.connections.delete(first.id)
    again = await o.connections.create("contains", collection.id, mug.id)
    assert again.id != first.id
    # A type declared non-unique allows several live connections between the same pair.
    a = await o.connections.create("related", mug.id, cap.id)
    b = await o.connections.create("related", mug.id, cap.id)
    assert a.id != b.id
    assert len((await o.connections.list(type="related")).items) == 2


async def test_list_and_end_connections(o: ScopedOntology) -> None:
    collection, mug, cap = await _shop(o)
    to_mug = await o.connections.create("contains", collection.id, mug.id)
    to_cap = await o.connections.create("contains", collection.id, cap.id)
    related = await o.connections.create("related", mug.id, cap.id)

    def ids(page) -> list:
        return [c.id for c in page.items]

    assert ids(await o.connections.list()) == [related.id, to_cap.id, to_mug.id]
    assert ids(await o.connections.list(from_id=collection.id)) == [to_cap.id, to_mug.id]
    assert ids(await o.connections.list(to_id=cap.id)) == [related.id, to_cap.id]
    assert ids(await o.connections.list(type="related", from_id=mug.id)) == [related.id]
    assert ids(await o.connections.list(from_id=collection.id, to_id=mug.id)) == [to_mug.id]
    both = await o.connections.list(from_ids=[collection.id, mug.id])
    assert ids(both) == [related.id, to_cap.id, to_mug.id]
    assert ids(await o.connections.list(from_ids=[mug.id, uuid.uuid4()])) == [related.id]
    assert ids(await o.connections.list(from_ids=[])) == []

    await o.connections.delete(to_mug.id)
    ended = await o.connections.get(to_mug.id)  # history stays readable
    assert ended.valid_to is not None and ended.valid_to >= ended.created_at
    assert ids(await o.connections.list(from_id=collection.id)) == [to_cap.id]
    assert ids(await o.connections.list(from_id=collection.id, include_ended=True)) == [
        to_cap.id,
        to_mug.id,
    ]
    with pytest.raises(NotFound):
        await o.connections.delete(to_mug.id)  # already ended
    with pytest.raises(NotFound):
        await o.connections.get(uuid.uuid4())
    (event,) = await _events(o, type="connection_deleted")
    assert event.target_id == to_mug.id
    assert event.payload["from_id"] == str(collection.id)


async def test_connection_pagination(o: ScopedOntology) -> None:
    collection = await o.things.create("collection", name="All")
    links = []
    for i in range(7):
        product = await o.things.create("product", name=f"p{i}", properties={"sku": str(i)})
        links.append(await o.connections.create("contains", collection.id, product.id))
    got = await _all_pages(o.connections.list, from_id=collection.id, limit=3)
    assert [c.id for c in got] == [c.id for c in reversed(links)]


async def test_deleting_a_thing_ends_its_connections(o: ScopedOntology) -> None:
    collection, mug, cap = await _shop(o)
    outgoing = await o.connections.create("related", mug.id, cap.id)
    incoming = await o.connections.create("contains", collection.id, mug.id)
    other = await o.connections.create("contains", collection.id, cap.id)
    await o.things.delete(mug.id)
    assert [c.id for c in (await o.connections.list()).items] == [other.id]
    for link in (outgoing, incoming):
        assert (await o.connections.get(link.id)).valid_to is not None
    assert (await o.connections.get(other.id)).valid_to is None
    ended = await _events(o, type="connection_deleted")
    assert {e.target_id for e in ended} == {outgoing.id, incoming.id}


# -- connections with a person's end ------------------------------------------------------


async def test_a_member_can_be_an_end(
    typed_platform: CreatorPlatform, o: ScopedOntology, owner: Tenant
) -> None:
    _, mug, _ = await _shop(o)
    customer = await typed_platform.member(owner, "customer")
    bought = await o.connections.create("bought", customer.person.id, mug.id, {"price_cents": 900})
    assert (bought.from_id, bought.to_id, bought.metadata) == (
        customer.person.id,
        mug.id,
        {"price_cents": 900},
    )
    made = await o.connections.create("made_by", mug.id, owner.person.id)
    assert made.to_id == owner.person.id
    # A mixed end takes a thing of its types or a member.
    note = await o.things.create("note", name="n")
    await o.connections.create("assigned", note.id, mug.id)
    await o.connections.create("assigned", note.id, customer.person.id)
    assert [c.id for c in (await o.connections.list(to_id=customer.person.id)).items] != []
    listed = await o.connections.list(from_id=customer.person.id)
    assert [c.id for c in listed.items] == [bought.id]
    (event,) = [e for e in await _events(o, type="connection_created") if e.target_id == made.id]
    assert event.payload["to_id"] == str(owner.person.id)


async def test_a_person_end_must_be_a_member_of_the_group(
    typed_platform: CreatorPlatform, o: ScopedOntology, owner: Tenant
) -> None:
    _, mug, _ = await _shop(o)
    note = await o.things.create("note", name="n")
    outsider, _ = await typed_platform.person()
    other = await typed_platform.tenant()
    for nobody in (uuid.uuid4(), outsider.id, other.person.id):
        with pytest.raises(NotFound) as info:
            await o.connections.create("bought", nobody, mug.id)
        # The same answer for no one and for another group's member: nothing leaks.
        assert info.value.extra["field"] == "from_id"
        assert info.value.detail == f"person {nobody} (from_id) not found"
        with pytest.raises(NotFound) as info:
            await o.connections.create("assigned", note.id, nobody)
        assert info.value.detail == f"thing or person {nobody} (to_id) not found"
    # A thing where a person is expected is the wrong kind; a person where a thing is
    # expected is no thing of the group.
    with pytest.raises(ValidationFailed) as info:
        await o.connections.create("made_by", mug.id, note.id)
    assert info.value.field == "to_id" and "person, not a 'note'" in info.value.detail
    with pytest.raises(NotFound) as info:
        await o.connections.create("contains", owner.person.id, mug.id)
    assert info.value.detail == f"thing {owner.person.id} (from_id) not found"
    with pytest.raises(NotFound):
        await o.connections.create("related", mug.id, owner.person.id)  # any thing, no person
    assert (await o.connections.list()).items == []


async def test_a_member_of_a_group_above_is_a_member_here(
    typed_platform: CreatorPlatform, owner: Tenant
) -> None:
    """A role in a parent group applies to its sub-groups, so its people can be ends there;
    a sub-group's own member is no member of the parent."""
    directory = typed_platform.platform.directory
    sub = await directory.create_group(
        owner.person, slug="course", name="Course", parent_id=owner.group.id
    )
    customer = await typed_platform.member(owner, "customer")
    only_sub, _ = await typed_platform.person()
    await directory.add_member(sub.id, only_sub.id, "customer")
    in_sub = typed_platform.ontology(
        Scope(group_id=sub.id, person_id=owner.person.id, role="org_owner")
    )
    course = await in_sub.things.create("product", name="Course", properties={"sku": "C"})
    assert (await in_sub.connections.create("bought", customer.person.id, course.id)).id
    assert (await in_sub.connections.create("bought", only_sub.id, course.id)).id
    in_parent = typed_platform.ontology(owner)
    mug = await in_parent.things.create("product", name="Mug", properties={"sku": "M"})
    with pytest.raises(NotFound):
        await in_parent.connections.create("bought", only_sub.id, mug.id)


async def test_replace_ends_the_live_connection_and_keeps_its_history(
    typed_platform: CreatorPlatform, o: ScopedOntology, owner: Tenant
) -> None:
    _, mug, _ = await _shop(o)
    customer = await typed_platform.member(owner, "customer")
    who = customer.person.id
    # With none live, replace makes the first.
    first = await o.connections.replace("bought", who, mug.id, {"price_cents": 100})
    second = await o.connections.replace("bought", who, mug.id, {"price_cents": 200})
    assert second.id != first.id and second.metadata == {"price_cents": 200}
    live = await o.connections.list(type="bought", from_id=who)
    assert [c.id for c in live.items] == [second.id]
    history = await o.connections.list(type="bought", from_id=who, include_ended=True)
    assert [c.metadata["price_cents"] for c in history.items] == [200, 100]
    assert (await o.connections.get(first.id)).valid_to is not None
    deleted = await _events(o, type="connection_deleted")
    assert [e.target_id for e in deleted] == [first.id]
    created = await _events(o, type="connection_created")
    assert {e.target_id for e in created} >= {first.id, second.id}
    # It validates as create does, and a refused replace leaves the live one alone.
    with pytest.raises(ValidationFailed) as info:
        await o.connections.replace("bought", who, mug.id, {"price_cents": "free"})
    assert info.value.field == "metadata.price_cents"
    with pytest.raises(NotFound):
        await o.connections.replace("bought", uuid.uuid4(), mug.id)
    live = await o.connections.list(type="bought", from_id=who)
    assert [c.id for c in live.items] == [second.id]
    # A live connection records what happened: it can still be replaced after its person
    # left the group; once none is live, the ends are checked again.
    r = await owner.client.delete(f"/api/v1/groups/{owner.group.id}/members/{who}")
    assert r.status_code == 204, r.text
    third = await o.connections.replace("bought", who, mug.id, {"price_cents": 300})
    await o.connections.delete(third.id)
    with pytest.raises(NotFound):
        await o.connections.replace("bought", who, mug.id, {"price_cents": 400})


async def test_a_replace_rolls_back_with_its_transaction(
    typed_platform: CreatorPlatform, owner: Tenant
) -> None:
    o = typed_platform.ontology(owner)
    _, mug, _ = await _shop(o)
    kept = await o.connections.create("made_by", mug.id, owner.person.id)
    with pytest.raises(RuntimeError):
        async with typed_platform.platform.ontology.transaction(owner.scope) as tx:
            await tx.connections.replace("made_by", mug.id, owner.person.id)
            raise RuntimeError("abandon")
    live = await o.connections.list(type="made_by")
    assert [c.id for c in live.items] == [kept.id]
    assert (await o.connections.get(kept.id)).valid_to is None


async def test_concurrent_replaces_leave_one_live_connection(
    typed_platform: CreatorPlatform, o: ScopedOntology, owner: Tenant
) -> None:
    _, mug, _ = await _shop(o)
    customer = await typed_platform.member(owner, "customer")
    who = customer.person.id
    await o.connections.create("bought", who, mug.id)
    prices = list(range(1, 9))
    done = await asyncio.gather(
        *(
            typed_platform.ontology(owner).connections.replace(
                "bought", who, mug.id, {"price_cents": price}
            )
            for price in prices
        )
    )
    assert len({c.id for c in done}) == len(prices)
    live = await o.connections.list(type="bought", from_id=who)
    assert len(live.items) == 1
    # Serialised: the one left live is the last one made, and every other one ended.
    assert live.items[0].id == max(c.id for c in done)
    history = await o.connections.list(type="bought", from_id=who, include_ended=True)
    assert len(history.items) == len(prices) + 1
    assert sorted(c.metadata["price_cents"] for c in history.items) == [0, *prices]


async def test_core_event_payloads_have_their_types_shape(o: ScopedOntology) -> None:
    collection, _, _ = await _shop(o)
    (created,) = [e for e in await _events(o, type="thing_created") if e.target_id == collection.id]
    assert created.payload == {"type": "collection", "name": collection.name, "changed": []}


# -- events -------------------------------------------------------------------------------


async def test_emit_validates_the_payload(o: ScopedOntology, owner: Tenant) -> None:
    mug = await o.things.create("product", name="Mug", properties={"sku": "M1"})
    event = await o.events.emit("product_viewed", target_id=mug.id)
    assert event.payload == {"source": "web"}
    assert event.actor_id == owner.person.id and event.group_id == owner.group.id
    assert await o.events.get(event.id) == event
    with pytest.raises(ValidationFailed) as info:
        await o.events.emit("product_viewed", {"source": 1})
    assert info.value.field == "payload.source"
    with pytest.raises(ValidationFailed) as info:
        await o.events.emit("product_viewed", {"medium": "x"})
    assert info.value.field == "payload.medium"
    with pytest.raises(UnknownType):
        await o.events.emit("product_bought")
    with pytest.raises(NotFound):
        await o.events.get(uuid.uuid4())


async def test_system_scope_events_have_no_actor(
    typed_platform: CreatorPlatform, owner: Tenant
) -> None:
    system = typed_platform.ontology(Scope.system(owner.group.id))
    event = await system.events.emit("product_viewed", {"source": "job"})
    assert event.actor_id is None


async def test_list_events_by_type_target_and_time(o: ScopedOntology) -> None:
    mug = await o.things.create("product", name="Mug", properties={"sku": "M1"})
    views = [await o.events.emit("product_viewed", target_id=mug.id) for _ in range(3)]
    everything = await _events(o)
    assert [e.type for e in everything] == ["product_viewed"] * 3 + ["thing_created"]
    assert [e.id for e in await _events(o, type="product_viewed")] == [
        e.id for e in reversed(views)
    ]
    assert len(await _events(o, target_id=mug.id)) == 4
    assert await _events(o, target_id=uuid.uuid4()) == []

    first, last = everything[-1].occurred_at, everything[0].occurred_at
    assert len(await _events(o, since=first)) == 4  # since is inclusive
    assert await _events(o, until=first) == []  # until is exclusive
    assert len(await _events(o, until=last + timedelta(microseconds=1))) == 4
    assert await _events(o, since=last + timedelta(seconds=1)) == []
    page = await o.events.list(limit=2)
    assert len(page.items) == 2 and page.next_cursor


async def test_events_commit_with_the_change(
    typed_platform: CreatorPlatform, owner: Tenant, types_plugin
) -> None:
    ontology = typed_platform.platform.ontology
    async with ontology.transaction(owner.scope) as tx:
        mug = await tx.things.create("product", name="Mug", properties={"sku": "M1"})
        await tx.events.emit("product_viewed", target_id=mug.id)
        # Inside, the transaction sees its own writes; outside, nobody does yet.
        assert (await tx.things.get(mug.id)).name == "Mug"
        outside = typed_platform.ontology(owner)
        with pytest.raises(NotFound):
            await outside.things.get(mug.id)
        assert await _events(outside) == []
        assert types_plugin.seen == []  # handlers run after the commit, not before
    o = typed_platform.ontology(owner)
    assert (await o.things.get(mug.id)).name == "Mug"
    events = await _events(o)
    assert [e.type for e in events] == ["product_viewed", "thing_created"]
    assert [e.id for e in types_plugin.seen] == [e.id for e in reversed(events)]


async def test_events_are_dropped_with_a_rollback(
    typed_platform: CreatorPlatform, owner: Tenant, types_plugin
) -> None:
    ontology = typed_platform.platform.ontology
    o = typed_platform.ontology(owner)
    kept = await o.things.create("note", name="kept")
    types_plugin.seen.clear()

    class Boom(Exception):
        pass

    with pytest.raises(Boom):
        async with ontology.transaction(owner.scope) as tx:
            doomed = await tx.things.create("note", name="doomed")
            await tx.things.update(kept.id, name="changed")
            await tx.events.emit("product_viewed", target_id=doomed.id)
            raise Boom
    with pytest.raises(NotFound):
        await o.things.get(doomed.id)
    assert (await o.things.get(kept.id)).name == "kept"
    assert [e.type for e in await _events(o)] == ["thing_created"]
    assert types_plugin.seen == []


async def test_a_store_error_inside_a_transaction_rolls_back_everything(
    typed_platform: CreatorPlatform, owner: Tenant, types_plugin
) -> None:
    ontology = typed_platform.platform.ontology
    with pytest.raises(UnknownType):
        async with ontology.transaction(owner.scope) as tx:
            await tx.things.create("note", name="first")
            await tx.things.create("gadget", name="second")
    o = typed_platform.ontology(owner)
    assert (await o.things.list()).items == []
    assert await _events(o) == []
    assert types_plugin.seen == []


async def test_a_duplicate_connection_does_not_spoil_the_transaction(
    typed_platform: CreatorPlatform, owner: Tenant
) -> None:
    ontology = typed_platform.platform.ontology
    async with ontology.transaction(owner.scope) as tx:
        collection, mug, _ = await _shop(tx)
        await tx.connections.create("contains", collection.id, mug.id)
        with pytest.raises(Conflict):
            await tx.connections.create("contains", collection.id, mug.id)
        note = await tx.things.create("note", name="after the conflict")
    o = typed_platform.ontology(owner)
    assert (await o.things.get(note.id)).name == "after the conflict"
    assert len((await o.connections.list()).items) == 1
    assert len(await _events(o, type="connection_created")) == 1


async def test_each_call_outside_a_transaction_commits_on_its_own(
    typed_platform: CreatorPlatform, o: ScopedOntology, types_plugin
) -> None:
    note = await o.things.create("note", name="n")
    assert [e.type for e in types_plugin.seen] == ["thing_created"]
    with pytest.raises(ValidationFailed):
        await o.things.update(note.id, status="")  # refused; the create stays
    assert (await o.things.get(note.id)).version == 1


# -- knowledge ----------------------------------------------------------------------------


def _vector(seed: int, dim: int = 384) -> list[float]:
    return [math.sin(seed + i) for i in range(dim)]


async def test_knowledge_add_get_list_delete(o: ScopedOntology, owner: Tenant) -> None:
    chunk = await o.knowledge.add(
        "Mugs are dishwasher safe.",
        embedding=_vector(1),
        embedding_model="local-minilm",
        metadata={"source": "faq"},
    )
    assert chunk.kind == "chunk" and chunk.group_id == owner.group.id
    assert (chunk.embedding_dim, chunk.embedding_model) == (384, "local-minilm")
    assert chunk.metadata == {"source": "faq"}
    label = await o.knowledge.add("kitchen", kind="label")
    assert label.embedding_dim is None and label.embedding_model is None
    doc = await o.knowledge.add("The whole FAQ", kind="document")
    assert await o.knowledge.get(chunk.id) == chunk

    assert [k.id for k in (await o.knowledge.list()).items] == [doc.id, label.id, chunk.id]
    assert [k.id for k in (await o.knowledge.list(kind="label")).items] == [label.id]
    got = await _all_pages(o.knowledge.list, limit=1)
    assert [k.id for k in got] == [doc.id, label.id, chunk.id]

    await o.knowledge.delete(label.id)
    with pytest.raises(NotFound):
        await o.knowledge.get(label.id)
    with pytest.raises(NotFound):
        await o.knowledge.delete(label.id)
    with pytest.raises(ValidationFailed) as info:
        await o.knowledge.add("x", kind="paragraph")
    assert info.value.field == "kind"


async def test_knowledge_embedding_is_stored(typed_platform: CreatorPlatform, o) -> None:
    vector = _vector(7)
    item = await o.knowledge.add("text", embedding=vector, embedding_model="m")
    async with typed_platform.platform.db.system() as conn:
        stored = await conn.fetchval("SELECT embedding FROM knowledge WHERE id = $1", item.id)
    assert stored.to_list() == pytest.approx(vector, abs=1e-6)


async def test_knowledge_linked_to_things(o: ScopedOntology) -> None:
    mug = await o.things.create("product", name="Mug", properties={"sku": "M1"})
    cap = await o.things.create("product", name="Cap", properties={"sku": "C1"})
    mug_chunks = [
        await o.knowledge.add(
            f"mug {i}", thing_id=mug.id, embedding=_vector(i), embedding_model="m"
        )
        for i in range(3)
    ]
    cap_chunk = await o.knowledge.add("cap", thing_id=cap.id, role="summary")
    loose = await o.knowledge.add("loose")

    listed = (await o.knowledge.list(thing_id=mug.id)).items
    assert [k.id for k in listed] == [k.id for k in reversed(mug_chunks)]
    assert [k.id for k in (await o.knowledge.list(thing_id=cap.id)).items] == [cap_chunk.id]

    assert await o.knowledge.delete_for_thing(mug.id) == 3
    assert (await o.knowledge.list(thing_id=mug.id)).items == []
    remaining = {k.id for k in (await o.knowledge.list()).items}
    assert remaining == {cap_chunk.id, loose.id}
    assert await o.knowledge.delete_for_thing(mug.id) == 0

    with pytest.raises(NotFound):
        await o.knowledge.add("orphan", thing_id=uuid.uuid4())
    await o.things.delete(cap.id)
    with pytest.raises(NotFound):
        await o.knowledge.add("for a deleted thing", thing_id=cap.id)
    # the deleted thing's knowledge went with it; unlinked knowledge stays
    assert {k.id for k in (await o.knowledge.list()).items} == {loose.id}


@pytest.mark.parametrize("embedding", [[], [math.nan] * 384, [math.inf] + [0.0] * 383])
async def test_knowledge_refuses_an_unusable_embedding(
    o: ScopedOntology, embedding: list[float]
) -> None:
    with pytest.raises(ValidationFailed) as info:
        await o.knowledge.add("text", embedding=embedding, embedding_model="m")
    assert info.value.field == "embedding"
    assert (await o.knowledge.list()).items == []


async def test_an_embedding_needs_its_model(o: ScopedOntology) -> None:
    with pytest.raises(ValidationFailed) as info:
        await o.knowledge.add("text", embedding=_vector(1))
    assert info.value.field == "embedding_model"


# -- tenancy ------------------------------------------------------------------------------


async def test_a_store_never_sees_another_groups_rows(typed_platform: CreatorPlatform) -> None:
    a_tenant, b_tenant = await typed_platform.tenant(), await typed_platform.tenant()
    a, b = typed_platform.ontology(a_tenant), typed_platform.ontology(b_tenant)
    collection, mug, cap = await _shop(a)
    link = await a.connections.create("contains", collection.id, mug.id)
    event = await a.events.emit("product_viewed", target_id=mug.id)
    chunk = await a.knowledge.add(
        "secret", thing_id=mug.id, embedding=_vector(3), embedding_model="m"
    )
    b_note = await b.things.create("note", name="b's own")

    # Reads
    with pytest.raises(NotFound):
        await b.things.get(mug.id)
    with pytest.raises(NotFound):
        await b.connections.get(link.id)
    with pytest.raises(NotFound):
        await b.events.get(event.id)
    with pytest.raises(NotFound):
        await b.knowledge.get(chunk.id)
    assert [t.id for t in (await b.things.list()).items] == [b_note.id]
    assert (await b.things.list(type="product")).items == []
    assert (await b.things.list(where={"sku": "M1"})).items == []
    assert (await b.connections.list(include_ended=True)).items == []
    assert (await b.connections.list(from_id=collection.id)).items == []
    assert [e.target_id for e in await _events(b)] == [b_note.id]
    assert await _events(b, target_id=mug.id) == []
    assert (await b.knowledge.list()).items == []
    assert (await b.knowledge.list(thing_id=mug.id)).items == []

    # Writes
    with pytest.raises(NotFound):
        await b.things.update(mug.id, name="stolen")
    with pytest.raises(NotFound):
        await b.things.delete(mug.id)
    with pytest.raises(NotFound):
        await b.connections.create("related", b_note.id, mug.id)
    with pytest.raises(NotFound):
        await b.connections.create("related", mug.id, cap.id)
    with pytest.raises(NotFound):
        await b.connections.delete(link.id)
    with pytest.raises(NotFound):
        await b.knowledge.delete(chunk.id)
    with pytest.raises(NotFound):
        await b.knowledge.add("attach", thing_id=mug.id)
    assert await b.knowledge.delete_for_thing(mug.id) == 0

    # Nothing of A's changed, and B's cursor from its own listing does not leak A's rows.
    assert (await a.things.get(mug.id)).name == "Mug"
    assert (await a.connections.get(link.id)).valid_to is None
    assert (await a.knowledge.get(chunk.id)).text == "secret"
    a_page = await a.things.list(limit=1)
    assert (await b.things.list(cursor=a_page.next_cursor)).items == [
        t for t in (await b.things.list()).items if t.id.int < a_page.items[0].id.int
    ]


async def test_deleting_a_thing_takes_its_knowledge_out_of_search(o: ScopedOntology) -> None:
    note = await o.things.create("note", name="Refunds")
    kept = await o.things.create("note", name="Shipping")
    await o.knowledge.add("refunds within 30 days", thing_id=note.id)
    await o.knowledge.add("ships from Lisbon", thing_id=kept.id)
    await o.things.delete(note.id)  # core's thing_deleted handler runs after the commit
    assert (await o.knowledge.list(thing_id=note.id)).items == []
    assert [k.text for k in (await o.knowledge.list()).items] == ["ships from Lisbon"]


async def test_a_session_lock_makes_check_then_write_take_turns(o: ScopedOntology) -> None:
    """``session.lock(key)`` holds until the transaction ends: two tasks that check,
    wait and write under the same key never both see "nothing yet"."""
    seen: list[int] = []

    async def check_then_write() -> None:
        async with o.session.transaction():
            await o.session.lock("note-once", o.scope.group_id)
            found = await o.things.list(type="note", where={"topic": "once"})
            seen.append(len(found.items))
            await asyncio.sleep(0.05)  # the other task arrives meanwhile
            if not found.items:
                await o.things.create("note", name="n", properties={"topic": "once"})

    await asyncio.gather(check_then_write(), check_then_write())
    assert sorted(seen) == [0, 1]
    with pytest.raises(RuntimeError, match="inside one"):
        await o.session.lock("note-once")


async def test_every_item_reads_a_listing_page_after_page() -> None:
    from core.ontology.records import Page
    from core.ontology.stores import MAX_LIMIT, every_item

    rows = list(range(2 * MAX_LIMIT + 3))
    asked: list[tuple[str | None, int, str]] = []

    async def list_page(*, kind: str, cursor: str | None, limit: int) -> Page[int]:
        asked.append((cursor, limit, kind))
        start = int(cursor or 0)
        end = start + limit
        return Page(rows[start:end], str(end) if end < len(rows) else None)

    assert await every_item(list_page, kind="chunk") == rows
    assert asked == [
        (None, MAX_LIMIT, "chunk"),
        (str(MAX_LIMIT), MAX_LIMIT, "chunk"),
        (str(2 * MAX_LIMIT), MAX_LIMIT, "chunk"),
    ]

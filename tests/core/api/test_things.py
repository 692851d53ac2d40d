"""``/api/v1/groups/{group}/things``: create, read, list, filter, update with ETags, delete,
and who may do which."""

from __future__ import annotations

import uuid

import msgspec
import pytest

from sdk import ThingType, hookimpl
from sdk.testing import CreatorPlatform, PlatformFactory, Tenant, assert_problem


async def _create(tenant: Tenant, **body):
    body.setdefault("type", "product")
    body.setdefault("name", "Mug")
    if body["type"] == "product":
        body.setdefault("properties", {"sku": "M1"})
    r = await tenant.client.post(tenant.url("/things"), json=body)
    assert r.status_code == 201, r.text
    return r.json()


async def test_create_returns_the_thing_with_etag_and_location(owner: Tenant) -> None:
    r = await owner.client.post(
        owner.url("/things"),
        json={"type": "product", "name": "Mug", "properties": {"sku": "M1", "price_cents": 500}},
    )
    assert r.status_code == 201, r.text
    assert r.headers["content-type"].startswith("application/json")
    thing = r.json()
    assert thing["type"] == "product" and thing["name"] == "Mug"
    assert thing["status"] == "draft" and thing["version"] == 1
    assert thing["group_id"] == str(owner.group.id)
    assert thing["properties"] == {
        "sku": "M1",
        "price_cents": 500,
        "currency": "USD",
        "featured": False,
        "tags": [],
        "dimensions": None,
    }
    assert uuid.UUID(thing["id"]).version == 7
    assert r.headers["etag"] == '"1"'
    assert r.headers["location"] == owner.url(f"/things/{thing['id']}")

    got = await owner.client.get(r.headers["location"])
    assert got.status_code == 200 and got.json() == thing
    assert got.headers["etag"] == '"1"'


async def test_create_with_a_status(owner: Tenant) -> None:
    thing = await _create(owner, status="published")
    assert thing["status"] == "published"
    note = await _create(owner, type="note", name="n", properties={"any": ["thing"]})
    assert note["status"] == "active" and note["properties"] == {"any": ["thing"]}


CREATE_REFUSALS = [
    ({"type": "gadget", "name": "x"}, "unknown_type", "type"),
    ({"type": "product", "name": "x", "properties": {"sku": 1}}, None, "properties.sku"),
    (
        {"type": "product", "name": "x", "properties": {"sku": "a", "colour": "red"}},
        None,
        "properties.colour",
    ),
    (
        {"type": "product", "name": "x", "properties": {"sku": "a", "dimensions": {}}},
        None,
        "properties.dimensions.width",
    ),
    ({"type": "product", "name": "x", "properties": {}}, None, "properties.sku"),
    (
        {"type": "product", "name": "x", "properties": {"sku": "a"}, "status": "sold"},
        None,
        "status",
    ),
    ({"type": "note", "name": ""}, None, "name"),
    ({"type": "note"}, None, "name"),
    ({"type": "note", "name": "x", "status": ""}, None, "status"),
    ({"type": "note", "name": "x", "properties": []}, None, "properties"),
    ({"type": "note", "name": "x", "colour": "red"}, None, "colour"),
]


async def test_create_refusals_name_the_field(owner: Tenant) -> None:
    for body, code, field in CREATE_REFUSALS:
        r = await owner.client.post(owner.url("/things"), json=body)
        err = assert_problem(r, 422, code or "validation_failed")
        assert err.get("field") == field, (body, err)
        assert err["detail"], body
    listed = await owner.client.get(owner.url("/things"))
    assert listed.json()["items"] == []


async def test_get_missing_and_soft_deleted(owner: Tenant) -> None:
    assert_problem(await owner.client.get(owner.url(f"/things/{uuid.uuid4()}")), 404, "not_found")
    thing = await _create(owner)
    r = await owner.client.delete(owner.url(f"/things/{thing['id']}"))
    assert r.status_code == 204 and r.content == b""
    assert_problem(await owner.client.get(owner.url(f"/things/{thing['id']}")), 404, "not_found")
    assert_problem(await owner.client.delete(owner.url(f"/things/{thing['id']}")), 404, "not_found")
    r = await owner.client.patch(owner.url(f"/things/{thing['id']}"), json={"name": "x"})
    assert_problem(r, 404, "not_found")
    assert (await owner.client.get(owner.url("/things"))).json()["items"] == []


async def test_list_pages_through_everything_with_next_cursor(owner: Tenant) -> None:
    created = [(await _create(owner, type="note", name=f"n{i}"))["id"] for i in range(13)]
    seen, cursor, pages = [], None, 0
    while True:
        params = {"limit": 5} | ({"cursor": cursor} if cursor else {})
        r = await owner.client.get(owner.url("/things"), params=params)
        assert r.status_code == 200, r.text
        body = r.json()
        assert set(body) == {"items", "next_cursor"}
        assert len(body["items"]) <= 5
        seen += [t["id"] for t in body["items"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert seen == list(reversed(created))  # newest first, no duplicates, no gaps
    default = (await owner.client.get(owner.url("/things"))).json()
    assert len(default["items"]) == 13 and default["next_cursor"] is None


async def test_list_filters(owner: Tenant) -> None:
    mug = await _create(owner, name="Mug", properties={"sku": "M1", "price_cents": 500})
    cap = await _create(
        owner,
        name="Cap",
        status="published",
        properties={"sku": "C1", "price_cents": 500, "featured": True},
    )
    pen = await _create(owner, name="Pen", properties={"sku": "P1", "price_cents": 90})
    note = await _create(owner, type="note", name="n", properties={"price_cents": "500"})

    async def ids(**params) -> list[str]:
        r = await owner.client.get(owner.url("/things"), params=params)
        assert r.status_code == 200, r.text
        return [t["id"] for t in r.json()["items"]]

    assert await ids(type="note") == [note["id"]]
    assert await ids(type="product") == [pen["id"], cap["id"], mug["id"]]
    assert await ids(status="published") == [cap["id"]]
    assert await ids(type="product", status="draft") == [pen["id"], mug["id"]]
    # where.<field> values arrive as text and are converted to the property's type.
    assert await ids(type="product", **{"where.price_cents": "500"}) == [cap["id"], mug["id"]]
    assert await ids(type="product", **{"where.featured": "true"}) == [cap["id"]]
    assert await ids(type="product", **{"where.featured": "false"}) == [pen["id"], mug["id"]]
    assert await ids(type="product", **{"where.sku": "P1"}) == [pen["id"]]
    assert await ids(
        type="product", status="draft", **{"where.price_cents": "500", "where.sku": "M1"}
    ) == [mug["id"]]
    # A type without a struct compares the text as given.
    assert await ids(type="note", **{"where.price_cents": "500"}) == [note["id"]]
    assert await ids(type="product", **{"where.price_cents": "1"}) == []


LIST_REFUSALS = [
    ({"where.sku": "M1"}, "validation_failed", "type"),  # a property filter needs a type
    ({"type": "product", "where.colour": "red"}, "validation_failed", "where.colour"),
    ({"type": "product", "where.price_cents": "cheap"}, "validation_failed", "where.price_cents"),
    ({"type": "product", "where.featured": "perhaps"}, "validation_failed", "where.featured"),
    ({"type": "product", "where.tags": "a"}, "validation_failed", "where.tags"),
    ({"type": "gadget", "where.x": "1"}, "unknown_type", "type"),
    ({"limit": "0"}, "validation_failed", "limit"),
    ({"limit": "201"}, "validation_failed", "limit"),
    ({"limit": "ten"}, "validation_failed", "limit"),
    ({"cursor": "not-a-cursor"}, "validation_failed", "cursor"),
]


async def test_list_refusals_name_the_parameter(owner: Tenant) -> None:
    for params, code, field in LIST_REFUSALS:
        r = await owner.client.get(owner.url("/things"), params=params)
        err = assert_problem(r, 422, code)
        assert err.get("field") == field, (params, err)


async def test_update_merges_and_returns_the_new_version(owner: Tenant) -> None:
    thing = await _create(owner, properties={"sku": "M1", "price_cents": 500, "tags": ["a"]})
    r = await owner.client.patch(
        owner.url(f"/things/{thing['id']}"),
        json={"name": "Big mug", "status": "published", "properties": {"price_cents": 450}},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["version"] == 2 and r.headers["etag"] == '"2"'
    assert (body["name"], body["status"]) == ("Big mug", "published")
    assert body["properties"]["price_cents"] == 450
    assert body["properties"]["tags"] == ["a"] and body["properties"]["sku"] == "M1"
    got = await owner.client.get(owner.url(f"/things/{thing['id']}"))
    assert got.json() == body and got.headers["etag"] == '"2"'


async def test_update_null_removes_and_replace_properties(owner: Tenant) -> None:
    note = await _create(owner, type="note", name="n", properties={"a": 1, "b": 2})
    url = owner.url(f"/things/{note['id']}")
    r = await owner.client.patch(url, json={"properties": {"a": None, "c": 3}})
    assert r.json()["properties"] == {"b": 2, "c": 3}
    r = await owner.client.patch(url, json={"properties": {"z": 0}, "replace_properties": True})
    assert r.json()["properties"] == {"z": 0} and r.json()["version"] == 3
    r = await owner.client.patch(url, json={})  # nothing to change
    assert r.status_code == 200 and r.json()["version"] == 3


async def test_update_refusals(owner: Tenant) -> None:
    thing = await _create(owner)
    url = owner.url(f"/things/{thing['id']}")
    for body, field in (
        ({"properties": {"price_cents": "x"}}, "properties.price_cents"),
        ({"properties": {"sku": None}}, "properties.sku"),
        ({"properties": {"nope": 1}}, "properties.nope"),
        ({"status": "sold"}, "status"),
        ({"name": ""}, "name"),
        ({"version": 0}, "version"),
    ):
        err = assert_problem(await owner.client.patch(url, json=body), 422, "validation_failed")
        assert err.get("field") == field, (body, err)
    assert (await owner.client.get(url)).json()["version"] == 1


async def test_if_match_guards_updates_and_deletes(owner: Tenant) -> None:
    thing = await _create(owner)
    url = owner.url(f"/things/{thing['id']}")
    first = await owner.client.get(url)
    etag = first.headers["etag"]

    # Someone else changes it in the meantime.
    r = await owner.client.patch(url, json={"name": "theirs"}, headers={"If-Match": etag})
    assert r.status_code == 200 and r.headers["etag"] == '"2"'

    # Our change, made against the old ETag, is refused rather than lost.
    r = await owner.client.patch(url, json={"name": "ours"}, headers={"If-Match": etag})
    err = assert_problem(r, 412, "version_mismatch")
    assert err["current_version"] == 2
    assert (await owner.client.get(url)).json()["name"] == "theirs"
    assert_problem(
        await owner.client.delete(url, headers={"If-Match": etag}), 412, "version_mismatch"
    )

    # Reload, retry with the fresh ETag: it goes through. A weak ETag is understood too.
    fresh = (await owner.client.get(url)).headers["etag"]
    r = await owner.client.patch(url, json={"name": "ours"}, headers={"If-Match": fresh})
    assert r.status_code == 200 and r.json()["version"] == 3
    r = await owner.client.patch(url, json={"name": "again"}, headers={"If-Match": 'W/"3"'})
    assert r.status_code == 200 and r.json()["version"] == 4
    assert_problem(
        await owner.client.patch(url, json={"name": "z"}, headers={"If-Match": '"0"'}), 412
    )
    r = await owner.client.delete(url, headers={"If-Match": r.headers["etag"]})
    assert r.status_code == 204
    assert_problem(await owner.client.get(url), 404)


async def test_version_in_the_body_guards_updates(owner: Tenant) -> None:
    thing = await _create(owner, type="note", name="n")
    url = owner.url(f"/things/{thing['id']}")
    assert (await owner.client.patch(url, json={"name": "a", "version": 1})).status_code == 200
    err = assert_problem(await owner.client.patch(url, json={"name": "b", "version": 1}), 412)
    assert err["code"] == "version_mismatch" and err["current_version"] == 2
    r = await owner.client.patch(url, json={"name": "b", "version": 2}, headers={"If-Match": '"2"'})
    assert r.status_code == 200
    r = await owner.client.patch(url, json={"name": "c", "version": 3}, headers={"If-Match": '"2"'})
    assert assert_problem(r, 422, "validation_failed")["field"] == "version"


async def test_unusable_if_match(owner: Tenant) -> None:
    thing = await _create(owner, type="note", name="n")
    url = owner.url(f"/things/{thing['id']}")
    for value in ("*", "abc", '"1", "2"', '"-1"', '"1.0"', "W/", '""', '"\u00b2"'):
        raw = value.encode("latin-1")  # '²' is a digit to str.isdigit, not to int()
        r = await owner.client.patch(url, json={"name": "x"}, headers={"If-Match": raw})
        assert assert_problem(r, 422, "validation_failed")["field"] == "If-Match", value
        r = await owner.client.delete(url, headers={"If-Match": raw})
        assert assert_problem(r, 422, "validation_failed")["field"] == "If-Match", value
    assert (await owner.client.get(url)).json()["version"] == 1


async def test_roles(typed_platform: CreatorPlatform, owner: Tenant) -> None:
    user = await typed_platform.member(owner, "org_user")
    customer = await typed_platform.member(owner, "customer")
    made = await _create(user, name="by a user")  # an org_user may create...
    url = owner.url(f"/things/{made['id']}")
    r = await user.client.patch(url, json={"name": "renamed"})  # ...change...
    assert r.status_code == 200
    assert (await user.client.get(owner.url("/things"))).status_code == 200  # ...and read

    # A customer may not create, change, delete or browse things in the group.
    body = {"type": "product", "name": "x", "properties": {"sku": "x"}}
    assert_problem(await customer.client.post(owner.url("/things"), json=body), 403, "forbidden")
    assert_problem(await customer.client.patch(url, json={"name": "mine"}), 403, "forbidden")
    assert_problem(await customer.client.delete(url), 403, "forbidden")
    assert_problem(await customer.client.get(owner.url("/things")), 403, "forbidden")
    assert_problem(await customer.client.get(url), 403, "forbidden")
    assert (await owner.client.get(url)).json()["name"] == "renamed"
    assert len((await owner.client.get(owner.url("/things"))).json()["items"]) == 1

    assert (await user.client.delete(url)).status_code == 204


async def test_other_tenants_and_strangers_get_404(
    typed_platform: CreatorPlatform, owner: Tenant
) -> None:
    thing = await _create(owner)
    other = await typed_platform.tenant()
    # Another group's owner, through their own group's URL: the thing is not there.
    for method, path, body in (
        ("GET", f"/things/{thing['id']}", None),
        ("PATCH", f"/things/{thing['id']}", {"name": "stolen"}),
        ("DELETE", f"/things/{thing['id']}", None),
    ):
        r = await other.client.request(method, other.url(path), json=body)
        assert_problem(r, 404, "not_found")
    # Through the owner's group URL: the group is not theirs (404, never 403).
    r = await other.client.get(owner.url(f"/things/{thing['id']}"))
    assert_problem(r, 404, "not_found")
    r = await other.client.post(owner.url("/things"), json={"type": "note", "name": "x"})
    assert_problem(r, 404, "not_found")
    assert (await owner.client.get(owner.url(f"/things/{thing['id']}"))).json() == thing
    # Anonymous: 401.
    assert_problem(await typed_platform.client.get(owner.url("/things")), 401, "unauthorized")


class LessonProps(msgspec.Struct):
    title: str = ""
    notes: str = ""  # the author's, never the public's


class Lessons:
    @hookimpl
    def register_thing_types(self) -> list[ThingType]:
        return [
            ThingType(
                "lesson",
                LessonProps,
                statuses=("draft", "published"),
                public_properties=("title",),
                public_name=False,
            )
        ]


async def test_customers_see_what_a_type_makes_public(
    creator_platform_factory: PlatformFactory,
) -> None:
    harness = await creator_platform_factory(plugins=[], extra_plugins={"lessons": Lessons()})
    owner = await harness.tenant()
    lesson = await _create(
        owner,
        type="lesson",
        name="Draft name",
        status="published",
        properties={"title": "Knots", "notes": "private"},
    )
    customer = await harness.client_as("customer", group=owner)
    seen = (await customer.client.get(customer.url(f"/things/{lesson['id']}"))).json()
    assert seen["properties"] == {"title": "Knots"} and seen["name"] == ""
    listed = await customer.client.get(customer.url("/things"), params={"status": "published"})
    assert [t["properties"] for t in listed.json()["items"]] == [{"title": "Knots"}]
    hidden = {"type": "lesson", "status": "published", "where.notes": "private"}
    r = await customer.client.get(customer.url("/things"), params=hidden)
    assert assert_problem(r, 422, "validation_failed")["field"] == "where.notes"
    public = {"type": "lesson", "status": "published", "where.title": "Knots"}
    assert (
        len((await customer.client.get(customer.url("/things"), params=public)).json()["items"])
        == 1
    )
    # members see everything
    full = (await owner.client.get(owner.url(f"/things/{lesson['id']}"))).json()
    assert full["properties"]["notes"] == "private" and full["name"] == "Draft name"


def test_public_properties_must_be_properties_of_the_type() -> None:
    with pytest.raises(ValueError, match="secret"):
        ThingType("lesson", LessonProps, public_properties=("title", "secret"))

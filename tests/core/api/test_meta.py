"""Health, readiness, ``/api/v1/me``, API tokens and ``/api/v1/types``."""

from __future__ import annotations

import uuid

import pytest

from sdk.testing import CreatorPlatform, assert_problem

pytestmark = pytest.mark.creator_plugins()


async def test_health_and_ready(creator_platform: CreatorPlatform) -> None:
    r = await creator_platform.client.get("/health")
    assert r.status_code == 200 and r.json()["status"] == "ok"
    r = await creator_platform.client.get("/ready")
    assert r.status_code == 200, r.text
    assert r.json() == {"status": "ok", "checks": {"database": "ok", "redis": "ok"}}


async def test_me(creator_platform: CreatorPlatform) -> None:
    person, token = await creator_platform.person("Ada@Example.test")
    r = await creator_platform.authed(token).get("/api/v1/me")
    assert r.status_code == 200
    assert r.json() == {
        "id": str(person.id),
        "email": "Ada@Example.test",
        "name": person.name,
        "platform_role": None,
    }
    for headers in (
        {},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer   "},
        {"Authorization": f"Basic {token}"},
        {"Authorization": token},
        {"Authorization": f"Bearer {token}x"},
        {"Authorization": "Bearer cp_unknown"},
    ):
        r = await creator_platform.client.get("/api/v1/me", headers=headers)
        assert_problem(r, 401, "unauthorized")
        assert r.headers["www-authenticate"].startswith("Bearer"), headers
    # The scheme is case-insensitive.
    r = await creator_platform.client.get(
        "/api/v1/me", headers={"Authorization": f"bearer {token}"}
    )
    assert r.status_code == 200


async def test_create_use_and_revoke_tokens(creator_platform: CreatorPlatform) -> None:
    person, token = await creator_platform.person()
    client = creator_platform.authed(token)
    r = await client.post("/api/v1/me/tokens", json={"name": "ci"})
    assert r.status_code == 201, r.text
    created = r.json()
    assert set(created) == {"id", "name", "token"}
    assert created["name"] == "ci" and created["token"].startswith("cp_")
    assert created["token"] != token
    second = creator_platform.authed(created["token"])
    assert (await second.get("/api/v1/me")).json()["id"] == str(person.id)
    # The default name.
    r = await client.post("/api/v1/me/tokens", json={})
    assert r.status_code == 201 and r.json()["name"] == "api"

    r = await client.delete(f"/api/v1/me/tokens/{created['id']}")
    assert r.status_code == 204 and r.content == b""
    assert_problem(await second.get("/api/v1/me"), 401, "unauthorized")
    # The token that revoked it still works; revoking again is a 404.
    assert (await client.get("/api/v1/me")).status_code == 200
    assert_problem(await client.delete(f"/api/v1/me/tokens/{created['id']}"), 404, "not_found")
    assert_problem(await client.delete(f"/api/v1/me/tokens/{uuid.uuid4()}"), 404, "not_found")
    listed = (await client.get("/api/v1/me/tokens")).json()
    assert [t["name"] for t in listed] == ["api", "ci", "test"]
    assert [t["revoked_at"] is not None for t in listed] == [False, True, False]
    assert all("token" not in t and "token_hash" not in t for t in listed)


async def test_a_token_can_revoke_itself(creator_platform: CreatorPlatform) -> None:
    _, token = await creator_platform.person()
    client = creator_platform.authed(token)
    own = (await client.post("/api/v1/me/tokens", json={"name": "self"})).json()
    self_client = creator_platform.authed(own["token"])
    assert (await self_client.delete(f"/api/v1/me/tokens/{own['id']}")).status_code == 204
    assert_problem(await self_client.get("/api/v1/me"), 401)
    assert_problem(await self_client.post("/api/v1/me/tokens", json={}), 401)


async def test_nobody_revokes_another_persons_token(creator_platform: CreatorPlatform) -> None:
    alice = await creator_platform.tenant()
    bob = await creator_platform.tenant()
    bobs = (await bob.client.post("/api/v1/me/tokens", json={"name": "bob"})).json()
    assert_problem(await alice.client.delete(f"/api/v1/me/tokens/{bobs['id']}"), 404, "not_found")
    assert (await creator_platform.authed(bobs["token"]).get("/api/v1/me")).status_code == 200


async def test_token_refusals(creator_platform: CreatorPlatform) -> None:
    tenant = await creator_platform.tenant()
    for body, field in (
        ({"name": ""}, "name"),
        ({"name": "x" * 101}, "name"),
        ({"name": 5}, "name"),
        ({"label": "x"}, "label"),
    ):
        r = await tenant.client.post("/api/v1/me/tokens", json=body)
        assert assert_problem(r, 422, "validation_failed").get("field") == field, body
    assert_problem(await creator_platform.client.post("/api/v1/me/tokens", json={}), 401)
    assert_problem(await tenant.client.delete("/api/v1/me/tokens/not-a-uuid"), 404)


async def test_types_lists_core_event_types(creator_platform: CreatorPlatform) -> None:
    tenant = await creator_platform.tenant()
    r = await tenant.client.get("/api/v1/types")
    assert r.status_code == 200
    types = {(t["kind"], t["name"]): t for t in r.json()}
    names = {name for kind, name in types if kind == "event"}
    assert {
        "thing_created",
        "thing_updated",
        "thing_deleted",
        "connection_created",
        "connection_deleted",
    } <= names
    created = types[("event", "thing_created")]
    assert created["plugin"] == "core" and created["description"]
    assert created["schema"] is not None
    assert not any(kind == "thing" for kind, _ in types)  # core registers no thing types


async def test_types_lists_plugin_types_with_schemas(typed_platform: CreatorPlatform) -> None:
    tenant = await typed_platform.tenant()
    listed = (await tenant.client.get("/api/v1/types")).json()
    for item in listed:
        assert set(item) == {"kind", "name", "plugin", "description", "schema"}
    types = {(t["kind"], t["name"]): t for t in listed}
    product = types[("thing", "product")]
    assert product["plugin"] == "testtypes" and product["description"] == "Something for sale"
    schema = product["schema"]
    definition = schema["$defs"][schema["$ref"].rsplit("/", 1)[-1]]
    assert set(definition["properties"]) == {
        "sku",
        "price_cents",
        "currency",
        "featured",
        "tags",
        "dimensions",
    }
    assert definition["required"] == ["sku"]
    assert types[("thing", "note")]["schema"] is None  # any JSON object
    assert types[("connection", "contains")]["schema"] is not None
    assert types[("connection", "related")]["schema"] is None
    assert types[("event", "product_viewed")]["plugin"] == "testtypes"
    # Sorted by kind (things, connections, events), then by name.
    kinds = [t["kind"] for t in listed]
    assert kinds == sorted(kinds, key=["thing", "connection", "event"].index)
    things = [t["name"] for t in listed if t["kind"] == "thing"]
    assert things == sorted(things)

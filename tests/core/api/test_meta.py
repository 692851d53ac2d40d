"""Health, readiness, ``/api/v1/me``, API tokens and ``/api/v1/types``."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
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
    assert set(created) == {"id", "name", "token", "expires_at"}
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


async def _token_row(creator_platform: CreatorPlatform, token_id: str) -> Any:
    conn = await asyncpg.connect(creator_platform.settings.database_url)
    try:
        return await conn.fetchrow(
            "SELECT expires_at, last_used_at FROM api_tokens WHERE id = $1", uuid.UUID(token_id)
        )
    finally:
        await conn.close()


async def _set_token(creator_platform: CreatorPlatform, token_id: str, assignment: str) -> None:
    conn = await asyncpg.connect(creator_platform.settings.database_url)
    try:
        await conn.execute(f"UPDATE api_tokens SET {assignment} WHERE id = $1", uuid.UUID(token_id))
    finally:
        await conn.close()


async def test_a_token_may_expire_and_is_then_refused(creator_platform: CreatorPlatform) -> None:
    tenant = await creator_platform.tenant()
    r = await tenant.client.post("/api/v1/me/tokens", json={"name": "ci", "expires_in_days": 7})
    assert r.status_code == 201, r.text
    created = r.json()
    expires_at = datetime.fromisoformat(created["expires_at"])
    assert abs(expires_at - (datetime.now(UTC) + timedelta(days=7))) < timedelta(minutes=5)
    listed = {t["id"]: t for t in (await tenant.client.get("/api/v1/me/tokens")).json()}
    assert datetime.fromisoformat(listed[created["id"]]["expires_at"]) == expires_at
    forever = (await tenant.client.post("/api/v1/me/tokens", json={})).json()
    assert forever["expires_at"] is None

    expiring = creator_platform.authed(created["token"])
    group_path = f"/api/v1/groups/{tenant.group.id}/things"
    assert (await expiring.get("/api/v1/me")).status_code == 200
    assert (await expiring.get(group_path)).status_code == 200
    await _set_token(creator_platform, created["id"], "expires_at = now() - interval '1 second'")
    for path in ("/api/v1/me", group_path):
        refused = assert_problem(await expiring.get(path), 401, "token_expired")
        assert "expired" in refused["detail"]
    for body in ({"expires_in_days": 0}, {"expires_in_days": 3651}, {"expires_in_days": "a week"}):
        r = await tenant.client.post("/api/v1/me/tokens", json=body)
        assert assert_problem(r, 422, "validation_failed").get("field") == "expires_in_days"


async def test_last_use_is_recorded_at_most_once_a_minute(
    creator_platform: CreatorPlatform,
) -> None:
    tenant = await creator_platform.tenant()
    created = (await tenant.client.post("/api/v1/me/tokens", json={"name": "ci"})).json()
    assert (await _token_row(creator_platform, created["id"]))["last_used_at"] is None
    client = creator_platform.authed(created["token"])
    group_path = f"/api/v1/groups/{tenant.group.id}/things"
    assert (await client.get(group_path)).status_code == 200
    first = (await _token_row(creator_platform, created["id"]))["last_used_at"]
    assert first is not None and abs(first - datetime.now(UTC)) < timedelta(minutes=1)
    # more requests within the minute write nothing
    for path in (group_path, "/api/v1/me", group_path):
        assert (await client.get(path)).status_code == 200
    assert (await _token_row(creator_platform, created["id"]))["last_used_at"] == first
    # a minute later the next request records it again, on either way in
    for path in (group_path, "/api/v1/me"):
        await _set_token(creator_platform, created["id"], "last_used_at = now() - interval '61s'")
        assert (await client.get(path)).status_code == 200
        again = (await _token_row(creator_platform, created["id"]))["last_used_at"]
        assert abs(again - datetime.now(UTC)) < timedelta(seconds=30)
    listed = {t["id"]: t for t in (await tenant.client.get("/api/v1/me/tokens")).json()}
    assert datetime.fromisoformat(listed[created["id"]]["last_used_at"]) == again

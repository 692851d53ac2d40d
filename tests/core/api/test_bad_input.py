"""No input makes the API answer 500, and every error is RFC 9457 problem+json with a
stable ``code``: malformed and wrongly shaped bodies, oversized bodies, bad path and query
values, wrong content types, unknown routes and methods, and a few hundred random
mutations of good requests."""

from __future__ import annotations

import json
import random
import uuid
from typing import Any

import httpx

from sdk.testing import CreatorPlatform, Tenant, assert_problem


def _check(r: httpx.Response, allowed: tuple[int, ...], label: object) -> None:
    assert r.status_code < 500, (label, r.status_code, r.text[:500])
    assert r.status_code in allowed, (label, r.status_code, r.text[:500])
    if r.status_code >= 400:
        assert_problem(r)


async def _arrange(tenant: Tenant, platform: CreatorPlatform) -> dict[str, str]:
    o = platform.ontology(tenant)
    collection = await o.things.create("collection", name="Summer")
    product = await o.things.create("product", name="Mug", properties={"sku": "M1"})
    link = await o.connections.create("contains", collection.id, product.id)
    event = (await o.events.list()).items[0]
    return {
        "collection": str(collection.id),
        "product": str(product.id),
        "link": str(link.id),
        "event": str(event.id),
    }


async def test_malformed_and_wrongly_shaped_bodies(
    typed_platform: CreatorPlatform, owner: Tenant
) -> None:
    ids = await _arrange(owner, typed_platform)
    things, product = owner.url("/things"), owner.url(f"/things/{ids['product']}")
    json_bodies: list[tuple[str, str, Any]] = [
        ("POST", things, []),
        ("POST", things, [{"type": "note", "name": "x"}]),
        ("POST", things, "note"),
        ("POST", things, 42),
        ("POST", things, None),
        ("POST", things, {}),
        ("POST", things, {"type": ["note"], "name": "x"}),
        ("POST", things, {"type": "note", "name": {"first": "x"}}),
        ("POST", things, {"type": "note", "name": "x", "properties": "a=b"}),
        ("POST", things, {"type": "note", "name": "x", "status": 7}),
        ("POST", things, {"type": "note", "name": "x", "id": str(uuid.uuid4())}),
        ("POST", things, {"type": "note", "name": "x", "group_id": str(uuid.uuid4())}),
        ("POST", things, {"type": "x" * 101, "name": "x"}),
        ("POST", things, {"type": "note", "name": "x" * 501}),
        ("PATCH", product, []),
        ("PATCH", product, {"version": "one"}),
        ("PATCH", product, {"version": -1}),
        ("PATCH", product, {"replace_properties": "yes"}),
        ("PATCH", product, {"properties": [1, 2]}),
        ("PATCH", product, {"type": "note"}),
        ("PATCH", product, {"properties": {"dimensions": {"width": "wide"}}}),
        ("POST", owner.url("/connections"), {"type": "contains"}),
        ("POST", owner.url("/connections"), {"type": "contains", "from_id": 1, "to_id": 2}),
        (
            "POST",
            owner.url("/connections"),
            {
                "type": "contains",
                "from_id": ids["collection"],
                "to_id": ids["product"],
                "metadata": "x",
            },
        ),
        ("POST", "/api/v1/groups", {"slug": 1, "name": 2}),
        ("POST", "/api/v1/groups", ["slug", "name"]),
        ("POST", "/api/v1/me/tokens", ["name"]),
        ("POST", "/api/v1/me/tokens", {"name": None}),
    ]
    for method, path, body in json_bodies:
        r = await owner.client.request(method, path, json=body)
        _check(r, (400, 409, 422), (method, path, body))

    raw_bodies = [
        b"{",
        b"{bad json}",
        b'{"type": "note", "name": "x",}',
        b'{"type": "note", "name": "x"} trailing',
        b"\xff\xfe\x00",
        b'{"type": "note", "name": "\xff"}',
        b"[" * 10_000 + b"]" * 10_000,
        b'{"type": "note", "name": "x", "properties": {"a": ' + b"[" * 5_000 + b"]" * 5_000 + b"}}",
        b'{"type": "note", "name": "x", "properties": {"a": 1e999}}',
        b'{"type": "note", "name": "x", "properties": {"a": NaN}}',
        b'{"type": "note", "name": "x", "type": "product"}',
        b"null",
        b" ",
        b"",
    ]
    for raw in raw_bodies:
        for method, path in (("POST", things), ("PATCH", product), ("POST", "/api/v1/groups")):
            r = await owner.client.request(
                method, path, content=raw, headers={"Content-Type": "application/json"}
            )
            _check(r, (400, 422), (method, path, raw[:60]))

    for raw in (b"{", b"{bad json}", b'{"name": "x",}'):
        r = await owner.client.post(
            things, content=raw, headers={"Content-Type": "application/json"}
        )
        assert (r.status_code, r.json()["code"]) == (400, "malformed_body"), raw

    assert [t.name for t in (await typed_platform.ontology(owner).things.list()).items] == [
        "Mug",
        "Summer",
    ]


async def test_values_postgresql_cannot_store(
    typed_platform: CreatorPlatform, owner: Tenant
) -> None:
    """NUL characters and out-of-range times pass msgspec but not PostgreSQL: a 422."""
    ids = await _arrange(owner, typed_platform)
    cases: list[tuple[str, str, Any, dict[str, str] | None]] = [
        ("POST", owner.url("/things"), {"type": "note", "name": "a\x00b"}, None),
        (
            "POST",
            owner.url("/things"),
            {"type": "note", "name": "x", "properties": {"k": "\x00"}},
            None,
        ),
        (
            "POST",
            owner.url("/things"),
            {"type": "note", "name": "x", "properties": {"\x00": 1}},
            None,
        ),
        ("POST", owner.url("/things"), {"type": "note", "name": "x", "status": "\x00"}, None),
        ("PATCH", owner.url(f"/things/{ids['product']}"), {"name": "\x00"}, None),
        ("POST", "/api/v1/groups", {"slug": "nul", "name": "\x00"}, None),
        ("POST", "/api/v1/groups", {"slug": "nul", "name": "n", "settings": {"a": "\x00"}}, None),
        ("POST", "/api/v1/me/tokens", {"name": "\x00"}, None),
        ("GET", owner.url("/things"), None, {"type": "\x00"}),
        ("GET", owner.url("/things"), None, {"status": "\x00"}),
        ("GET", owner.url("/things"), None, {"type": "product", "where.sku": "\x00"}),
        ("GET", owner.url("/things"), None, {"type": "note", "where.x": "\x00"}),
        ("GET", owner.url("/connections"), None, {"type": "\x00"}),
        ("GET", owner.url("/events"), None, {"type": "\x00"}),
        ("GET", owner.url("/events"), None, {"since": "0001-01-01T00:00:00+00:01"}),
        ("GET", owner.url("/events"), None, {"until": "9999-12-31T23:59:59.999999-00:01"}),
    ]
    for method, path, body, params in cases:
        r = await owner.client.request(method, path, json=body, params=params)
        _check(r, (422,), (method, path, body, params))
    # The extremes that do fit are fine.
    for params in ({"since": "0001-01-01T00:00:00Z"}, {"until": "9999-12-31T23:59:59Z"}):
        r = await owner.client.get(owner.url("/events"), params=params)
        assert r.status_code == 200, (params, r.text)


async def test_a_body_over_the_limit_is_413(creator_platform_factory) -> None:
    platform = await creator_platform_factory(plugins=[], max_body_bytes=1000)
    tenant = await platform.tenant()
    small = {"slug": "small", "name": "x" * 100}
    assert (await tenant.client.post("/api/v1/groups", json=small)).status_code == 201
    big = {"slug": "big", "name": "x" * 400, "settings": {"pad": "y" * 1000}}
    r = await tenant.client.post("/api/v1/groups", json=big)
    assert_problem(r, 413, "payload_too_large")
    r = await tenant.client.post(
        tenant.url("/things"),
        content=b"{" + b" " * 5000 + b"}",
        headers={"Content-Type": "application/json"},
    )
    assert_problem(r, 413, "payload_too_large")
    # The same without a Content-Length (a streamed body) is refused too.

    async def stream():
        for _ in range(10):
            yield b" " * 200

    r = await tenant.client.post(
        "/api/v1/groups", content=stream(), headers={"Content-Type": "application/json"}
    )
    assert_problem(r, 413, "payload_too_large")
    slugs = [g["slug"] for g in (await tenant.client.get("/api/v1/groups")).json()["items"]]
    assert "big" not in slugs


async def test_bad_path_and_query_values(typed_platform: CreatorPlatform, owner: Tenant) -> None:
    ids = await _arrange(owner, typed_platform)
    base = owner.url()
    not_found = [
        ("GET", "/api/v1/groups/not-a-uuid"),
        ("GET", "/api/v1/groups/not-a-uuid/things"),
        ("GET", "/api/v1/groups/12345/events"),
        ("GET", f"{base}/things/not-a-uuid"),
        ("GET", f"{base}/things/{ids['product']}x"),
        ("PATCH", f"{base}/things/%00"),
        ("DELETE", f"{base}/connections/{'0' * 33}"),
        ("GET", f"{base}/events/{ids['event'][:-1]}"),
        ("GET", f"{base}/things/{uuid.uuid4()}"),
        ("DELETE", "/api/v1/me/tokens/xyz"),
        ("GET", "/api/v1/groups/" + "a" * 5000),
    ]
    for method, path in not_found:
        r = await owner.client.request(method, path, json={} if method == "PATCH" else None)
        _check(r, (404,), (method, path))

    queries = [
        ("/things", {"limit": "0"}),
        ("/things", {"limit": "-1"}),
        ("/things", {"limit": "201"}),
        ("/things", {"limit": "1e3"}),
        ("/things", {"limit": "99999999999999999999999999"}),
        ("/things", {"limit": ""}),
        ("/things", {"cursor": "x"}),
        ("/things", {"cursor": "=" * 30}),
        ("/things", {"cursor": "AAAAAAAAAAAAAAAAAAAAAA" + "A" * 50}),
        ("/things", {"cursor": "é"}),
        ("/things", {"type": "product", "where.price_cents": "1.5"}),
        ("/things", {"type": "product", "where.dimensions": "{}"}),
        ("/things", {"type": "product", "where.": "x"}),
        ("/connections", {"from_id": "nope"}),
        ("/connections", {"to_id": "123"}),
        ("/connections", {"include_ended": "maybe"}),
        ("/events", {"target_id": str(uuid.uuid4())[:-2]}),
        ("/events", {"since": "2024-02-30T00:00:00Z"}),
        ("/events", {"until": "tomorrow"}),
        ("/events", {"since": "2024-01-01T25:00:00Z"}),
        ("/events", {"since": "99999-01-01T00:00:00Z"}),
        ("/events", {"since": ""}),
    ]
    for path, params in queries:
        r = await owner.client.get(owner.url(path), params=params)
        _check(r, (200, 400, 422), (path, params))
        if "cursor" in params or "limit" in params:
            assert r.status_code == 422, (path, params, r.text)
    # A valid-looking cursor from nowhere just starts past an id: a page, not an error.
    r = await owner.client.get(owner.url("/things"), params={"cursor": "A" * 22})
    assert r.status_code == 200 and r.json()["items"] == []
    # Repeated parameters do not confuse the handler.
    r = await owner.client.get(owner.url("/things?limit=1&limit=2&type=note&type=product"))
    _check(r, (200, 400, 422), "repeated parameters")


async def test_wrong_content_type_method_and_route(owner: Tenant) -> None:
    things = owner.url("/things")
    for content_type, content in (
        ("application/x-www-form-urlencoded", b"type=note&name=x"),
        (
            "multipart/form-data; boundary=zz",
            b'--zz\r\nContent-Disposition: form-data; name="type"\r\n\r\nnote\r\n--zz--\r\n',
        ),
        ("text/plain", b"type: note"),
        ("application/xml", b"<thing><type>note</type></thing>"),
        ("application/json; charset=latin-1", b'{"type": "note", "name": "\xe9"}'),
    ):
        r = await owner.client.post(things, content=content, headers={"Content-Type": content_type})
        _check(r, (400, 415, 422), content_type)
    # JSON under a generic content type is understood (or refused cleanly).
    r = await owner.client.post(
        things, content=b'{"type": "note", "name": "x"}', headers={"Content-Type": "text/plain"}
    )
    _check(r, (201, 415), "json as text/plain")

    for method, path, status in (
        ("PUT", things, 405),
        ("DELETE", things, 405),
        ("POST", owner.url(f"/things/{uuid.uuid4()}"), 405),
        ("PATCH", owner.url("/events"), 405),
        ("POST", owner.url("/events"), 405),
        ("PUT", "/api/v1/me", 405),
        ("POST", "/health", 405),
        ("GET", "/api/v1/nothing-here", 404),
        ("GET", "/api/v2/groups", 404),
        ("GET", owner.url("/widgets"), 404),
        ("GET", "/" + "x" * 3000, 404),
        ("GET", "/api/v1/groups/../../etc/passwd", 404),
    ):
        r = await owner.client.request(method, path)
        _check(r, (status,), (method, path))
        if status == 405:
            assert r.headers.get("allow"), (method, path)


# -- random mutations ---------------------------------------------------------------------

ODD_VALUES: list[Any] = [
    None,
    True,
    False,
    0,
    -1,
    1.5,
    -0.0,
    2**31,
    2**63,
    2**64,
    -(2**63) - 1,
    10**30,
    1e308,
    "",
    " ",
    "\x00",
    "a\x00b",
    "é",
    "💥",
    "\ud7ff",
    "x" * 600,
    "null",
    "true",
    "1",
    "not-a-uuid",
    "00000000-0000-0000-0000-000000000000",
    "2024-01-01T00:00:00Z",
    [],
    [None],
    [1, "a"],
    {},
    {"k": None},
    {"": ""},
    {"\x00": 1},
    {"a": {"b": {"c": []}}},
]


def _mutate(rng: random.Random, value: Any, depth: int = 0) -> Any:
    """One random change somewhere inside ``value``."""
    if isinstance(value, dict) and value and rng.random() < 0.7:
        key = rng.choice(list(value))
        action = rng.random()
        copy = dict(value)
        if action < 0.2:
            del copy[key]
        elif action < 0.35:
            copy[rng.choice(["extra", "id", "version", "type", "Ünknown", ""])] = rng.choice(
                ODD_VALUES
            )
        else:
            copy[key] = _mutate(rng, value[key], depth + 1)
        return copy
    if isinstance(value, list) and value and rng.random() < 0.6:
        copy = list(value)
        index = rng.randrange(len(copy))
        copy[index] = _mutate(rng, copy[index], depth + 1)
        return copy
    if depth == 0 and rng.random() < 0.1:
        return [value]
    return rng.choice(ODD_VALUES)


def _mangle(rng: random.Random, raw: bytes) -> bytes:
    """A byte-level change: truncation, a stray byte, a dropped byte, a repeated slice."""
    if not raw:
        return bytes([rng.randrange(256)])
    i = rng.randrange(len(raw))
    choice = rng.randrange(4)
    if choice == 0:
        return raw[:i]
    if choice == 1:
        return raw[:i] + bytes([rng.randrange(256)]) + raw[i:]
    if choice == 2:
        return raw[:i] + raw[i + 1 :]
    return raw[:i] + raw[i : i + 8] * rng.randrange(2, 50) + raw[i:]


async def test_random_mutations_never_make_a_500(
    typed_platform: CreatorPlatform, owner: Tenant
) -> None:
    ids = await _arrange(owner, typed_platform)
    rng = random.Random(20261124)
    templates: list[tuple[str, str, dict[str, Any]]] = [
        (
            "POST",
            owner.url("/things"),
            {
                "type": "product",
                "name": "Mug",
                "status": "draft",
                "properties": {
                    "sku": "M1",
                    "price_cents": 5,
                    "tags": ["a"],
                    "dimensions": {"width": 1.5, "height": 2.0},
                },
            },
        ),
        ("POST", owner.url("/things"), {"type": "note", "name": "n", "properties": {"a": [1]}}),
        (
            "PATCH",
            owner.url(f"/things/{ids['product']}"),
            {
                "name": "Mug 2",
                "status": "published",
                "properties": {"price_cents": 3, "tags": ["b"]},
                "replace_properties": False,
            },
        ),
        (
            "POST",
            owner.url("/connections"),
            {
                "type": "contains",
                "from_id": ids["collection"],
                "to_id": ids["product"],
                "metadata": {"position": 1},
            },
        ),
        (
            "POST",
            "/api/v1/groups",
            {"slug": "fuzz", "name": "Fuzz", "kind": "organization", "settings": {"a": 1}},
        ),
        ("POST", "/api/v1/me/tokens", {"name": "fuzz"}),
    ]
    query_templates: list[tuple[str, dict[str, str]]] = [
        ("/things", {"type": "product", "status": "draft", "where.price_cents": "5", "limit": "5"}),
        ("/connections", {"from_id": ids["collection"], "include_ended": "true", "limit": "2"}),
        ("/events", {"type": "thing_created", "since": "2020-01-01T00:00:00Z", "limit": "3"}),
    ]
    statuses: dict[int, int] = {}
    for i in range(200):
        if i % 4 == 3:  # a query string
            path, params = rng.choice(query_templates)
            params = dict(params)
            key = rng.choice([*params, "cursor", "where.sku", "where.nope", "type"])
            odd = rng.choice(ODD_VALUES)
            params[key] = odd if isinstance(odd, str) else json.dumps(odd)
            r = await owner.client.get(owner.url(path), params=params)
            label: Any = (path, params)
        else:
            method, path, body = rng.choice(templates)
            content = json.dumps(_mutate(rng, body), ensure_ascii=rng.random() < 0.5).encode(
                "utf-8", "surrogatepass"
            )
            if rng.random() < 0.25:
                content = _mangle(rng, content)
            r = await owner.client.request(
                method, path, content=content, headers={"Content-Type": "application/json"}
            )
            label = (method, path, content[:200])
        statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
        assert r.status_code < 500, (i, label, r.text[:500])
        if r.status_code >= 400:
            assert_problem(r)
    # The mutations exercised both acceptance and refusal.
    assert any(s < 300 for s in statuses) and any(s >= 400 for s in statuses), statuses

"""``/api/v1/groups``: create (the creator owns it), list your groups, read one; and the
rule that a group you are not in does not exist for you."""

from __future__ import annotations

import uuid

import pytest

from sdk.testing import CreatorPlatform, Tenant, assert_problem

pytestmark = pytest.mark.creator_plugins()


async def test_create_and_read_a_group(creator_platform: CreatorPlatform) -> None:
    _, token = await creator_platform.person()
    client = creator_platform.authed(token)
    r = await client.post(
        "/api/v1/groups",
        json={"slug": "acme", "name": "Acme", "settings": {"theme": "dark"}},
    )
    assert r.status_code == 201, r.text
    group = r.json()
    assert (group["slug"], group["name"], group["kind"]) == ("acme", "Acme", "organization")
    assert group["settings"] == {"theme": "dark"} and group["parent_id"] is None
    assert uuid.UUID(group["id"]).version == 7

    got = await client.get(f"/api/v1/groups/{group['id']}")
    assert got.status_code == 200 and got.json() == group
    # The creator is its owner: they may work in it straight away.
    r = await client.get(f"/api/v1/groups/{group['id']}/things")
    assert r.status_code == 200 and r.json()["items"] == []
    listed = (await client.get("/api/v1/groups")).json()
    assert [g["id"] for g in listed["items"]] == [group["id"]]
    assert listed["next_cursor"] is None


async def test_create_refusals(creator_platform: CreatorPlatform, owner_client) -> None:
    client = owner_client
    assert (await client.post("/api/v1/groups", json={"slug": "taken", "name": "A"})).is_success
    err = assert_problem(
        await client.post("/api/v1/groups", json={"slug": "taken", "name": "B"}), 409, "conflict"
    )
    assert err["field"] == "slug"
    for body, field in (
        ({"slug": "Not Valid", "name": "x"}, "slug"),
        ({"slug": "-dash", "name": "x"}, "slug"),
        ({"slug": "x" * 64, "name": "x"}, "slug"),
        ({"slug": "ok", "name": ""}, "name"),
        ({"slug": "ok"}, "name"),
        ({"name": "x"}, "slug"),
        ({"slug": "ok", "name": "x", "kind": ""}, "kind"),
        ({"slug": "ok", "name": "x", "settings": []}, "settings"),
        ({"slug": "ok", "name": "x", "parent_id": "nope"}, "parent_id"),
        ({"slug": "ok", "name": "x", "owner": "me"}, "owner"),
    ):
        err = assert_problem(
            await client.post("/api/v1/groups", json=body), 422, "validation_failed"
        )
        assert err.get("field") == field, (body, err)
    plan = assert_problem(
        await client.post(
            "/api/v1/groups", json={"slug": "free", "name": "x", "settings": {"plan": "pro"}}
        ),
        422,
        "validation_failed",
    )
    assert "settings.plan" in plan["detail"]  # a creator cannot grant themselves a plan
    listed = (await client.get("/api/v1/groups")).json()["items"]
    assert [g["slug"] for g in listed] == ["taken"]


async def test_sub_groups(creator_platform: CreatorPlatform) -> None:
    parent = await creator_platform.tenant("parent-org")
    r = await parent.client.post(
        "/api/v1/groups",
        json={
            "slug": "launch",
            "name": "Launch",
            "kind": "campaign",
            "parent_id": str(parent.group.id),
        },
    )
    assert r.status_code == 201, r.text
    child = r.json()
    assert child["parent_id"] == str(parent.group.id) and child["kind"] == "campaign"
    # Sibling slugs are unique; the same slug under another parent is fine.
    r = await parent.client.post(
        "/api/v1/groups",
        json={"slug": "launch", "name": "Again", "parent_id": str(parent.group.id)},
    )
    assert_problem(r, 409, "conflict")
    r = await parent.client.post("/api/v1/groups", json={"slug": "launch", "name": "Top level"})
    assert r.status_code == 201
    # Only a member of the parent may add a sub-group; to others it does not exist.
    stranger = await creator_platform.tenant()
    r = await stranger.client.post(
        "/api/v1/groups", json={"slug": "sneaky", "name": "S", "parent_id": str(parent.group.id)}
    )
    assert assert_problem(r, 404, "not_found")["field"] == "parent_id"
    r = await stranger.client.post(
        "/api/v1/groups", json={"slug": "sneaky", "name": "S", "parent_id": str(uuid.uuid4())}
    )
    assert_problem(r, 404, "not_found")


async def test_list_groups_pages(creator_platform: CreatorPlatform, owner_client) -> None:
    made = []
    for i in range(5):
        r = await owner_client.post("/api/v1/groups", json={"slug": f"g{i}-x", "name": f"G{i}"})
        made.append(r.json()["id"])
    seen, cursor = [], None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        r = await owner_client.get("/api/v1/groups", params=params)
        assert r.status_code == 200, r.text
        seen += [g["id"] for g in r.json()["items"]]
        cursor = r.json()["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(made))
    for params, field in (({"limit": 0}, "limit"), ({"cursor": "???"}, "cursor")):
        err = assert_problem(await owner_client.get("/api/v1/groups", params=params), 422)
        assert err["field"] == field
    # Another person's groups are not listed.
    other = await creator_platform.tenant()
    assert [g["id"] for g in (await other.client.get("/api/v1/groups")).json()["items"]] == [
        str(other.group.id)
    ]


@pytest.fixture
async def owner_client(creator_platform: CreatorPlatform):
    _, token = await creator_platform.person()
    return creator_platform.authed(token)


def _group_routes(base: str, thing_id: str, connection_id: str, event_id: str):
    """Every route under ``base`` (``/api/v1/groups/<id>``), with a body that works for a
    member of that group."""
    return [
        ("GET", base, None),
        ("GET", f"{base}/things", None),
        ("POST", f"{base}/things", {"type": "note", "name": "x"}),
        ("GET", f"{base}/things/{thing_id}", None),
        ("PATCH", f"{base}/things/{thing_id}", {"name": "stolen"}),
        ("DELETE", f"{base}/things/{thing_id}", None),
        ("GET", f"{base}/connections", None),
        (
            "POST",
            f"{base}/connections",
            {"type": "related", "from_id": thing_id, "to_id": thing_id},
        ),
        ("GET", f"{base}/connections/{connection_id}", None),
        ("DELETE", f"{base}/connections/{connection_id}", None),
        ("GET", f"{base}/events", None),
        ("GET", f"{base}/events/{event_id}", None),
    ]


async def test_a_group_you_are_not_in_is_404_on_every_route(
    typed_platform: CreatorPlatform, owner: Tenant
) -> None:
    o = typed_platform.ontology(owner)
    note = await o.things.create("note", name="top-secret")
    other_note = await o.things.create("note", name="other")
    link = await o.connections.create("related", note.id, other_note.id)
    event = (await o.events.list()).items[0]
    ids = (str(note.id), str(link.id), str(event.id))
    routes = _group_routes(owner.url(), *ids)

    # A member can read on every route (so the 404s below are about membership alone).
    user = await typed_platform.member(owner, "org_user")
    for method, path, _ in routes:
        if method == "GET":
            r = await user.client.get(path)
            assert r.status_code == 200, (path, r.text)

    stranger = await typed_platform.tenant()
    for method, path, body in routes:
        r = await stranger.client.request(method, path, json=body)
        assert_problem(r, 404, "not_found")
        assert "top-secret" not in r.text
    # A group that does not exist at all answers exactly the same.
    for method, path, body in _group_routes(f"/api/v1/groups/{uuid.uuid4()}", *ids):
        assert_problem(await owner.client.request(method, path, json=body), 404, "not_found")
    # And nothing changed.
    assert (await o.things.get(note.id)).name == "top-secret"
    assert (await o.connections.get(link.id)).valid_to is None
    assert len((await o.things.list()).items) == 2


async def test_bad_or_revoked_tokens_get_401_on_group_routes(
    typed_platform: CreatorPlatform, owner: Tenant
) -> None:
    note = await typed_platform.ontology(owner).things.create("note", name="n")
    token = (await owner.client.post("/api/v1/me/tokens", json={"name": "second"})).json()
    second = typed_platform.authed(token["token"])
    assert (await second.get(owner.url(f"/things/{note.id}"))).status_code == 200
    assert (await owner.client.delete(f"/api/v1/me/tokens/{token['id']}")).status_code == 204
    routes = _group_routes(owner.url(), str(note.id), str(uuid.uuid4()), str(uuid.uuid4()))
    clients = {
        "revoked": second,
        "unknown": typed_platform.authed("cp_" + "x" * 43),
        "anonymous": typed_platform.client,
    }
    for label, client in clients.items():
        for method, path, body in routes:
            r = await client.request(method, path, json=body)
            assert_problem(r, 401, "unauthorized")
            assert r.headers["www-authenticate"].startswith("Bearer"), (label, method, path)
    assert (await owner.client.get(owner.url(f"/things/{note.id}"))).status_code == 200


async def test_one_person_may_create_only_so_many_organisations(
    creator_platform_factory,
) -> None:
    """``max_groups_per_person`` caps the organisations one person creates; sub-groups do
    not count and platform owners are exempt."""
    cp = await creator_platform_factory(plugins=[], max_groups_per_person=2)
    _, token = await cp.person()
    client = cp.authed(token)
    first = None
    for n in range(2):
        r = await client.post("/api/v1/groups", json={"slug": f"org-{n}", "name": "O"})
        assert r.status_code == 201, r.text
        first = first or r.json()["id"]
    err = assert_problem(
        await client.post("/api/v1/groups", json={"slug": "org-3", "name": "O"}),
        403,
        "group_limit_reached",
    )
    assert (err["limit"], err["owned"]) == (2, 2)
    assert "max_groups_per_person" in err["detail"]
    sub = await client.post(
        "/api/v1/groups", json={"slug": "org-sub", "name": "S", "parent_id": first}
    )
    assert sub.status_code == 201, sub.text
    _, owner_token = await cp.person(platform_role="platform_owner")
    owner = cp.authed(owner_token)
    for n in range(3):
        r = await owner.post("/api/v1/groups", json={"slug": f"own-{n}", "name": "O"})
        assert r.status_code == 201, r.text


async def test_concurrent_creates_cannot_pass_the_group_limit(creator_platform_factory) -> None:
    import asyncio

    cp = await creator_platform_factory(plugins=[], max_groups_per_person=1)
    _, token = await cp.person()
    client = cp.authed(token)
    responses = await asyncio.gather(
        *(client.post("/api/v1/groups", json={"slug": f"race-{n}", "name": "R"}) for n in range(4))
    )
    assert sorted(r.status_code for r in responses) == [201, 403, 403, 403]

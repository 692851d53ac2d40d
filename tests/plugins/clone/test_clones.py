"""Clones: create, read, change and delete them; the default prompt; validation; who may
do what; other groups; the generic APIs stay read-only; the quota."""

from __future__ import annotations

import uuid

import pytest

from sdk.testing import assert_problem

pytestmark = pytest.mark.creator_plugins("clone")


async def test_create_with_a_default_prompt_list_get(api, owner, events) -> None:
    clone = await api.clone("Ada", purpose="support")
    assert clone["status"] == "draft" and clone["name"] == "Ada"
    assert clone["purpose"] == "support" and clone["temperature"] == 0.3
    assert clone["provider"] == "offline" and clone["model"] == ""
    prompt = clone["system_prompt"]
    assert "You are Ada, the AI assistant of Studio Nova" in prompt
    assert "questions about Studio Nova's products and services" in prompt
    assert "don't know" in prompt
    assert clone["trained_at"] is None and clone["training_error"] is None

    r = await api.client.get(api.url(clone["id"]))
    assert r.status_code == 200 and r.json() == clone
    assert r.headers["etag"] == f'"{clone["version"]}"'
    own = await api.clone("Bea", system_prompt="  Talk like a pirate.  ", temperature=1.2)
    assert own["system_prompt"] == "Talk like a pirate." and own["temperature"] == 1.2
    listed = (await api.client.get(api.base + "/clones")).json()
    assert [c["id"] for c in listed["items"]] == [own["id"], clone["id"]]
    created = await events(owner, "clone_created")
    assert {e["payload"]["clone_id"] for e in created} == {clone["id"], own["id"]}

    r = await api.client.get(api.base + "/providers")
    assert {"name": "offline", "default": True, "models": None} in r.json()
    assert "openai" in {p["name"] for p in r.json()}


async def test_update_follows_the_default_prompt_until_it_is_edited(api, owner, events) -> None:
    clone = await api.clone("Ada")
    r = await api.client.patch(api.url(clone["id"]), json={"purpose": "teaching", "name": "Ava"})
    assert r.status_code == 200, r.text
    changed = r.json()
    assert changed["name"] == "Ava" and changed["version"] == clone["version"] + 1
    assert "You are Ava" in changed["system_prompt"]
    assert "teach Studio Nova's material" in changed["system_prompt"]

    r = await api.client.patch(api.url(clone["id"]), json={"system_prompt": "Be brief."})
    assert r.json()["system_prompt"] == "Be brief."
    r = await api.client.patch(api.url(clone["id"]), json={"purpose": "sales"})
    assert r.json()["system_prompt"] == "Be brief."  # edited: kept
    r = await api.client.patch(api.url(clone["id"]), json={"system_prompt": ""})
    assert "You are Ava" in r.json()["system_prompt"]  # "" writes the default again
    assert "offers" in r.json()["system_prompt"]

    version = r.json()["version"]
    same = await api.client.patch(api.url(clone["id"]), json={"purpose": "sales"})
    assert same.json()["version"] == version  # nothing changed
    updates = await events(owner, "clone_updated", clone["id"])
    assert updates[-1]["payload"]["changed"] == ["name", "purpose", "system_prompt"]


async def test_if_match_and_delete(api, owner, events) -> None:
    clone = await api.clone("Ada")
    r = await api.client.patch(
        api.url(clone["id"]), json={"welcome_message": "Hello!"}, headers={"If-Match": '"99"'}
    )
    assert_problem(r, 412, "version_mismatch")
    r = await api.client.patch(
        api.url(clone["id"]),
        json={"welcome_message": "Hello!"},
        headers={"If-Match": f'"{clone["version"]}"'},
    )
    assert r.status_code == 200 and r.json()["welcome_message"] == "Hello!"
    assert_problem(await api.client.delete(api.url(clone["id"]), headers={"If-Match": "nope"}), 422)
    r = await api.client.delete(api.url(clone["id"]))
    assert r.status_code == 204
    assert_problem(await api.client.get(api.url(clone["id"])), 404, "not_found")
    assert_problem(await api.client.delete(api.url(clone["id"])), 404, "not_found")
    deleted = await events(owner, "clone_updated", clone["id"])
    assert deleted[0]["payload"]["changed"] == ["deleted"]


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"name": ""},
        {"name": "x" * 201},
        {"name": "Ada", "purpose": "world domination"},
        {"name": "Ada", "temperature": 3},
        {"name": "Ada", "temperature": "hot"},
        {"name": "Ada", "provider": "no-such-provider"},
        {"name": "Ada", "system_prompt": "x" * 8001},
        {"name": "Ada", "unknown": 1},
        [],
    ],
)
async def test_bad_clones_are_422(api, body) -> None:
    r = await api.client.post(api.base + "/clones", json=body)
    assert_problem(r, 400 if r.status_code == 400 else 422)


async def test_bad_updates_and_ids(api) -> None:
    clone = await api.clone("Ada")
    for body in ({"temperature": -1}, {"provider": "nope"}, {"name": None}, {"status": "x"}):
        assert_problem(await api.client.patch(api.url(clone["id"]), json=body), 422)
    r = await api.client.patch(api.url(clone["id"]), content=b"{not json")
    assert_problem(r)
    r = await api.client.get(api.base + "/clones/not-a-uuid")
    assert r.status_code in (400, 404)
    assert_problem(r)
    assert_problem(await api.client.get(api.base + "/clones", params={"limit": 0}), 422)
    r = await api.client.get(api.base + "/clones", params={"cursor": "garbage"})
    assert_problem(r, 422)


async def test_the_fourth_clone_is_over_the_quota(api) -> None:
    for name in ("One", "Two", "Three"):
        await api.clone(name)
    assert_problem(await api.client.post(api.base + "/clones", json={"name": "Four"}), 429)
    first = (await api.client.get(api.base + "/clones")).json()["items"][-1]
    assert (await api.client.delete(api.url(first["id"]))).status_code == 204
    await api.clone("Four")  # a slot is free again


async def test_roles(clone_platform, owner, api, api_for) -> None:
    clone = await api.clone("Ada")
    colleague = api_for(await clone_platform.member(owner, "org_user"))
    made = await colleague.clone("Bea")
    assert (await colleague.get(clone["id"]))["name"] == "Ada"
    customer = api_for(await clone_platform.member(owner, "customer"))
    assert_problem(await customer.client.get(customer.base + "/clones"), 403, "forbidden")
    assert_problem(await customer.client.get(customer.url(clone["id"])), 403)
    assert_problem(await customer.client.post(customer.base + "/clones", json={"name": "C"}), 403)
    assert_problem(await customer.client.patch(customer.url(made["id"]), json={"name": "C"}), 403)
    assert_problem(await customer.client.delete(customer.url(made["id"])), 403)
    assert_problem(await customer.client.post(customer.url(made["id"], "/train")), 403)
    r = await customer.client.post(
        customer.url(made["id"], "/sources"), json={"kind": "text", "title": "t", "text": "x"}
    )
    assert_problem(r, 403)


async def test_other_groups_clones_are_404(clone_platform, api, api_for) -> None:
    clone = await api.clone("Ada")
    other = api_for(await clone_platform.tenant())
    await other.clone("Theirs")
    routes = [
        ("GET", ""),
        ("PATCH", ""),
        ("DELETE", ""),
        ("POST", "/train"),
        ("GET", "/sources"),
        ("POST", "/sources"),
        ("GET", "/threads"),
        ("POST", "/threads"),
    ]
    bodies = {"PATCH": {"name": "Taken"}, "POST": {"kind": "text", "title": "t", "text": "x"}}
    for method, path in routes:
        body = bodies.get(method) if path != "/threads" else {}
        for base in (other.base, api.base):  # their group with our id; our group
            url = f"{base}/clones/{clone['id']}{path}"
            r = await other.client.request(method, url, json=body)
            assert_problem(r, 404, "not_found")
            assert "Ada" not in r.text
    listed = (await other.client.get(other.base + "/clones")).json()["items"]
    assert [c["name"] for c in listed] == ["Theirs"]
    assert (await api.get(clone["id"]))["name"] == "Ada"


async def test_generic_apis_cannot_write_clone_types(api, owner) -> None:
    clone = await api.clone("Ada")
    source = await api.text(clone["id"], "Note", "Some words to learn.")
    things = f"/api/v1/groups/{owner.group.id}/things"
    r = await owner.client.post(things, json={"type": "ai_clone", "name": "Sneaky"})
    assert_problem(r, 403)
    r = await owner.client.patch(f"{things}/{clone['id']}", json={"name": "Renamed"})
    assert_problem(r, 403)
    assert_problem(await owner.client.delete(f"{things}/{source['id']}"), 403)
    r = await owner.client.post(
        f"/api/v1/groups/{owner.group.id}/connections",
        json={"type": "trained_on", "from_id": clone["id"], "to_id": source["id"]},
    )
    assert_problem(r, 403)
    links = (
        await owner.client.get(
            f"/api/v1/groups/{owner.group.id}/connections", params={"type": "trained_on"}
        )
    ).json()["items"]
    assert len(links) == 1
    r = await owner.client.delete(f"/api/v1/groups/{owner.group.id}/connections/{links[0]['id']}")
    assert_problem(r, 403)
    r = await owner.client.get(f"{things}/{clone['id']}")  # reading is fine
    assert r.status_code == 200 and r.json()["type"] == "ai_clone"


async def test_the_default_prompt_follows_the_creators_profile(owner, api_for) -> None:
    profile = {
        "niche": "handmade stoneware",
        "expertise": "glazes and wood firing",
        "audience": "beginner potters",
        "ignored": "x",
        "motto": 3,
    }
    r = await owner.client.post(
        "/api/v1/groups",
        json={"slug": "mara-profile", "name": "Mara", "settings": {"profile": profile}},
    )
    assert r.status_code == 201, r.text
    group = r.json()
    api = api_for(owner)
    api.base = f"/api/v1/clone/groups/{group['id']}"
    prompt = (await api.clone("Ada", purpose="teaching"))["system_prompt"]
    assert "Mara works in handmade stoneware." in prompt
    assert "Their expertise: glazes and wood firing." in prompt
    assert "They serve beginner potters" in prompt
    assert "ignored" not in prompt and "3" not in prompt
    plain = (await api_for(owner).clone("Bo"))["system_prompt"]
    assert "works in" not in plain and "expertise" not in plain


async def clone_of(tenant, clone_id: str, include_ended: bool = False) -> list[dict]:
    """The clone's ``clone_of`` connections, newest first, read through the core API."""
    r = await tenant.client.get(
        f"/api/v1/groups/{tenant.group.id}/connections",
        params={"type": "clone_of", "from_id": clone_id, "include_ended": include_ended},
    )
    assert r.status_code == 200, r.text
    items: list[dict] = r.json()["items"]
    return items


async def test_a_clone_is_connected_to_its_creator(clone_platform, owner, api, api_for) -> None:
    clone = await api.clone("Ada")
    assert clone["creator_id"] == str(owner.person.id)
    assert (clone["training_version"], clone["training_size"]) == (0, 0)
    (link,) = await clone_of(owner, clone["id"])
    assert link["to_id"] == str(owner.person.id)
    assert link["metadata"] == {"version": 0, "training_size": 0}
    assert (await api.get(clone["id"]))["creator_id"] == str(owner.person.id)
    listed = (await api.client.get(api.base + "/clones")).json()["items"]
    assert [c["creator_id"] for c in listed] == [str(owner.person.id)]
    # A colleague who makes a clone is its creator; an owner may name another member.
    colleague = await clone_platform.member(owner, "org_user")
    theirs = await api_for(colleague).clone("Bea")
    assert theirs["creator_id"] == str(colleague.person.id)
    named = await api.clone("Cy", creator_id=str(colleague.person.id))
    assert named["creator_id"] == str(colleague.person.id)
    (link,) = await clone_of(owner, named["id"])
    assert link["to_id"] == str(colleague.person.id)
    # Changing the clone keeps its creator; deleting it ends the connection.
    r = await api.client.patch(api.url(clone["id"]), json={"name": "Ava"})
    assert r.json()["creator_id"] == str(owner.person.id)
    assert (await api.client.delete(api.url(clone["id"]))).status_code == 204
    assert await clone_of(owner, clone["id"]) == []
    (ended,) = await clone_of(owner, clone["id"], include_ended=True)
    assert ended["valid_to"] is not None


async def test_a_creator_must_be_a_member(clone_platform, owner, api, api_for) -> None:
    other = await clone_platform.tenant()
    stranger, _ = await clone_platform.person()
    details = []
    for who in (str(other.person.id), str(stranger.id), str(uuid.uuid4())):
        r = await api.client.post(api.base + "/clones", json={"name": "Ada", "creator_id": who})
        err = assert_problem(r, 422, "validation_failed")
        assert err["field"] == "creator_id"
        details.append(err["detail"].replace(who, "<id>"))
    # Another group's member reads as no one: nothing about them leaks.
    assert len(set(details)) == 1
    r = await api.client.post(api.base + "/clones", json={"name": "Ada", "creator_id": "x"})
    assert assert_problem(r, 422)["field"] == "creator_id"
    assert (await api.client.get(api.base + "/clones")).json()["items"] == []
    r = await owner.client.get(
        f"/api/v1/groups/{owner.group.id}/things", params={"type": "ai_clone"}
    )
    assert r.json()["items"] == []  # nothing half made
    # Nor can the generic connections API make or end a clone_of.
    clone = await api.clone("Ada")
    r = await owner.client.post(
        f"/api/v1/groups/{owner.group.id}/connections",
        json={"type": "clone_of", "from_id": clone["id"], "to_id": str(owner.person.id)},
    )
    assert_problem(r, 403)
    (link,) = await clone_of(owner, clone["id"])
    r = await owner.client.delete(f"/api/v1/groups/{owner.group.id}/connections/{link['id']}")
    assert_problem(r, 403)
    # The other group sees nothing of it.
    r = await other.client.get(
        f"/api/v1/groups/{other.group.id}/connections", params={"to_id": str(owner.person.id)}
    )
    assert r.json()["items"] == []


async def test_a_platform_owner_outside_the_group_makes_a_clone_without_creator(
    clone_platform, owner, api
) -> None:
    admin, token = await clone_platform.person(platform_role="platform_owner")
    client = clone_platform.authed(token)
    r = await client.post(api.base + "/clones", json={"name": "Ada"})
    assert r.status_code == 201, r.text
    clone = r.json()
    assert (clone["creator_id"], clone["training_version"]) == (None, 0)
    assert await clone_of(owner, clone["id"]) == []
    # Naming a member works for them as for anyone; naming themselves does not.
    r = await client.post(
        api.base + "/clones", json={"name": "Bea", "creator_id": str(owner.person.id)}
    )
    assert r.json()["creator_id"] == str(owner.person.id)
    r = await client.post(api.base + "/clones", json={"name": "Cy", "creator_id": str(admin.id)})
    assert assert_problem(r, 422)["field"] == "creator_id"


# -- the operator's allow-list of providers and models ---------------------------------------

ALLOW = {"openai_model": "m1", "allowed_models": {"openai": ["gpt-4o"]}}


@pytest.mark.clone_settings(plugin_settings={"clone": ALLOW})
async def test_a_hosted_provider_takes_only_the_models_the_operator_allows(api) -> None:
    clone = await api.clone("Ok", provider="openai", model="gpt-4o")
    for model in ("m1", ""):
        r = await api.client.patch(api.url(clone["id"]), json={"model": model})
        assert r.status_code == 200 and r.json()["model"] == model, r.text
    body = assert_problem(
        await api.client.post(
            api.base + "/clones", json={"name": "X", "provider": "openai", "model": "gpt-5-max"}
        ),
        422,
        "validation_failed",
    )
    assert body["field"] == "model" and body["allowed"] == ["m1", "gpt-4o"]
    assert "'gpt-5-max'" in body["detail"] and "gpt-4o" in body["detail"]
    # an update is checked on what the clone would use after it
    offline = await api.clone("Off", model="any-name-at-all")  # offline: free, any model
    body = assert_problem(
        await api.client.patch(api.url(offline["id"]), json={"provider": "openai"}), 422
    )
    assert body["field"] == "model"
    r = await api.client.patch(api.url(offline["id"]), json={"provider": "openai", "model": ""})
    assert r.status_code == 200, r.text
    listed = {p["name"]: p for p in (await api.client.get(api.base + "/providers")).json()}
    assert listed["openai"]["models"] == ["m1", "gpt-4o"] and listed["offline"]["models"] is None


async def test_by_default_a_hosted_provider_takes_only_its_default_model(api) -> None:
    body = assert_problem(
        await api.client.post(
            api.base + "/clones", json={"name": "X", "provider": "openai", "model": "o1-pro"}
        ),
        422,
    )
    assert body["field"] == "model" and body["allowed"] == ["gpt-4o-mini"]
    assert (await api.clone("Y", provider="openai", model="gpt-4o-mini"))["model"]


@pytest.mark.clone_settings(plugin_settings={"clone": {"allowed_providers": ["offline"]}})
async def test_a_provider_left_out_is_refused_and_not_offered(api) -> None:
    body = assert_problem(
        await api.client.post(api.base + "/clones", json={"name": "X", "provider": "openai"}),
        422,
    )
    assert body["field"] == "provider" and body["allowed"] == ["offline"]
    assert "not allowed" in body["detail"]
    clone = await api.clone("Ada")
    body = assert_problem(
        await api.client.patch(api.url(clone["id"]), json={"provider": "openai"}), 422
    )
    assert body["field"] == "provider"
    providers = (await api.client.get(api.base + "/providers")).json()
    assert providers == [{"name": "offline", "default": True, "models": None}]


async def test_the_default_provider_must_be_allowed(creator_platform_factory) -> None:
    with pytest.raises(Exception, match="not in allowed_providers"):
        await creator_platform_factory(
            plugins=["clone"],
            plugin_settings={"clone": {"allowed_providers": ["openai"]}},
        )

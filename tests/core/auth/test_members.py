"""Members, roles, invitations; a group always keeps an owner; every change is an event."""

import asyncio

import pytest

from sdk.testing import assert_problem

pytestmark = pytest.mark.creator_plugins()


async def _event_types(platform, tenant):
    return [e.type for e in (await platform.ontology(tenant).events.list()).items]


async def test_invite_accept_and_list(creator_platform):
    owner = await creator_platform.tenant()
    invitee, token = await creator_platform.person("guest@example.test")
    invited = await owner.client.post(
        owner.url("/invitations"), json={"email": "Guest@example.test", "role": "customer"}
    )
    assert invited.status_code == 201, invited.text
    secret = invited.json()["token"]
    assert secret.startswith("cpi_")
    pending = (await owner.client.get(owner.url("/invitations"))).json()
    assert [i["email"] for i in pending] == ["Guest@example.test"]
    assert "token" not in pending[0]  # shown once only

    client = creator_platform.authed(token)
    joined = await client.post("/api/v1/invitations/accept", json={"token": secret})
    assert joined.status_code == 201, joined.text
    assert joined.json()["role"] == "customer"
    again = await client.post("/api/v1/invitations/accept", json={"token": secret})
    assert again.status_code == 409
    members = (await owner.client.get(owner.url("/members"))).json()["items"]
    assert {m["email"]: m["role"] for m in members} == {
        owner.person.email: "org_owner",
        "guest@example.test": "customer",
    }
    assert (await owner.client.get(owner.url("/invitations"))).json() == []
    types = await _event_types(creator_platform, owner)
    assert "member_invited" in types and "member_joined" in types
    assert (await client.get(f"/api/v1/groups/{owner.group.id}")).status_code == 200
    assert invitee.id


async def test_an_invitation_is_for_its_email_only(creator_platform):
    owner = await creator_platform.tenant()
    invited = await owner.client.post(owner.url("/invitations"), json={"email": "a@example.test"})
    someone_else = await creator_platform.tenant()
    answer = await someone_else.client.post(
        "/api/v1/invitations/accept", json={"token": invited.json()["token"]}
    )
    assert answer.status_code == 403
    unknown = await someone_else.client.post(
        "/api/v1/invitations/accept", json={"token": "cpi_unknown"}
    )
    assert unknown.status_code == 404


async def test_roles_change_and_the_last_owner_stays(creator_platform):
    owner = await creator_platform.tenant()
    editor = await creator_platform.member(owner, "org_user")
    path = owner.url(f"/members/{editor.person.id}")
    promoted = await owner.client.patch(path, json={"role": "org_owner"})
    assert promoted.status_code == 200 and promoted.json()["role"] == "org_owner"
    bad = await owner.client.patch(path, json={"role": "emperor"})
    assert_problem(bad, 422, "validation_failed")
    # two owners now: the first may step down; then the second is the last and may not
    demote = await editor.client.patch(
        owner.url(f"/members/{owner.person.id}"), json={"role": "org_user"}
    )
    assert demote.status_code == 200
    last = await editor.client.patch(path, json={"role": "customer"})
    assert_problem(last, 409, "conflict")
    leave = await editor.client.delete(path)
    assert_problem(leave, 409, "conflict")
    assert "member_role_changed" in await _event_types(creator_platform, owner)


async def test_who_may_manage_members(creator_platform):
    owner = await creator_platform.tenant()
    editor = await creator_platform.member(owner, "org_user")
    customer = await creator_platform.member(owner, "customer")
    assert (await editor.client.get(owner.url("/members"))).status_code == 200
    assert (await customer.client.get(owner.url("/members"))).status_code == 403
    invite = {"email": "x@example.test"}
    assert (await editor.client.post(owner.url("/invitations"), json=invite)).status_code == 403
    assert (
        await editor.client.delete(owner.url(f"/members/{customer.person.id}"))
    ).status_code == 403
    # anyone may leave
    assert (
        await customer.client.delete(owner.url(f"/members/{customer.person.id}"))
    ).status_code == 204
    assert (await customer.client.get(owner.url())).status_code == 404
    assert "member_removed" in await _event_types(creator_platform, owner)


async def test_revoked_invitation_cannot_be_used(creator_platform):
    owner = await creator_platform.tenant()
    _, token = await creator_platform.person("late@example.test")
    created = (
        await owner.client.post(owner.url("/invitations"), json={"email": "late@example.test"})
    ).json()
    gone = await owner.client.delete(owner.url(f"/invitations/{created['invitation']['id']}"))
    assert gone.status_code == 204
    answer = await creator_platform.authed(token).post(
        "/api/v1/invitations/accept", json={"token": created["token"]}
    )
    assert answer.status_code == 404


async def test_an_invitation_is_used_once_under_concurrency(creator_platform):
    owner = await creator_platform.tenant()
    _, token = await creator_platform.person("race@example.test")
    secret = (
        await owner.client.post(owner.url("/invitations"), json={"email": "race@example.test"})
    ).json()["token"]
    client = creator_platform.authed(token)
    answers = await asyncio.gather(
        *(client.post("/api/v1/invitations/accept", json={"token": secret}) for _ in range(5))
    )
    assert sorted(a.status_code for a in answers) == [201, 409, 409, 409, 409]
    joined = [
        e for e in (await creator_platform.ontology(owner).events.list(type="member_joined")).items
    ]
    assert len(joined) == 1


async def test_an_invitation_never_changes_a_members_role(creator_platform):
    owner = await creator_platform.tenant()
    secret = (
        await owner.client.post(
            owner.url("/invitations"), json={"email": owner.person.email, "role": "customer"}
        )
    ).json()["token"]
    answer = await owner.client.post("/api/v1/invitations/accept", json={"token": secret})
    assert answer.status_code == 409
    members = (await owner.client.get(owner.url("/members"))).json()["items"]
    assert [m["role"] for m in members] == ["org_owner"]

"""The helpers ``sdk.testing`` gives every plugin's tests: signed-in clients for a role,
the problem+json assertion and waiting for what completes in the background."""

from __future__ import annotations

import httpx
import pytest

from sdk.testing import CreatorPlatform, assert_problem, wait_until

pytestmark = pytest.mark.creator_plugins()


async def test_client_as_a_role_in_a_group(creator_platform: CreatorPlatform) -> None:
    owner = await creator_platform.client_as("org_owner")
    assert owner.role == "org_owner" and owner.csrf_token is None
    user = await creator_platform.client_as("org_user", group=owner)
    customer = await creator_platform.client_as("customer", group=owner.group)
    assert user.group.id == customer.group.id == owner.group.id
    assert len({owner.person.id, user.person.id, customer.person.id}) == 3

    members = (await owner.client.get(owner.url("/members"))).json()["items"]
    assert {m["email"]: m["role"] for m in members} == {
        owner.person.email: "org_owner",
        user.person.email: "org_user",
        customer.person.email: "customer",
    }
    # The roles are real: only the owner manages members.
    assert (await customer.client.get(customer.url())).status_code == 200
    invite = {"email": "guest@example.test", "role": "customer"}
    assert_problem(await user.client.post(user.url("/invitations"), json=invite), 403)

    # No group: a new one, owned by someone else.
    alone = await creator_platform.client_as("customer")
    assert alone.group.id != owner.group.id
    assert (await alone.client.get(owner.url())).status_code == 404

    with pytest.raises(ValueError, match="org_user"):
        await creator_platform.client_as("editor")


async def test_a_session_client_reads_pages_and_writes_with_its_csrf_token(
    creator_platform: CreatorPlatform,
) -> None:
    user = await creator_platform.client_as("org_user", session=True)
    assert "authorization" not in user.client.headers
    session = (await user.client.get("/api/v1/auth/session")).json()
    assert session["person"]["id"] == str(user.person.id)
    assert session["csrf_token"] == user.csrf_token
    made = await user.client.post("/api/v1/groups", json={"name": "Mine", "slug": "mine-1"})
    assert made.status_code == 201, made.text

    user.client.headers.pop("x-csrf-token")
    refused = await user.client.post("/api/v1/groups", json={"name": "Two", "slug": "two-1"})
    assert_problem(refused, 403, "csrf_failed")


async def test_assert_problem_checks_the_body_and_returns_it(
    creator_platform: CreatorPlatform,
) -> None:
    owner = await creator_platform.tenant()
    taken = await owner.client.post("/api/v1/groups", json={"name": "x", "slug": owner.group.slug})
    body = assert_problem(taken, 409, "conflict")
    assert body["status"] == 409 and body["detail"]
    bad = await owner.client.post("/api/v1/groups", json={"name": "x", "slug": "Not A Slug"})
    assert assert_problem(bad, 422, "validation_failed", field="slug")["field"] == "slug"

    for wrong in ({"status": 404}, {"code": "not_found"}, {"field": "name"}):
        with pytest.raises(AssertionError):
            assert_problem(bad, **wrong)
    with pytest.raises(AssertionError):
        assert_problem(await owner.client.get(owner.url()))  # a 200, not a problem


def _response(status: int, body: object, content_type: str) -> httpx.Response:
    request = httpx.Request("GET", "http://testserver.local/x")
    return httpx.Response(
        status, json=body, headers={"content-type": content_type}, request=request
    )


def test_assert_problem_refuses_a_malformed_problem_and_unasked_server_errors() -> None:
    good = {
        "type": "https://creator-platform.dev/problems/llm-unavailable",
        "title": "Model unavailable",
        "status": 502,
        "code": "llm_unavailable",
    }
    problem_type = "application/problem+json"
    assert assert_problem(_response(502, good, problem_type), 502, "llm_unavailable") == good
    with pytest.raises(AssertionError):
        assert_problem(_response(502, good, problem_type))  # a 5xx nobody asked for
    with pytest.raises(AssertionError):
        assert_problem(_response(502, good, "application/json"), 502)
    for broken in (
        {**good, "status": 400},
        {**good, "code": ""},
        {**good, "type": "about:blank"},
        {key: value for key, value in good.items() if key != "title"},
    ):
        with pytest.raises(AssertionError):
            assert_problem(_response(502, broken, problem_type), 502)


async def test_wait_until_returns_the_first_truthy_value() -> None:
    calls: list[int] = []

    def third_time() -> int:
        calls.append(1)
        return len(calls) if len(calls) >= 3 else 0

    assert await wait_until(third_time, interval=0) == 3

    async def asserting() -> str:
        calls.append(1)
        assert len(calls) > 5, "not yet"
        return "done"

    assert await wait_until(asserting, interval=0) == "done"


async def test_wait_until_fails_naming_what_it_waited_for() -> None:
    with pytest.raises(AssertionError, match=r"waited 0.05 s for the job; last value: \[\]"):
        await wait_until(list, within=0.05, message="the job")

    def never() -> None:
        raise AssertionError("status is 'queued'")

    with pytest.raises(AssertionError, match="never; last assertion: status is 'queued'"):
        await wait_until(never, within=0.05)

"""Sign-up, log-in, sessions by cookie with CSRF, log-in rate limits, log-out."""

import asyncpg
import pytest

from sdk.testing import assert_problem

pytestmark = pytest.mark.creator_plugins()

PASSWORD = "correct horse battery"


async def _sign_up(client, email="ada@example.test", password=PASSWORD):
    return await client.post(
        "/api/v1/auth/signup", json={"email": email, "password": password, "name": "Ada"}
    )


async def test_sign_up_sets_a_session_cookie_and_stores_only_a_hash(creator_platform):
    client = creator_platform.client
    response = await _sign_up(client)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["person"]["email"] == "ada@example.test" and body["csrf_token"]
    cookie = response.headers["set-cookie"]
    assert "creator_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    me = await client.get("/api/v1/me")
    assert me.status_code == 200 and me.json()["email"] == "ada@example.test"

    conn = await asyncpg.connect(creator_platform.settings.database_url)
    stored = await conn.fetchval(
        "SELECT password_hash FROM people WHERE email = 'ada@example.test'"
    )
    await conn.close()
    assert stored.startswith("$argon2id$") and PASSWORD not in stored


async def test_cookie_writes_need_the_csrf_token(creator_platform):
    client = creator_platform.client
    csrf = (await _sign_up(client)).json()["csrf_token"]
    group = {"slug": "studio", "name": "Studio"}
    refused = await client.post("/api/v1/groups", json=group)
    assert refused.status_code == 403 and refused.json()["code"] == "csrf_failed"
    wrong = await client.post("/api/v1/groups", json=group, headers={"X-CSRF-Token": "nope"})
    assert wrong.status_code == 403
    created = await client.post("/api/v1/groups", json=group, headers={"X-CSRF-Token": csrf})
    assert created.status_code == 201, created.text
    group_id = created.json()["id"]
    # reads need no token, and the session resolves roles like a bearer token does
    listed = await client.get(f"/api/v1/groups/{group_id}/things")
    assert listed.status_code == 200
    session = await client.get("/api/v1/auth/session")
    assert session.json()["csrf_token"] == csrf


async def test_bad_sign_ups_are_refused_with_the_field(creator_platform):
    client = creator_platform.client
    short = await _sign_up(client, password="short")
    assert_problem(short, 422, "validation_failed")
    assert short.json()["field"] == "password"
    bad_email = await _sign_up(client, email="not-an-email")
    assert bad_email.json()["field"] == "email"
    assert (await _sign_up(client)).status_code == 201
    duplicate = await _sign_up(creator_platform.authed("none"), email="ADA@example.test")
    assert_problem(duplicate, 409, "conflict")


async def test_log_in_log_out(creator_platform):
    await _sign_up(creator_platform.client)
    client = creator_platform.authed("unused")
    client.headers.pop("Authorization")
    wrong = await client.post(
        "/api/v1/auth/login", json={"email": "ada@example.test", "password": "wrong password!"}
    )
    unknown = await client.post(
        "/api/v1/auth/login", json={"email": "eve@example.test", "password": "wrong password!"}
    )
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json()["detail"] == unknown.json()["detail"]  # no account enumeration
    ok = await client.post(
        "/api/v1/auth/login", json={"email": "ADA@example.test", "password": PASSWORD}
    )
    assert ok.status_code == 200, ok.text
    csrf = ok.json()["csrf_token"]
    assert (await client.get("/api/v1/me")).status_code == 200
    assert (await client.post("/api/v1/auth/logout")).status_code == 403  # CSRF needed
    out = await client.post("/api/v1/auth/logout", headers={"X-CSRF-Token": csrf})
    assert out.status_code == 204
    assert (await client.get("/api/v1/me")).status_code == 401


async def test_a_logged_out_cookie_is_dead_even_if_replayed(creator_platform):
    response = await _sign_up(creator_platform.client)
    cookie = response.cookies["creator_session"]
    csrf = response.json()["csrf_token"]
    await creator_platform.client.post("/api/v1/auth/logout", headers={"X-CSRF-Token": csrf})
    replay = creator_platform.authed("x")
    replay.headers.pop("Authorization")
    replay.cookies.set("creator_session", cookie)
    assert (await replay.get("/api/v1/me")).status_code == 401


async def test_tampered_cookie_is_refused(creator_platform):
    response = await _sign_up(creator_platform.client)
    cookie = response.cookies["creator_session"]
    forged = creator_platform.authed("x")
    forged.headers.pop("Authorization")
    forged.cookies.set("creator_session", cookie[:-2] + ("AA" if cookie[-2:] != "AA" else "BB"))
    answer = await forged.get("/api/v1/me")
    assert answer.status_code == 401 and "WWW-Authenticate" in answer.headers


async def test_log_in_attempts_are_limited_per_account(creator_platform):
    await _sign_up(creator_platform.client)
    client = creator_platform.client
    answers = []
    for _ in range(11):
        answers.append(
            await client.post(
                "/api/v1/auth/login",
                json={"email": "ada@example.test", "password": "wrong password!"},
            )
        )
    assert [a.status_code for a in answers[:10]] == [401] * 10
    assert_problem(answers[10], 429, "rate_limited")
    assert answers[10].json()["retry_after"] > 0
    # even the right password waits out the window: guessing cannot be spread thin
    blocked = await client.post(
        "/api/v1/auth/login", json={"email": "ada@example.test", "password": PASSWORD}
    )
    assert blocked.status_code == 429


async def test_bearer_tokens_and_sessions_are_independent(creator_platform, creator_tenant):
    # a request with a bad bearer token is refused even if it also carries a good cookie
    await _sign_up(creator_platform.client)
    creator_platform.client.headers["Authorization"] = "Bearer cp_not-a-token"
    assert (await creator_platform.client.get("/api/v1/me")).status_code == 401
    creator_platform.client.headers.pop("Authorization")
    assert (await creator_tenant.client.get("/api/v1/me")).json()["id"] == str(
        creator_tenant.person.id
    )


async def test_a_cross_site_form_cannot_log_anyone_in(creator_platform):
    await _sign_up(creator_platform.client)
    body = '{"email": "ada@example.test", "password": "' + PASSWORD + '"}'
    for path in ("/api/v1/auth/login", "/api/v1/auth/signup"):
        forged = await creator_platform.client.post(
            path, content=body, headers={"Content-Type": "text/plain"}
        )
        assert forged.status_code == 415, forged.text
        assert "set-cookie" not in forged.headers


async def test_a_non_ascii_csrf_header_is_refused_not_a_crash(creator_platform):
    await _sign_up(creator_platform.client)
    answer = await creator_platform.client.post(
        "/api/v1/groups", json={"slug": "x", "name": "x"}, headers={"X-CSRF-Token": "é".encode()}
    )
    assert answer.status_code == 403

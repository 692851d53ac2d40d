"""Sign-up, log-in, sessions by cookie with CSRF, log-in rate limits, log-out."""

import functools
import time

import asyncpg
import httpx
import pytest

from core.auth.ratelimit import AttemptLimiter, Backoff, Limit
from core.errors import RateLimited
from core.limits import RateLimiter
from sdk.testing import BASE_URL, assert_problem, wait_until

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


async def test_sign_up_does_not_tell_whether_an_email_is_registered(creator_platform):
    first = await _sign_up(creator_platform.client)
    fresh_client, taken_client = _from(creator_platform, "::1"), _from(creator_platform, "::2")
    fresh_times, taken_times = [], []
    for n in range(2):
        started = time.perf_counter()
        fresh = await _sign_up(fresh_client, email=f"new{n}@example.test", password="another one!")
        fresh_times.append(time.perf_counter() - started)
        started = time.perf_counter()
        taken = await _sign_up(taken_client, email="ADA@example.test", password="another one!")
        taken_times.append(time.perf_counter() - started)
        # the same status, headers, body shape and cookie shape
        assert fresh.status_code == taken.status_code == 201, taken.text
        assert sorted(fresh.headers) == sorted(taken.headers)
        assert _shape(fresh.json()) == _shape(taken.json())
        assert taken.json()["person"]["email"] == "ADA@example.test"
        assert taken.json()["person"]["id"] != first.json()["person"]["id"]
        fresh_cookie, taken_cookie = (r.headers["set-cookie"].split(";", 1) for r in (fresh, taken))
        assert fresh_cookie[1] == taken_cookie[1]
        assert len(fresh_cookie[0]) == len(taken_cookie[0])
    # the same work (an Argon2 hash) on both paths, so timing does not tell either
    assert min(taken_times) > 0.5 * min(fresh_times)
    # but the session given for a taken email is no session, and the account is untouched
    assert (await fresh_client.get("/api/v1/me")).status_code == 200
    assert_problem(await taken_client.get("/api/v1/me"), 401, "unauthorized")
    assert (await _log_in(creator_platform.client, "another one!")).status_code == 401
    assert (await _log_in(creator_platform.client, PASSWORD)).status_code == 200
    conn = await asyncpg.connect(creator_platform.settings.database_url)
    people = await conn.fetchval(
        "SELECT count(*) FROM people WHERE lower(email) = 'ada@example.test'"
    )
    await conn.close()
    assert people == 1


def _shape(value):
    """The JSON's structure: keys and value types, not the values."""
    if isinstance(value, dict):
        return {key: _shape(item) for key, item in value.items()}
    return type(value).__name__


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


def _from(creator_platform, address):
    """A client whose requests come from ``address`` (what per-address limits count)."""
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=creator_platform.app, client=(address, 40000)),
        base_url=BASE_URL,
    )
    creator_platform._clients.append(client)
    return client


async def _log_in(client, password, email="ada@example.test"):
    return await client.post("/api/v1/auth/login", json={"email": email, "password": password})


async def test_failed_log_ins_slow_the_account_down_without_locking_its_owner_out(
    creator_platform,
):
    accounts = creator_platform.platform.accounts
    accounts.login_delay = Backoff(
        "log_in",
        free_attempts=3,
        first_delay_seconds=1.5,
        max_delay_seconds=1.5,
        forget_after_seconds=60,
    )
    await _sign_up(creator_platform.client)
    attacker = [_from(creator_platform, f"203.0.113.{n}") for n in range(1, 30)]
    # three free guesses, each from its own address
    for client in attacker[:3]:
        assert (await _log_in(client, "wrong password!")).status_code == 401
    # then a wait, met from any address, and the password is not even looked at
    for client in (attacker[3], attacker[4], creator_platform.client):
        refused = await _log_in(client, PASSWORD)
        assert_problem(refused, 429, "rate_limited")
        assert int(refused.headers["retry-after"]) >= 1 and refused.json()["retry_after"] >= 1
    # after the wait one more guess, then a wait again
    await wait_until(lambda: _no_wait(accounts), within=5, message="the account's wait is over")
    assert (await _log_in(attacker[5], "wrong password!")).status_code == 401
    # refused attempts do not stretch the wait: hammering cannot keep the owner out
    for client in attacker[6:16]:
        assert (await _log_in(client, "wrong password!")).status_code == 429
    assert await accounts.limiter.waiting(accounts.login_delay, "ada@example.test") <= 1.5
    # once the wait is over the owner's right password logs in, and clears the count
    await wait_until(lambda: _no_wait(accounts), within=5, message="the account's wait is over")
    owner = _from(creator_platform, "198.51.100.7")
    assert (await _log_in(owner, PASSWORD)).status_code == 200
    assert (await _log_in(owner, "wrong password!")).status_code == 401
    assert (await _log_in(owner, PASSWORD)).status_code == 200


async def test_a_known_device_logs_in_while_a_guesser_takes_every_turn(creator_platform):
    """The review's case: a guesser who fires the moment each wait ends takes every turn
    the account gets. The owner's browser, known from an earlier log-in by its device
    cookie, waits on a line of its own and gets in."""
    accounts = creator_platform.platform.accounts
    accounts.login_delay = Backoff(
        "log_in",
        free_attempts=1,
        first_delay_seconds=60,
        max_delay_seconds=60,
        forget_after_seconds=600,
    )
    await _sign_up(creator_platform.client)
    owner = _from(creator_platform, "198.51.100.7")
    first = await _log_in(owner, PASSWORD)
    assert first.status_code == 200
    device = owner.cookies.get("creator_device")
    assert device and "ada@example.test" not in device
    set_cookie = next(h for h in first.headers.get_list("set-cookie") if "creator_device" in h)
    assert "Path=/api/v1/auth/login" in set_cookie and "HttpOnly" in set_cookie
    guesser = _from(creator_platform, "203.0.113.5")
    assert (await _log_in(guesser, "wrong password!")).status_code == 401
    assert_problem(await _log_in(guesser, "wrong password!"), 429, "rate_limited")
    # without the cookie the owner waits like anyone
    stranger_browser = _from(creator_platform, "198.51.100.7")
    assert_problem(await _log_in(stranger_browser, PASSWORD), 429, "rate_limited")
    # with it the owner gets in, and the guesser's line is unchanged
    assert (await _log_in(owner, PASSWORD)).status_code == 200
    assert_problem(await _log_in(guesser, PASSWORD), 429, "rate_limited")
    devices = creator_platform.platform.devices
    renewed = owner.cookies.get("creator_device")
    assert devices.known(renewed, "ada@example.test") == devices.known(device, "ada@example.test")
    # a stolen device cookie is one slow line too: its failures slow that device only
    accounts.device_delay = Backoff(
        "log_in_device",
        free_attempts=1,
        first_delay_seconds=60,
        max_delay_seconds=60,
        forget_after_seconds=600,
    )
    thief = _from(creator_platform, "203.0.113.6")
    thief.cookies.set(
        "creator_device", owner.cookies.get("creator_device"), path="/api/v1/auth/login"
    )
    assert (await _log_in(thief, "wrong password!")).status_code == 401
    assert_problem(await _log_in(thief, "wrong password!"), 429, "rate_limited")
    # a device cookie of another account, or a forged one, counts for nothing
    assert devices.known(devices.issue("ada@example.test"), "bob@example.test") is None
    assert devices.known(device + "x", "ada@example.test") is None
    assert devices.known(device, " ADA@example.test ") is not None


async def _no_wait(accounts):
    return await accounts.limiter.waiting(accounts.login_delay, "ada@example.test") == 0


async def test_the_wait_doubles_up_to_its_cap_and_processes_agree(creator_platform):
    backoff = Backoff(
        "test",
        free_attempts=2,
        first_delay_seconds=0.2,
        max_delay_seconds=0.7,
        forget_after_seconds=60,
    )
    # two limiters on one Redis stand for two processes of a deployment
    first = creator_platform.platform.accounts.limiter
    second = AttemptLimiter(RateLimiter(creator_platform.platform.redis))
    await first.take_turn(backoff, "subject")
    await second.take_turn(backoff, "subject")
    waits = []
    for limiter in (first, second, first, second):
        waits.append(await limiter.waiting(backoff, "subject"))
        with pytest.raises(RateLimited):
            await (second if limiter is first else first).take_turn(backoff, "subject")
        await wait_until(functools.partial(_over, limiter, backoff), within=5, message="wait over")
        await limiter.take_turn(backoff, "subject")
    assert 0.1 < waits[0] <= 0.2 and 0.3 < waits[1] <= 0.4 and 0.6 < waits[2] <= 0.7
    assert 0.6 < waits[3] <= 0.7  # capped
    await first.forgive(backoff, "subject")
    assert await second.waiting(backoff, "subject") == 0
    await second.take_turn(backoff, "subject")  # free again


async def _over(limiter, backoff):
    return await limiter.waiting(backoff, "subject") == 0


async def test_an_unknown_email_is_slowed_down_like_an_account(creator_platform):
    accounts = creator_platform.platform.accounts
    accounts.login_delay = Backoff(
        "log_in",
        free_attempts=2,
        first_delay_seconds=30,
        max_delay_seconds=60,
        forget_after_seconds=60,
    )
    await _sign_up(creator_platform.client)
    answers = {}
    for email in ("ada@example.test", "nobody@example.test"):
        for n in range(3):
            answers[email, n] = await _log_in(creator_platform.client, "wrong password!", email)
    for email in ("ada@example.test", "nobody@example.test"):
        assert [answers[email, n].status_code for n in range(3)] == [401, 401, 429]
    assert answers["ada@example.test", 2].json() == answers["nobody@example.test", 2].json()


async def test_one_address_trying_many_accounts_is_locked_out(creator_platform):
    accounts = creator_platform.platform.accounts
    accounts.login_per_address = Limit("login_address", attempts=4, window_seconds=900)
    await _sign_up(creator_platform.client)
    guesser = _from(creator_platform, "203.0.113.99")
    for n in range(4):
        answer = await _log_in(guesser, "wrong password!", f"person{n}@example.test")
        assert answer.status_code == 401
    locked = await _log_in(guesser, PASSWORD)  # even the right password of another account
    assert_problem(locked, 429, "rate_limited")
    # other addresses are not affected
    assert (await _log_in(_from(creator_platform, "198.51.100.7"), PASSWORD)).status_code == 200


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

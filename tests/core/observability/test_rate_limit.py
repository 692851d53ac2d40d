"""API rate limiting: per verified person, else per address, counted in Redis."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import socket
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from litestar import get

from core.throttle import STORE_NAME, PlatformRedisStore
from sdk import NO_API_RATE_LIMIT, hookimpl
from sdk.testing import PlatformFactory, assert_problem, wait_until


async def test_over_the_limit_is_a_429_with_retry_after(
    creator_platform_factory: PlatformFactory,
) -> None:
    harness = await creator_platform_factory(plugins=[], rate_limit_per_minute=3)
    alice = await harness.tenant()
    for n in range(3):
        response = await alice.client.get("/api/v1/me")
        assert response.status_code == 200
        assert response.headers["ratelimit-limit"] == "3"
        assert response.headers["ratelimit-remaining"] == str(2 - n)
    response = await alice.client.get("/api/v1/me", headers={"X-Request-ID": "limited"})
    body = assert_problem(response, 429, "rate_limited")
    assert "3 requests per minute" in body["detail"]
    assert 1 <= int(response.headers["retry-after"]) <= 60
    assert response.headers["ratelimit-remaining"] == "0"
    assert response.headers["x-request-id"] == "limited"
    # another token is another client
    bob = await harness.tenant()
    assert (await bob.client.get("/api/v1/me")).status_code == 200
    # the counts live in Redis, under the person (never the token)
    store = harness.app.stores.get(STORE_NAME)
    assert isinstance(store, PlatformRedisStore)
    keys = [k.decode() for k in await harness.platform.redis.keys("*")]
    assert any("person:" in k for k in keys), keys
    assert not any(alice.token in k for k in keys)


async def test_anonymous_clients_are_limited_by_address_and_probes_never(
    creator_platform_factory: PlatformFactory,
) -> None:
    harness = await creator_platform_factory(plugins=[], rate_limit_per_minute=2)
    client = harness.client
    for path in ("/health", "/ready", "/metrics", "/schema/openapi.json") * 3:
        assert (await client.get(path)).status_code == 200, path
    assert (await client.get("/api/v1/me")).status_code == 401
    assert (await client.get("/api/v1/types")).status_code in (200, 401)
    assert (await client.get("/api/v1/me")).status_code == 429
    # an authenticated client from the same address has its own allowance
    _, token = await harness.person()
    assert (await harness.authed(token).get("/api/v1/me")).status_code == 200


async def test_zero_turns_rate_limiting_off(creator_platform_factory: PlatformFactory) -> None:
    harness = await creator_platform_factory(plugins=[], rate_limit_per_minute=0)
    tenant = await harness.tenant()
    for _ in range(5):
        response = await tenant.client.get("/api/v1/me")
        assert response.status_code == 200
        assert "ratelimit-limit" not in response.headers


async def test_processes_share_the_limit_through_redis(
    creator_platform_factory: PlatformFactory,
) -> None:
    """Two stores stand for two processes: leases of the window's count in Redis keep the
    pair under the limit, and unused leases cost at most a batch per process."""
    harness = await creator_platform_factory(plugins=[], rate_limit_per_minute=0)
    one, two = PlatformRedisStore(harness.platform), PlatformRedisStore(harness.platform)
    limit, batch = 100, 5
    allowed = 0
    for n in range(300):
        ok, remaining, reset = await (one if n % 3 else two).take("client", limit, 60)
        allowed += ok
        assert 0 <= remaining < limit and 1 <= reset <= 60
    assert limit - 2 * batch <= allowed <= limit
    # another client, and a limit of one: exact
    assert (await one.take("other", 1, 60))[:2] == (True, 0)
    assert (await two.take("other", 1, 60))[0] is False
    assert (await one.take("other", 1, 60))[0] is False


class PublicContent:
    """A plugin route for the public, exempt from the API's per-client budget."""

    @hookimpl
    def register_routes(self) -> list[Any]:
        @get("/public-content", opt=NO_API_RATE_LIMIT, sync_to_thread=False)
        def public_content() -> str:
            return "hello"

        return [public_content]


async def test_routes_can_be_exempt_from_the_limit(
    creator_platform_factory: PlatformFactory,
) -> None:
    harness = await creator_platform_factory(
        plugins=[], extra_plugins={"public": PublicContent()}, rate_limit_per_minute=2
    )
    for _ in range(5):
        response = await harness.client.get("/public-content")
        assert response.status_code == 200 and "ratelimit-limit" not in response.headers
    assert (await harness.client.get("/api/v1/me")).status_code == 401
    assert (await harness.client.get("/api/v1/me")).status_code == 401
    assert (await harness.client.get("/api/v1/me")).status_code == 429


@contextlib.asynccontextmanager
async def served(harness: Any) -> AsyncIterator[str]:
    """``harness``'s app over real HTTP by uvicorn, with the options ``creator serve``
    uses (its lifespan already runs)."""
    import uvicorn

    from core.cli import server_options

    options = {**server_options(harness.platform.settings), "lifespan": "off"}
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(harness.app, **options))
    task = asyncio.ensure_future(server.serve(sockets=[sock]))
    try:
        await wait_until(lambda: server.started or task.done(), message="the server")
        assert not task.done(), task.result()
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        await task
        sock.close()


@pytest.mark.parametrize(
    ("trusted", "separate"), [(None, True), (["127.0.0.1"], True), (["192.0.2.0/24"], False)]
)
async def test_behind_a_trusted_proxy_each_visitor_has_their_own_allowance(
    creator_platform_factory: PlatformFactory, trusted: list[str] | None, separate: bool
) -> None:
    """Behind a proxy every visitor arrives from the proxy's address: only when that
    address is in ``forwarded_allow_ips`` do the visitors' own (``X-Forwarded-For``)
    addresses count apart (unset: uvicorn's default, the loopback addresses); a client not
    in it cannot pick an address by that header."""
    harness = await creator_platform_factory(
        plugins=[], rate_limit_per_minute=2, forwarded_allow_ips=trusted
    )
    async with served(harness) as url, httpx.AsyncClient(base_url=url) as client:
        first = {"X-Forwarded-For": "203.0.113.10"}
        for _ in range(2):
            assert (await client.get("/api/v1/me", headers=first)).status_code == 401
        assert (await client.get("/api/v1/me", headers=first)).status_code == 429
        second = await client.get("/api/v1/me", headers={"X-Forwarded-For": "203.0.113.11"})
        assert second.status_code == (401 if separate else 429)


async def test_made_up_bearer_tokens_count_against_the_address(
    creator_platform_factory: PlatformFactory,
) -> None:
    """A fresh random ``Bearer`` value per request is not a fresh client: credentials that
    do not verify count against the address, like no credentials at all."""
    harness = await creator_platform_factory(plugins=[], rate_limit_per_minute=5)
    statuses = []
    for _ in range(8):
        bearer = {"Authorization": f"Bearer cp_{secrets.token_urlsafe(32)}"}
        statuses.append((await harness.client.get("/api/v1/me", headers=bearer)).status_code)
    assert statuses == [401] * 5 + [429] * 3
    # they spent the address's budget, anonymous requests included
    assert (await harness.client.get("/api/v1/me")).status_code == 429
    # a forged session cookie is no better
    forged = {"Cookie": "creator_session=forged.signature"}
    assert (await harness.client.get("/api/v1/me", headers=forged)).status_code == 429
    # a person with a real token still has their own budget
    _, token = await harness.person()
    assert (await harness.authed(token).get("/api/v1/me")).status_code == 200


async def test_people_behind_one_address_each_have_their_own_budget(
    creator_platform_factory: PlatformFactory,
) -> None:
    """Two people on one address (an office) count apart; one person's tokens and browser
    session count together (a person cannot multiply their budget by making tokens)."""
    harness = await creator_platform_factory(plugins=[], rate_limit_per_minute=3)
    alice = await harness.tenant()
    _, second_token = await harness.platform.directory.issue_token(alice.person.id, "second")
    bob = await harness.tenant(session=True)
    for client in (alice.client, harness.authed(second_token), alice.client):
        assert (await client.get("/api/v1/me")).status_code == 200
    assert (await harness.authed(second_token).get("/api/v1/me")).status_code == 429
    for _ in range(3):
        assert (await bob.client.get("/api/v1/me")).status_code == 200
    assert (await bob.client.get("/api/v1/me")).status_code == 429
    # the address itself has not been charged
    assert (await harness.client.get("/api/v1/me")).status_code == 401


@pytest.mark.parametrize(
    ("trusted", "separate"), [(["127.0.0.1"], True), (["192.0.2.0/24"], False)]
)
async def test_made_up_tokens_behind_a_proxy_count_against_the_forwarded_address(
    creator_platform_factory: PlatformFactory, trusted: list[str], separate: bool
) -> None:
    """Made-up bearer values count against the visitor's own address when the proxy is
    trusted, against the proxy's when not; a real person has their own budget either way."""
    harness = await creator_platform_factory(
        plugins=[], rate_limit_per_minute=2, forwarded_allow_ips=trusted
    )
    _, token = await harness.person()

    def made_up(address: str) -> dict[str, str]:
        bearer = f"Bearer cp_{secrets.token_urlsafe(32)}"
        return {"X-Forwarded-For": address, "Authorization": bearer}

    async with served(harness) as url, httpx.AsyncClient(base_url=url) as client:
        for _ in range(2):
            assert (
                await client.get("/api/v1/me", headers=made_up("203.0.113.10"))
            ).status_code == 401
        assert (await client.get("/api/v1/me", headers=made_up("203.0.113.10"))).status_code == 429
        other = await client.get("/api/v1/me", headers=made_up("203.0.113.11"))
        assert other.status_code == (401 if separate else 429)
        real = {"X-Forwarded-For": "203.0.113.10", "Authorization": f"Bearer {token}"}
        assert (await client.get("/api/v1/me", headers=real)).status_code == 200

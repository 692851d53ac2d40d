"""Which hosts answer what (``core.hosts``): the admin UI and the API on the platform's
host only, tenant content on ``public_sites_origin`` when it is set, and a session
cookie that never travels to a tenant host."""

from __future__ import annotations

import pytest
import pytest_asyncio

from core.hosts import HostKind, Hosts
from core.settings import SettingsError, load_settings
from sdk.testing import BASE_URL, CreatorPlatform, PlatformFactory, assert_problem

SITES = "https://sites.example.test"


@pytest_asyncio.fixture
async def core_platform(creator_platform_factory: PlatformFactory) -> CreatorPlatform:
    return await creator_platform_factory(plugins=[])


def test_public_sites_origin_is_an_origin_on_another_host() -> None:
    settings = load_settings(environ={}, public_url=BASE_URL, public_sites_origin=SITES + "/")
    assert settings.public_sites_origin == SITES
    mixed = load_settings(environ={}, public_sites_origin="HTTPS://Sites.Example.TEST:8443")
    assert mixed.public_sites_origin == "https://sites.example.test:8443"
    assert load_settings(environ={}).public_sites_origin is None
    for bad, why in [
        ("sites.example.test", "http"),
        ("ftp://sites.example.test", "http"),
        ("https://sites.example.test/sites", "origin only"),
        ("https://sites.example.test/?a=1", "origin only"),
        ("https://user:pw@sites.example.test", "credentials"),
        ("https://10.0.0.5", "domain name"),
        ("https://sites", "domain name"),
        ("https://testserver.local:9000", "another host"),  # a port is not another origin
    ]:
        with pytest.raises(SettingsError, match=f"public-sites-origin.*{why}"):
            load_settings(environ={}, public_url=BASE_URL, public_sites_origin=bad)
    with pytest.raises(SettingsError, match="CREATOR_PUBLIC_SITES_ORIGIN"):
        load_settings(environ={"CREATOR_PUBLIC_SITES_ORIGIN": "nowhere"})


def test_hosts_tell_the_platform_from_tenants() -> None:
    hosts = Hosts(load_settings(environ={}, public_url=BASE_URL, public_sites_origin=SITES))
    assert hosts.kind("testserver.local") is HostKind.PLATFORM
    for own in ("localhost", "127.0.0.1", "[::1]", "10.1.2.3", "intranet"):
        assert hosts.kind(own) is HostKind.PLATFORM, own
    assert hosts.kind("sites.example.test") is HostKind.SITES
    assert hosts.kind("www.brand.example") is HostKind.TENANT
    assert hosts.sites_url == SITES
    assert "sites.example.test" in hosts.own_names()
    unset = Hosts(load_settings(environ={}, public_url=BASE_URL))
    assert unset.sites_url == BASE_URL and unset.sites_origin is None
    assert unset.kind("sites.example.test") is HostKind.TENANT


async def test_the_api_is_not_answered_on_a_tenant_host(core_platform) -> None:
    """Reproduced first: a custom domain's ``Host`` got the API (and the admin UI) as
    the platform's own address does."""
    creator_tenant = await core_platform.tenant()
    client = creator_tenant.client
    assert (await client.get("/api/v1/me")).status_code == 200
    for host in ("www.brand.example", "WWW.Brand.Example.:443"):
        for path in ("/api/v1/me", creator_tenant.url(), "/schema/openapi.json", "/account/login"):
            response = await client.get(path, headers={"Host": host})
            assert_problem(response, 404, "not_on_this_host")
        response = await client.post("/api/v1/groups", json={"name": "x"}, headers={"Host": host})
        assert_problem(response, 404, "not_on_this_host")


async def test_probes_and_static_files_answer_on_every_host(core_platform) -> None:
    """A load balancer may probe with any ``Host``; the platform's scripts and styles are
    what widgets on tenant pages load. ``/metrics`` is the operator's: not there."""
    client = core_platform.client
    host = {"Host": "www.brand.example"}
    assert (await client.get("/health", headers=host)).status_code == 200
    assert (await client.get("/ready", headers=host)).status_code == 200
    assert (await client.get("/static/core/ui.css", headers=host)).status_code == 200
    assert_problem(await client.get("/metrics", headers=host), 404, "not_on_this_host")


async def test_the_session_cookie_stays_on_the_platforms_host(creator_platform_factory) -> None:
    """The cookie is host-only (no ``Domain``), so a browser sends it to the platform's
    host and never to ``public_sites_origin``'s."""
    harness = await creator_platform_factory(plugins=[], public_sites_origin=SITES)
    client = harness.client
    credentials = {"email": "ada@example.test", "password": "a long enough password", "name": "A"}
    response = await client.post("/api/v1/auth/signup", json=credentials)
    assert response.status_code == 201, response.text
    set_cookie = response.headers["set-cookie"].lower()
    assert "domain=" not in set_cookie and "httponly" in set_cookie
    assert client.cookies
    to_platform = client.build_request("GET", BASE_URL + "/api/v1/auth/session")
    assert "cookie" in to_platform.headers
    assert "cookie" not in client.build_request("GET", SITES + "/sites/any/home").headers
    # and the API is not answered there even with a cookie sent by hand
    response = await client.get(
        "/api/v1/auth/session",
        headers={"Host": "sites.example.test", "Cookie": to_platform.headers["cookie"]},
    )
    assert_problem(response, 404, "not_on_this_host")

"""Fixtures of the website plugin's API tests: a small client for the website API as one
tenant sees it and an event reader.

Test modules do not import from each other (pytest runs with ``--import-mode=importlib``),
so every shared helper reaches the tests through a fixture.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
import pytest_asyncio

from sdk.testing import CreatorPlatform, LocalDNS, Tenant


class Web:
    """The website API as one tenant sees it, with shortcuts that assert success."""

    def __init__(self, tenant: Tenant, dns: LocalDNS | None = None) -> None:
        self.tenant = tenant
        self.dns = dns
        self.client = tenant.client
        self.group_id = tenant.group.id
        self.base = f"/api/v1/website/groups/{tenant.group.id}"

    def site_url(self, site_id: str, path: str = "") -> str:
        return f"{self.base}/sites/{site_id}{path}"

    def page_url(self, site_id: str, page_id: str, path: str = "") -> str:
        return f"{self.base}/sites/{site_id}/pages/{page_id}{path}"

    def node_url(self, site_id: str, page_id: str, node_id: str, path: str = "") -> str:
        return self.page_url(site_id, page_id, f"/components/{node_id}{path}")

    async def site(
        self, slug: str = "my-site", name: str = "My site", *, verify: bool = False, **body: Any
    ) -> dict:
        """A new site; with ``verify``, its custom domain is verified (the test's DNS server
        publishes the record the site asks for)."""
        r = await self.client.post(self.base + "/sites", json={"name": name, "slug": slug, **body})
        assert r.status_code == 201, r.text
        site: dict = r.json()
        if verify:
            site = await self.verify_domain(site)
        return site

    def publish_record(self, site: dict) -> None:
        """Publish, on the test's DNS server, the TXT record ``site``'s domain asks for."""
        assert self.dns is not None, "this Web has no DNS server"
        record = site["domain"]["record"]
        self.dns.set_txt(record["name"], record["value"])

    async def verify_domain(self, site: dict) -> dict:
        """Publish the site's domain record and verify it through the API."""
        self.publish_record(site)
        r = await self.client.post(self.site_url(site["id"], "/domain/verify"))
        assert r.status_code == 200, r.text
        verified: dict = r.json()
        assert verified["domain"]["status"] == "verified", verified
        return verified

    async def page(
        self, site_id: str, slug: str = "home", title: str | None = None, **body: Any
    ) -> dict:
        r = await self.client.post(
            self.site_url(site_id, "/pages"),
            json={"title": title or slug.title(), "slug": slug, **body},
        )
        assert r.status_code == 201, r.text
        return r.json()

    async def get_page(self, site_id: str, page_id: str) -> dict:
        r = await self.client.get(self.page_url(site_id, page_id))
        assert r.status_code == 200, r.text
        return r.json()

    async def add(self, site_id: str, page_id: str, type: str, **body: Any) -> dict:
        """Add a component; returns ``{"page": ..., "node": ...}``."""
        r = await self.client.post(
            self.page_url(site_id, page_id, "/components"), json={"type": type, **body}
        )
        assert r.status_code == 201, r.text
        return r.json()

    async def patch_page(self, site_id: str, page_id: str, **body: Any) -> dict:
        r = await self.client.patch(self.page_url(site_id, page_id), json=body)
        assert r.status_code == 200, r.text
        return r.json()

    async def publish(self, site_id: str, page_id: str) -> dict:
        r = await self.client.post(self.page_url(site_id, page_id, "/publish"))
        assert r.status_code == 200, r.text
        return r.json()

    async def unpublish(self, site_id: str, page_id: str) -> dict:
        r = await self.client.post(self.page_url(site_id, page_id, "/unpublish"))
        assert r.status_code == 200, r.text
        return r.json()

    async def heading(self, site_id: str, page_id: str, text: str, **body: Any) -> dict:
        return await self.add(site_id, page_id, "heading", props={"text": text}, **body)

    async def published_site(
        self, slug: str = "my-site", text: str = "Welcome home", **site_body: Any
    ) -> tuple[dict, dict]:
        """A site with a published home page holding one heading (``verify=True``: its
        custom domain verified)."""
        site = await self.site(slug, **site_body)
        page = await self.page(site["id"], "home", "Home")
        await self.heading(site["id"], page["id"], text)
        page = await self.publish(site["id"], page["id"])
        return site, page

    async def revisions(self, site_id: str, page_id: str, **params: Any) -> dict:
        r = await self.client.get(self.page_url(site_id, page_id, "/revisions"), params=params)
        assert r.status_code == 200, r.text
        return r.json()


@pytest_asyncio.fixture
async def owner(creator_platform: CreatorPlatform) -> Tenant:
    """A person owning a fresh group."""
    return await creator_platform.tenant()


@pytest.fixture
def web_for(creator_platform: CreatorPlatform) -> Callable[[Tenant], Web]:
    """``web_for(tenant)``: the website API as ``tenant`` sees it."""
    return lambda tenant: Web(tenant, creator_platform.dns)


@pytest.fixture
def web(owner: Tenant, creator_platform: CreatorPlatform) -> Web:
    """The website API as ``owner`` sees it."""
    return Web(owner, creator_platform.dns)


@pytest.fixture
def visitor(creator_platform: CreatorPlatform) -> httpx.AsyncClient:
    """An anonymous client, as a visitor of the public pages."""
    return creator_platform.client


@pytest.fixture
def events() -> Callable[..., Awaitable[list[dict[str, Any]]]]:
    """``await events(tenant, type, target_id=None)``: the group's events of ``type``,
    newest first, read through the core events API."""

    async def read(tenant: Tenant, type: str, target_id: str | None = None) -> list[dict]:
        params: dict[str, Any] = {"type": type, "limit": 200}
        if target_id is not None:
            params["target_id"] = target_id
        r = await tenant.client.get(f"/api/v1/groups/{tenant.group.id}/events", params=params)
        assert r.status_code == 200, r.text
        items: list[dict] = r.json()["items"]
        assert all(e["type"] == type for e in items), items
        return items

    return read

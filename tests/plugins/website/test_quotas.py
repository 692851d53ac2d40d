"""Quotas of the free plan: 5 websites, 50 pages per website; concurrent creates cannot
go past a limit."""

from __future__ import annotations

import asyncio

import pytest

from sdk.testing import assert_problem

pytestmark = pytest.mark.creator_plugins("website")


async def _pages(web, site_id: str, slugs: list[str], chunk: int = 10) -> list:
    responses = []
    for start in range(0, len(slugs), chunk):
        responses += await asyncio.gather(
            *(
                web.client.post(web.site_url(site_id, "/pages"), json={"title": s, "slug": s})
                for s in slugs[start : start + chunk]
            )
        )
    return responses


async def test_five_websites_on_the_free_plan(web) -> None:
    sites = [await web.site(f"site-{i}") for i in range(5)]
    r = await web.client.post(web.base + "/sites", json={"name": "Six", "slug": "site-6"})
    err = assert_problem(r, 429, "quota_exceeded")
    assert err["quota"] == "websites" and err["limit"] == 5
    listed = (await web.client.get(web.base + "/sites")).json()["items"]
    assert len(listed) == 5
    # deleting one frees a place
    r = await web.client.delete(web.site_url(sites[0]["id"]))
    assert r.status_code == 204
    await web.site("site-6")


async def test_the_website_quota_is_per_group(creator_platform, web, web_for) -> None:
    for i in range(5):
        await web.site(f"mine-{i}")
    other = web_for(await creator_platform.tenant())
    await other.site("theirs")


async def test_concurrent_site_creates_stay_within_the_limit(web) -> None:
    for i in range(4):
        await web.site(f"site-{i}")
    results = await asyncio.gather(
        *(
            web.client.post(web.base + "/sites", json={"name": f"R{i}", "slug": f"race-{i}"})
            for i in range(3)
        )
    )
    codes = sorted(r.status_code for r in results)
    assert codes == [201, 429, 429], [r.text for r in results]
    for r in results:
        if r.status_code == 429:
            assert_problem(r, 429, "quota_exceeded")
    listed = (await web.client.get(web.base + "/sites")).json()["items"]
    assert len(listed) == 5


async def test_fifty_pages_per_website(web) -> None:
    site = await web.site("big")
    other = await web.site("small")
    responses = await _pages(web, site["id"], [f"p{i}" for i in range(50)])
    assert [r.status_code for r in responses] == [201] * 50, [
        r.text for r in responses if r.status_code != 201
    ]
    r = await web.client.post(web.site_url(site["id"], "/pages"), json={"title": "x", "slug": "x"})
    err = assert_problem(r, 429, "quota_exceeded")
    assert err["quota"] == "pages" and err["limit"] == 50
    first = responses[0].json()
    r = await web.client.post(
        web.page_url(site["id"], first["id"], "/duplicate"), json={"slug": "copy"}
    )
    assert_problem(r, 429, "quota_exceeded")
    # per website: another site still has room
    await web.page(other["id"], "home")
    # deleting a page frees a place
    r = await web.client.delete(web.page_url(site["id"], first["id"]))
    assert r.status_code == 204
    await web.page(site["id"], "x")


async def test_concurrent_page_creates_stay_within_the_limit(web) -> None:
    site = await web.site("racy")
    responses = await _pages(web, site["id"], [f"p{i}" for i in range(48)])
    assert all(r.status_code == 201 for r in responses)
    results = await _pages(web, site["id"], [f"race-{i}" for i in range(4)])
    assert sorted(r.status_code for r in results) == [201, 201, 429, 429], [r.text for r in results]
    count = 0
    cursor = None
    while True:
        params = {"limit": 200, **({"cursor": cursor} if cursor else {})}
        body = (await web.client.get(web.site_url(site["id"], "/pages"), params=params)).json()
        count += len(body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert count == 50


async def test_ending_contains_connections_does_not_lift_the_page_quota(owner, web) -> None:
    """The page quota counts ``contains`` connections; the generic connections API must
    not let a creator end them (and with them the count) to go past 50 pages."""
    site = await web.site("sneaky")
    responses = await _pages(web, site["id"], [f"p{i}" for i in range(50)])
    assert all(r.status_code == 201 for r in responses)
    connections = f"/api/v1/groups/{owner.group.id}/connections"
    listed = await owner.client.get(
        connections, params={"type": "contains", "from_id": site["id"], "limit": 200}
    )
    assert listed.status_code == 200, listed.text
    assert len(listed.json()["items"]) == 50
    link = listed.json()["items"][0]
    await owner.client.delete(f"{connections}/{link['id']}")
    r = await web.client.post(web.site_url(site["id"], "/pages"), json={"title": "x", "slug": "x"})
    assert_problem(r, 429, "quota_exceeded")

"""What visitors get: live pages with ETags and public caching, themed and plain 404s,
sitemap.xml and robots.txt, custom domains, re-rendering on site changes, and a page
cache that forgets at once (in this process and in others)."""

from __future__ import annotations

import asyncio
import json
import re
from contextlib import AsyncExitStack

import httpx
import pytest

from core.app import create_app
from sdk.testing import assert_problem, wait_until

pytestmark = pytest.mark.creator_plugins("website")


def json_ld(html: str) -> dict:
    found = re.search(r'<script type="application/ld\+json">(.*?)</script>', html, re.S)
    assert found, html[:500]
    return json.loads(found.group(1))


def style_of(html: str) -> str:
    found = re.search(r"<style>(.*?)</style>", html, re.S)
    assert found
    return found.group(1)


async def test_etag_and_conditional_requests(web, visitor) -> None:
    await web.published_site("cached", "Cache me")
    r = await visitor.get("/sites/cached")
    assert r.status_code == 200
    etag = r.headers["etag"]
    assert etag.startswith('"') and etag.endswith('"')
    assert r.headers["cache-control"].startswith("public")
    assert "max-age=" in r.headers["cache-control"]
    assert r.headers["x-content-type-options"] == "nosniff"
    # only the platform's own script files (a plugin's component, the clone's chat bubble)
    assert "script-src 'self';" in r.headers["content-security-policy"]
    assert "default-src 'none'" in r.headers["content-security-policy"]

    r = await visitor.get("/sites/cached", headers={"If-None-Match": etag})
    assert r.status_code == 304 and r.content == b""
    assert r.headers["etag"] == etag
    r = await visitor.get("/sites/cached", headers={"If-None-Match": '"other"'})
    assert r.status_code == 200 and "Cache me" in r.text


async def test_a_republished_page_has_a_new_etag(web, visitor) -> None:
    site, page = await web.published_site("etags", "First")
    old = (await visitor.get("/sites/etags")).headers["etag"]
    await web.heading(site["id"], page["id"], "Second")
    await web.publish(site["id"], page["id"])
    r = await visitor.get("/sites/etags", headers={"If-None-Match": old})
    assert r.status_code == 200 and "Second" in r.text
    assert r.headers["etag"] != old


async def test_themed_404_for_an_unknown_page_of_a_known_site(web, visitor) -> None:
    await web.published_site("known", "Hello", name="Known Site")
    r = await visitor.get("/sites/known/nowhere")
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("text/html")
    assert "Page not found" in r.text and "Known Site" in r.text
    assert "--cp-accent" in r.text  # the theme's styles
    assert 'content="noindex"' in r.text
    assert "public" not in r.headers.get("cache-control", "")
    home = await visitor.get("/sites/known")
    assert r.headers["etag"] != home.headers["etag"]
    # a draft page is "not found" too
    site = (await web.client.get(web.base + "/sites")).json()["items"][0]
    await web.page(site["id"], "draft-only")
    r = await visitor.get("/sites/known/draft-only")
    assert r.status_code == 404 and "Page not found" in r.text


async def test_plain_404_for_an_unknown_site(visitor) -> None:
    r = await visitor.get("/sites/no-such-site")
    assert r.status_code == 404
    assert "Not found" in r.text and "--cp-" not in r.text
    r = await visitor.get("/sites/no-such-site/about")
    assert r.status_code == 404 and "--cp-" not in r.text
    r = await visitor.get("/sites/no-such-site/sitemap.xml")
    assert r.status_code == 404


async def test_a_site_without_published_pages_shows_nothing(web, visitor) -> None:
    site = await web.site("drafty", name="Drafty")
    page = await web.page(site["id"], "home")
    await web.heading(site["id"], page["id"], "Secret draft")
    for path in ("/sites/drafty", "/sites/drafty/home"):
        r = await visitor.get(path)
        assert r.status_code == 404 and "Secret draft" not in r.text
    sitemap = await visitor.get("/sites/drafty/sitemap.xml")
    assert sitemap.status_code == 200 and "<loc>" not in sitemap.text


async def test_sitemap_lists_published_indexable_pages(web, visitor) -> None:
    site = await web.site("mapped")
    home = await web.page(site["id"], "home")
    about = await web.page(site["id"], "about")
    hidden = await web.page(site["id"], "hidden", seo={"noindex": True})
    await web.page(site["id"], "draft")
    for page in (home, about, hidden):
        await web.publish(site["id"], page["id"])
    r = await visitor.get("/sites/mapped/sitemap.xml")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/xml")
    assert r.text.startswith("<?xml")
    locs = re.findall(r"<loc>(.*?)</loc>", r.text)
    assert sorted(locs) == sorted([home["url"], about["url"]])
    assert locs and all(loc.startswith("http") for loc in locs)
    assert "<lastmod>" in r.text

    # unpublishing removes a page from the sitemap at once
    await web.unpublish(site["id"], about["id"])
    locs = re.findall(r"<loc>(.*?)</loc>", (await visitor.get("/sites/mapped/sitemap.xml")).text)
    assert locs == [home["url"]]


async def test_robots_txt(web, visitor) -> None:
    site, _ = await web.published_site("robots")
    r = await visitor.get("/sites/robots/robots.txt")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    assert "User-agent: *" in r.text and "Allow: /" in r.text
    assert re.search(r"Sitemap: \S+/sites/robots/sitemap\.xml", r.text)

    r = await web.client.patch(
        web.site_url(site["id"]), json={"settings": {"allow_indexing": False}}
    )
    assert r.status_code == 200, r.text
    r = await visitor.get("/sites/robots/robots.txt")
    assert "Disallow: /" in r.text
    sitemap = await visitor.get("/sites/robots/sitemap.xml")
    assert "<loc>" not in sitemap.text
    page = await visitor.get("/sites/robots")
    assert '<meta name="robots" content="noindex">' in page.text


async def test_custom_domain_serves_the_site(web, visitor) -> None:
    site = await web.site("domained")
    home = await web.page(site["id"], "home")
    about = await web.page(site["id"], "about")
    await web.heading(site["id"], home["id"], "Domain home")
    await web.heading(site["id"], about["id"], "Domain about")
    await web.publish(site["id"], home["id"])
    await web.publish(site["id"], about["id"])
    host = {"Host": "www.example.org"}
    assert (await visitor.get("/", headers=host)).status_code == 404  # no domain yet

    r = await web.client.patch(web.site_url(site["id"]), json={"custom_domain": "www.example.org"})
    assert r.status_code == 200, r.text
    assert (await visitor.get("/", headers=host)).status_code == 404  # pending: not served
    await web.verify_domain(r.json())
    r = await visitor.get("/", headers=host)
    assert r.status_code == 200 and "Domain home" in r.text
    assert '<link rel="canonical" href="https://www.example.org/">' in r.text
    r = await visitor.get("/about", headers=host)
    assert r.status_code == 200 and "Domain about" in r.text
    assert '<link rel="canonical" href="https://www.example.org/about">' in r.text
    r = await visitor.get("/about", headers={"Host": "WWW.Example.ORG:8443"})
    assert r.status_code == 200 and "Domain about" in r.text
    r = await visitor.get("/nowhere", headers=host)
    assert r.status_code == 404 and "Page not found" in r.text
    sitemap = await visitor.get("/sitemap.xml", headers=host)
    assert sorted(re.findall(r"<loc>(.*?)</loc>", sitemap.text)) == [
        "https://www.example.org/",
        "https://www.example.org/about",
    ]
    robots = await visitor.get("/robots.txt", headers=host)
    assert "Sitemap: https://www.example.org/sitemap.xml" in robots.text
    # the platform address keeps working
    assert "Domain home" in (await visitor.get("/sites/domained")).text
    # another host is not this site
    other = await visitor.get("/", headers={"Host": "other.example.org"})
    assert other.status_code == 404 and "Domain home" not in other.text

    r = await web.client.patch(web.site_url(site["id"]), json={"custom_domain": None})
    assert r.status_code == 200, r.text
    r = await visitor.get("/", headers=host)
    assert r.status_code == 404 and "Domain home" not in r.text
    r = await visitor.get("/sites/domained")
    assert '<link rel="canonical" href="https://www.example.org/">' not in r.text


def main_of(html: str) -> str:
    found = re.search(r"<main.*?</main>", html, re.S)
    assert found
    return found.group(0)


async def test_a_theme_change_re_renders_live_pages(web, visitor) -> None:
    site, page = await web.published_site("themed", "Same words")
    before = (await visitor.get("/sites/themed")).text
    draft = await web.heading(site["id"], page["id"], "Unpublished words")
    r = await web.client.patch(web.site_url(site["id"]), json={"theme": "midnight"})
    assert r.status_code == 200, r.text
    after = (await visitor.get("/sites/themed")).text
    assert style_of(after) != style_of(before)
    assert "Same words" in after and "Unpublished words" not in after
    assert main_of(after) == main_of(before)
    for pattern in (r"<title>.*?</title>", r'<link rel="canonical"[^>]*>'):
        assert re.search(pattern, after).group(0) == re.search(pattern, before).group(0)
    got = await web.get_page(site["id"], page["id"])
    assert got["published_revision"] == page["published_revision"]
    assert got["published_at"] == page["published_at"]
    assert got["revision"] == draft["page"]["revision"]


async def _live_published_at(creator_platform, page_id: str):
    async with creator_platform.platform.db.system() as conn:
        return await conn.fetchval(
            "SELECT published_at FROM website_live_pages WHERE page_id = $1::uuid", page_id
        )


async def test_re_rendering_keeps_the_publication_dates(creator_platform, web, visitor) -> None:
    """A theme change renders the live page again; it was not published again, so its
    publication time (the sitemap's lastmod, the page's datePublished/dateModified) stays."""
    site, page = await web.published_site("dated", "Dated")
    published_at = await _live_published_at(creator_platform, page["id"])
    first = json_ld((await visitor.get("/sites/dated")).text)
    assert first["datePublished"] and first["dateModified"]
    for theme in ("midnight", "sunrise"):
        r = await web.client.patch(web.site_url(site["id"]), json={"theme": theme})
        assert r.status_code == 200, r.text
        assert await _live_published_at(creator_platform, page["id"]) == published_at
    later = json_ld((await visitor.get("/sites/dated")).text)
    assert later.get("datePublished") == first["datePublished"]
    assert later.get("dateModified") == first["dateModified"]


async def test_site_name_and_slug_changes_reach_live_pages(web, visitor) -> None:
    site, _ = await web.published_site("old-name", "Content", name="Old Title")
    assert "Old Title" in (await visitor.get("/sites/old-name")).text
    r = await web.client.patch(
        web.site_url(site["id"]), json={"slug": "new-name", "name": "New Title"}
    )
    assert r.status_code == 200, r.text
    r = await visitor.get("/sites/new-name")
    assert r.status_code == 200 and "New Title" in r.text and "Old Title" not in r.text
    assert "/sites/new-name/" in r.text
    r = await visitor.get("/sites/old-name")
    assert r.status_code == 404 and "Content" not in r.text


async def test_deleting_a_site_takes_its_pages_offline(web, visitor) -> None:
    site, _ = await web.published_site(
        "doomed", "Doomed words", custom_domain="doomed.example", verify=True
    )
    about = await web.page(site["id"], "about")
    await web.publish(site["id"], about["id"])
    for path, headers in [
        ("/sites/doomed", {}),
        ("/sites/doomed/about", {}),
        ("/", {"Host": "doomed.example"}),
    ]:
        assert (await visitor.get(path, headers=headers)).status_code == 200
    r = await web.client.delete(web.site_url(site["id"]))
    assert r.status_code == 204, r.text
    for path, headers in [
        ("/sites/doomed", {}),
        ("/sites/doomed/about", {}),
        ("/sites/doomed/sitemap.xml", {}),
        ("/", {"Host": "doomed.example"}),
    ]:
        r = await visitor.get(path, headers=headers)
        assert r.status_code == 404 and "Doomed words" not in r.text, path
    # and its name can be reused by someone else's new site
    other = await web.site("doomed")
    p = await web.page(other["id"], "home")
    await web.heading(other["id"], p["id"], "Reborn")
    await web.publish(other["id"], p["id"])
    r = await visitor.get("/sites/doomed")
    assert "Reborn" in r.text and "Doomed words" not in r.text


async def test_the_same_process_serves_the_new_state_at_once(web, visitor) -> None:
    site, page = await web.published_site("fresh", "One")
    for _ in range(2):  # the second request is served from memory
        assert "One" in (await visitor.get("/sites/fresh")).text
    await web.heading(site["id"], page["id"], "Two")
    await web.publish(site["id"], page["id"])
    assert "Two" in (await visitor.get("/sites/fresh")).text
    await web.unpublish(site["id"], page["id"])
    assert (await visitor.get("/sites/fresh")).status_code == 404
    await web.publish(site["id"], page["id"])
    assert (await visitor.get("/sites/fresh")).status_code == 200
    # an unknown site that comes to exist is served at once
    assert (await visitor.get("/sites/later")).status_code == 404
    await web.published_site("later", "Now here")
    assert "Now here" in (await visitor.get("/sites/later")).text


async def test_another_process_forgets_its_cached_page(creator_platform, web, visitor) -> None:
    """A second app on the same database and Redis (another worker process) drops its
    copy of a page when this one publishes."""
    site, page = await web.published_site("shared", "Old text")
    other_app = create_app(creator_platform.platform.settings)
    async with AsyncExitStack() as stack:
        await stack.enter_async_context(other_app.lifespan())
        purge = other_app.state.website.context.purge
        await asyncio.wait_for(purge.ready.wait(), 5)
        other = await stack.enter_async_context(
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=other_app), base_url="http://testserver.local"
            )
        )
        assert "Old text" in (await other.get("/sites/shared")).text
        assert len(purge.cache) >= 1

        await web.heading(site["id"], page["id"], "New text")
        await web.publish(site["id"], page["id"])

        async def shows_new_text() -> bool:
            return "New text" in (await other.get("/sites/shared")).text

        await wait_until(shows_new_text, within=2)

        await web.unpublish(site["id"], page["id"])

        async def gone() -> bool:
            return (await other.get("/sites/shared")).status_code == 404

        await wait_until(gone, within=2)


async def test_changing_the_home_page_setting(web, visitor) -> None:
    site, _ = await web.published_site("homes", "Old home")
    start = await web.page(site["id"], "start")
    await web.heading(site["id"], start["id"], "New home")
    await web.publish(site["id"], start["id"])
    assert "Old home" in (await visitor.get("/sites/homes")).text
    r = await web.client.patch(web.site_url(site["id"]), json={"settings": {"home_page": "start"}})
    assert r.status_code == 200, r.text
    assert "New home" in (await visitor.get("/sites/homes")).text
    assert "Old home" in (await visitor.get("/sites/homes/home")).text
    got = await web.get_page(site["id"], start["id"])
    assert got["url"].endswith("/sites/homes/")


async def test_if_none_match_uses_weak_comparison_and_lists(web, visitor) -> None:
    """RFC 9110 13.1.2: If-None-Match compares weakly and may list several tags (a proxy
    that compresses a response sends the tag back as ``W/"..."``)."""
    await web.published_site("weak", "Weak")
    etag = (await visitor.get("/sites/weak")).headers["etag"]
    for header in (f"W/{etag}", f'"other", {etag}', f'W/"other",{etag}', "*"):
        r = await visitor.get("/sites/weak", headers={"If-None-Match": header})
        assert r.status_code == 304, header


async def test_head_requests(web, visitor) -> None:
    """RFC 9110 9.1: a server that answers GET answers HEAD (crawlers and link checkers
    use it)."""
    await web.published_site("heady", "Head")
    got = await visitor.get("/sites/heady")
    for path in ("/sites/heady", "/sites/heady/home", "/sites/heady/sitemap.xml"):
        r = await visitor.head(path)
        assert r.status_code == 200, (path, r.status_code)
        assert r.content == b""
    r = await visitor.head("/sites/heady")
    assert r.headers["etag"] == got.headers["etag"]
    assert (await visitor.head("/sites/heady/nowhere")).status_code == 404


async def test_what_people_typed_is_escaped_on_live_pages(web, visitor) -> None:
    evil = "</script><script>alert(1)</script>"
    site = await web.site("escaped", name=f"Site {evil}", settings={"footer_text": evil})
    page = await web.page(site["id"], "home", f"Title {evil}", seo={"description": evil})
    await web.heading(site["id"], page["id"], f"Heading {evil}")
    await web.add(site["id"], page["id"], "button", props={"label": evil, "href": "/x"})
    await web.add(
        site["id"],
        page["id"],
        "image",
        props={"src": "https://cdn.example/a.png", "alt": f'"{evil}', "caption": evil},
    )
    await web.publish(site["id"], page["id"])
    html = (await visitor.get("/sites/escaped")).text
    assert "<script>alert(1)" not in html
    assert html.count("<script") == 1  # only the JSON-LD block
    assert "Heading &lt;/script&gt;" in html
    assert json_ld(html)["name"] == f"Title {evil}"


async def test_public_pages_are_not_under_the_api_rate_limit(creator_platform_factory):
    harness = await creator_platform_factory(plugins=["website"], rate_limit_per_minute=8)
    t = await harness.tenant()
    base = f"/api/v1/website/groups/{t.group.id}"
    site = (await t.client.post(base + "/sites", json={"name": "S", "slug": "busy"})).json()
    page = (
        await t.client.post(f"{base}/sites/{site['id']}/pages", json={"title": "H", "slug": "home"})
    ).json()
    published = await t.client.post(f"{base}/sites/{site['id']}/pages/{page['id']}/publish")
    assert published.status_code == 200
    for _ in range(12):  # one address, more views than the API allows it
        response = await harness.client.get("/sites/busy")
        assert response.status_code == 200 and "ratelimit-limit" not in response.headers
    statuses = [(await harness.client.get("/api/v1/me")).status_code for _ in range(10)]
    assert 429 in statuses


async def test_a_custom_domain_shows_its_own_site_only(web, web_for, creator_platform, visitor):
    await web.published_site("brand", custom_domain="www.brand-a.test", verify=True)
    other = web_for(await creator_platform.tenant())
    await other.published_site("scam", text="Send me your password")
    own = await visitor.get("/", headers={"Host": "WWW.Brand-A.test.:443"})
    assert own.status_code == 200 and "Welcome home" in own.text
    for path in ("/sites/scam", "/sites/scam/home", "/sites/brand/home"):
        response = await visitor.get(path, headers={"Host": "www.brand-a.test"})
        assert response.status_code == 404, path
        assert "password" not in response.text


async def test_malformed_names_are_404_without_touching_the_cache(web, visitor, creator_platform):
    await web.published_site("cached")
    cache = creator_platform.app.state.website.context.purge.cache
    assert (await visitor.get("/sites/cached")).status_code == 200
    before = len(cache)
    for path in ("/sites/UPPER", "/sites/a..b/x", "/sites/cached/-x-"):
        response = await visitor.get(path)
        assert response.status_code == 404, path
    # A NUL is refused before any route runs, as on every route (core/storable.py).
    assert_problem(await visitor.get("/sites/cached/%00"), 422, "invalid_text", field="page")
    for n in range(50):  # a flood of unknown names cannot push the real page out
        assert (await visitor.get(f"/sites/nobody-{n}")).status_code == 404
    assert len(cache) == before and cache.get(("slug", "cached", "")) is not None


async def test_previews_cannot_run_scripts_on_the_platforms_origin(web):
    site = await web.site("previewed")
    page = await web.page(site["id"])
    for path in ("/preview", "/canvas"):
        response = await web.client.get(web.page_url(site["id"], page["id"], path))
        assert response.status_code == 200
        policy = response.headers["content-security-policy"]
        assert "sandbox" in policy and "default-src 'none'" in policy
        assert "script-src" not in policy

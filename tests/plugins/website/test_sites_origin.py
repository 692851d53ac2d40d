"""Published sites on their own origin (``public_sites_origin``), and the admin UI and API
refused on tenant hosts (a custom domain, the sites origin)."""

from __future__ import annotations

import io
import re

import pytest_asyncio
from PIL import Image

import sdk
from sdk.testing import BASE_URL, CreatorPlatform, PlatformFactory, assert_problem

SITES = "https://sites.example.test"
ON_SITES = {"Host": "sites.example.test"}
DOMAIN = "www.brand.example"


@pytest_asyncio.fixture
async def creator_platform(creator_platform_factory: PlatformFactory) -> CreatorPlatform:
    """The website on a platform whose sites are served at ``SITES``."""
    return await creator_platform_factory(plugins=["website"], public_sites_origin=SITES)


async def test_the_admin_and_the_api_are_not_answered_on_a_custom_domain(web, visitor) -> None:
    """Reproduced first: ``/builder`` (its log-in redirect) and the API answered on a
    custom domain's ``Host``, so a page there shared an origin with the admin UI."""
    site, _ = await web.published_site("brand", custom_domain=DOMAIN, verify=True)
    on_domain = {"Host": DOMAIN}
    home = await visitor.get("/", headers=on_domain)
    assert home.status_code == 200 and "Welcome home" in home.text
    assert (await visitor.get("/sitemap.xml", headers=on_domain)).status_code == 200
    for path in (
        "/builder",
        f"/builder/{web.group_id}",
        web.site_url(site["id"]),
        "/api/v1/me",
        "/account/login",
        "/schema",
    ):
        for client in (visitor, web.client):  # signed in or not
            response = await client.get(path, headers=on_domain)
            assert_problem(response, 404, "not_on_this_host")
    # the platform's address of a site is not answered on another site's domain
    response = await visitor.get("/sites/brand/home", headers=on_domain)
    assert response.status_code == 404 and "Welcome home" not in response.text


async def test_published_pages_move_to_the_sites_origin(web, visitor) -> None:
    await web.published_site("shop", text="Fresh bread")
    response = await visitor.get("/sites/shop")
    assert response.status_code == 308
    assert response.headers["location"] == SITES + "/sites/shop"
    response = await visitor.get("/sites/shop/home?utm_source=x%20y")
    assert response.status_code == 308
    assert response.headers["location"] == SITES + "/sites/shop/home?utm_source=x%20y"
    response = await visitor.head("/sites/shop/sitemap.xml")
    assert (response.status_code, response.headers["location"]) == (
        308,
        SITES + "/sites/shop/sitemap.xml",
    )

    page = await visitor.get("/sites/shop", headers=ON_SITES)
    assert page.status_code == 200 and "Fresh bread" in page.text
    assert f'<link rel="canonical" href="{SITES}/sites/shop/">' in page.text
    assert f'content="{SITES}/sites/shop/"' in page.text  # og:url
    sitemap = await visitor.get("/sites/shop/sitemap.xml", headers=ON_SITES)
    assert re.findall(r"<loc>(.*?)</loc>", sitemap.text) == [f"{SITES}/sites/shop/"]
    robots = await visitor.get("/sites/shop/robots.txt", headers=ON_SITES)
    assert f"Sitemap: {SITES}/sites/shop/sitemap.xml" in robots.text

    # the sites origin is no custom domain, and serves neither the admin nor the API
    assert_problem(await visitor.get("/", headers=ON_SITES), 404, "not_found")
    assert_problem(await visitor.get("/home", headers=ON_SITES), 404, "not_found")
    for path in ("/builder", "/api/v1/me", "/account/login"):
        assert_problem(await web.client.get(path, headers=ON_SITES), 404, "not_on_this_host")
    # the platform's own address keeps the admin and the API
    assert (await web.client.get("/api/v1/me")).status_code == 200
    response = await visitor.get("/")
    assert response.status_code == 302 and response.headers["location"] == "/app"


async def test_the_sites_origin_names_the_group_of_the_site_on_it(creator_platform, web) -> None:
    """``public_url_group`` (what the clone widget's framing check asks) reads a
    ``/sites/{slug}`` path on the sites origin as on the platform's address."""
    await web.site("framed")
    app = creator_platform.app
    assert str(await sdk.group_serving_url(app, f"{SITES}/sites/framed/home")) == str(web.group_id)
    assert await sdk.group_serving_url(app, f"{SITES}/") is None
    assert await sdk.group_serving_url(app, f"{SITES}/framed") is None


async def test_links_to_published_pages_name_the_sites_origin(web) -> None:
    site = await web.site("linked")
    assert site["url"] == f"{SITES}/sites/linked/"
    page = await web.page(site["id"], "about")
    assert page["url"] == f"{SITES}/sites/linked/about"
    published = await web.publish(site["id"], page["id"])
    assert published["url"] == f"{SITES}/sites/linked/about"

    html = (await web.client.get(f"/builder/{web.group_id}/sites/{site['id']}")).text
    assert f'href="{SITES}/sites/linked/"' in html
    assert f'href="{SITES}/sites/linked/about"' in html  # "view live"
    editor = await web.client.get(f"/builder/{web.group_id}/sites/{site['id']}/pages/{page['id']}")
    assert f'data-sites-url="{SITES}"' in editor.text
    assert f'id="public-link" href="{SITES}/sites/linked/about"' in editor.text


async def test_public_media_move_to_the_sites_origin(web, visitor) -> None:
    picture = io.BytesIO()
    Image.new("RGB", (8, 8), (10, 20, 30)).save(picture, "PNG")
    response = await web.client.post(
        f"/api/v1/website/groups/{web.group_id}/media",
        files={"file": ("dot.png", picture.getvalue(), "image/png")},
    )
    assert response.status_code == 201, response.text
    path = response.json()["url"]  # a path: it resolves on whichever host shows the page
    assert path.startswith("/media/")
    moved = await visitor.get(path)
    assert moved.status_code == 308 and moved.headers["location"] == SITES + path
    served = await visitor.get(path, headers=ON_SITES)
    assert served.status_code == 200 and served.content == picture.getvalue()
    # a custom domain's pages show their files from their own origin
    assert (await visitor.get(path, headers={"Host": DOMAIN})).status_code == 200


async def test_without_the_setting_everything_is_on_one_origin(creator_platform_factory) -> None:
    harness = await creator_platform_factory(plugins=["website"])
    assert harness.platform.hosts.sites_url == BASE_URL
    tenant = await harness.tenant()
    base = f"/api/v1/website/groups/{tenant.group.id}"
    r = await tenant.client.post(base + "/sites", json={"name": "One", "slug": "one"})
    assert r.status_code == 201 and r.json()["url"] == f"{BASE_URL}/sites/one/"
    site_id = r.json()["id"]
    home = {"title": "H", "slug": "home"}
    r = await tenant.client.post(f"{base}/sites/{site_id}/pages", json=home)
    assert r.status_code == 201, r.text
    r = await tenant.client.post(f"{base}/sites/{site_id}/pages/{r.json()['id']}/publish")
    assert r.status_code == 200, r.text
    page = await harness.client.get("/sites/one")
    assert page.status_code == 200 and f'href="{BASE_URL}/sites/one/"' in page.text
    # a custom domain still gets no admin and no API
    response = await tenant.client.get("/api/v1/me", headers={"Host": DOMAIN})
    assert_problem(response, 404, "not_on_this_host")

"""What every published page carries around its content: the site's header (logo, name,
menu), its footer (text, links), social metadata (title, image) and the public response
headers; the menu and header as settings of the site (validated, kept to the group) and
the published pages that show them rendered again when they change."""

from __future__ import annotations

import io
import re

import pytest
from PIL import Image

from plugins.website.public import REFERRER_POLICY
from sdk.testing import assert_problem

pytestmark = pytest.mark.creator_plugins("website")


def menu_of(html: str) -> list[tuple[str, str]]:
    """The wide-screen menu's (label, href) pairs."""
    found = re.search(r'<ul class="cp-menu">(.*?)</ul>', html, re.S)
    if found is None:
        return []
    return re.findall(r'<a href="([^"]+)"[^>]*>([^<]*)</a>', found.group(1))


def meta(html: str, prop: str) -> str | None:
    found = re.search(rf'<meta (?:property|name)="{re.escape(prop)}" content="([^"]*)">', html)
    return found.group(1) if found else None


def png(size: tuple[int, int] = (1200, 800)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (180, 90, 40)).save(out, "PNG")
    return out.getvalue()


async def two_pages(web, slug: str = "studio") -> tuple[dict, dict, dict]:
    site = await web.site(slug, name="Ada's Studio")
    home = await web.page(site["id"], "home", "Home")
    await web.heading(site["id"], home["id"], "Welcome")
    await web.publish(site["id"], home["id"])
    about = await web.page(site["id"], "about", "About us")
    await web.heading(site["id"], about["id"], "Who we are")
    return site, home, about


async def patch_settings(web, site_id: str, **settings: object):
    return await web.client.patch(web.site_url(site_id), json={"settings": settings})


# -- the menu ------------------------------------------------------------------------------


async def test_publishing_a_page_puts_it_in_every_pages_menu(web, visitor) -> None:
    site, _home, about = await two_pages(web)
    base = "/sites/studio/"  # paths: they work on whichever host serves the page
    assert menu_of((await visitor.get("/sites/studio")).text) == [(base, "Home")]
    await web.publish(site["id"], about["id"])  # Home is rendered again: its menu changed
    for path in ("/sites/studio", "/sites/studio/about"):
        html = (await visitor.get(path)).text
        assert menu_of(html) == [(base, "Home"), (base + "about", "About us")]
        assert '<details class="cp-menu-small"><summary>Menu</summary>' in html
    about_html = (await visitor.get("/sites/studio/about")).text
    assert f'<a href="{base}about" aria-current="page">About us</a>' in about_html
    # a 404 page of the site shows the menu too
    assert menu_of((await visitor.get("/sites/studio/nowhere")).text)[1][1] == "About us"

    await web.unpublish(site["id"], about["id"])
    assert menu_of((await visitor.get("/sites/studio")).text) == [(base, "Home")]


async def test_a_deleted_page_leaves_the_menu(web, visitor) -> None:
    site, _home, about = await two_pages(web, "deleting")
    await web.publish(site["id"], about["id"])
    assert len(menu_of((await visitor.get("/sites/deleting")).text)) == 2
    r = await web.client.delete(web.page_url(site["id"], about["id"]))
    assert r.status_code == 204, r.text
    assert menu_of((await visitor.get("/sites/deleting")).text) == [("/sites/deleting/", "Home")]


async def test_a_menu_of_its_own_with_links_renamed_pages_and_drafts_left_out(web, visitor) -> None:
    site, home, about = await two_pages(web, "custom")
    draft = await web.page(site["id"], "draft", "Not yet")
    await visitor.get("/sites/custom")  # now in the page cache: the change must purge it
    menu = [
        {"page_id": about["id"], "label": "Our story"},
        {"page_id": draft["id"]},
        {"page_id": home["id"]},
        {"url": "https://shop.example/ada", "label": "Shop", "new_tab": True},
    ]
    r = await patch_settings(web, site["id"], menu=menu)
    assert r.status_code == 200, r.text
    assert r.json()["settings"]["menu"][0] == {"page_id": about["id"], "label": "Our story"}
    html = (await visitor.get("/sites/custom")).text
    assert menu_of(html) == [("/sites/custom/", "Home"), ("https://shop.example/ada", "Shop")]
    assert 'target="_blank" rel="noopener noreferrer">Shop</a>' in html

    await web.publish(site["id"], about["id"])
    labels = [label for _, label in menu_of((await visitor.get("/sites/custom")).text)]
    assert labels == ["Our story", "Home", "Shop"]

    r = await patch_settings(web, site["id"], menu=None)  # back to the published pages
    assert r.status_code == 200 and "menu" not in r.json()["settings"]
    labels = [label for _, label in menu_of((await visitor.get("/sites/custom")).text)]
    assert labels == ["Home", "About us"]


@pytest.mark.parametrize(
    ("settings", "field"),
    [
        ({"menu": [{"url": "javascript:alert(1)", "label": "x"}]}, "settings"),
        ({"menu": [{"url": "https://a.example"}]}, "settings"),
        ({"menu": [{"label": "Nothing"}]}, "settings"),
        ({"menu": [{"page_id": "not-a-uuid"}]}, "settings"),
        ({"menu": [{"url": "/x", "label": "x"}] * 13}, "settings"),
        ({"menu": [{"url": "/x", "label": "x" * 61}]}, "settings"),
        ({"footer_links": [{"label": "Mail", "url": "data:text/html,hi"}]}, "settings"),
        ({"footer_links": [{"label": "", "url": "/imprint"}]}, "settings"),
        ({"logo": "javascript:alert(1)"}, "settings"),
        ({"show_name": False}, "settings"),
    ],
)
async def test_bad_menus_headers_and_footers_are_refused(web, settings, field) -> None:
    site = await web.site("refusing")
    r = await patch_settings(web, site["id"], **settings)
    problem = assert_problem(r, 422, "validation_failed")
    assert str(problem.get("field", "")).startswith(field), problem


async def test_a_menu_cannot_name_another_sites_or_groups_page(
    creator_platform, web, web_for
) -> None:
    site, home, _ = await two_pages(web, "mine")
    other_site = await web.site("other-mine")
    other_page = await web.page(other_site["id"], "home")
    theirs = web_for(await creator_platform.tenant())
    their_site = await theirs.site("theirs")
    their_page = await theirs.page(their_site["id"], "home")
    for page_id in (other_page["id"], their_page["id"]):
        r = await patch_settings(web, site["id"], menu=[{"page_id": page_id}])
        assert_problem(r, 422, "validation_failed", field="settings.menu[0].page_id")
    # nor can another group name a page of ours in its own menu
    r = await patch_settings(theirs, their_site["id"], menu=[{"page_id": home["id"]}])
    assert_problem(r, 422, "validation_failed", field="settings.menu[0].page_id")
    # nor change our menu
    r = await theirs.client.patch(
        theirs.base + f"/sites/{site['id']}", json={"settings": {"menu": None}}
    )
    assert_problem(r, 404, "not_found")


# -- header and footer ---------------------------------------------------------------------


async def test_logo_and_footer_links_on_every_page(web, visitor) -> None:
    site, _home, about = await two_pages(web, "branded")
    await web.publish(site["id"], about["id"])
    await visitor.get("/sites/branded/about")  # cached: the change must purge it
    r = await patch_settings(
        web,
        site["id"],
        logo="/media/logo.png",
        show_name=False,
        footer_text="© Ada & co",
        footer_links=[
            {"label": "Imprint", "url": "/sites/branded/about"},
            {"label": "Write to us", "url": "mailto:ada@example.com"},
        ],
    )
    assert r.status_code == 200, r.text
    for path in ("/sites/branded", "/sites/branded/about"):
        html = (await visitor.get(path)).text
        assert '<img class="cp-logo" src="/media/logo.png" alt="Ada&#39;s Studio"' in html
        assert "<span>Ada&#39;s Studio</span>" not in html  # the logo alone names the site
        assert '<nav aria-label="Footer">' in html
        assert '<a href="mailto:ada@example.com">Write to us</a>' in html
        assert "<p>© Ada &amp; co</p>" in html


# -- metadata and headers ------------------------------------------------------------------


async def test_title_and_the_first_picture_as_social_card(web, visitor) -> None:
    site, _home, about = await two_pages(web, "social")
    r = await web.client.post(
        f"/api/v1/website/groups/{web.group_id}/media",
        files={"file": ("pot.png", png(), "image/png")},
    )
    assert r.status_code == 201, r.text
    asset = r.json()
    for alt in ("A blue pot", "A red pot", "A green pot"):
        await web.add(site["id"], about["id"], "image", props={"asset_id": asset["id"], "alt": alt})
    await web.publish(site["id"], about["id"])
    html = (await visitor.get("/sites/social/about")).text
    sites_url = creator_platform_sites_url(site)
    assert meta(html, "og:title") == "About us · Ada&#39;s Studio"
    assert meta(html, "og:image") == sites_url + asset["url"]
    assert meta(html, "twitter:card") == "summary_large_image"
    images = re.findall(r"<img [^>]*>", html)
    assert len(images) == 3
    assert 'fetchpriority="high"' in images[0] and "loading=" not in images[0]
    assert "loading=" not in images[1]
    assert 'loading="lazy"' in images[2]
    assert all('width="1200" height="800"' in img for img in images)

    home_html = (await visitor.get("/sites/social")).text
    assert meta(home_html, "og:title") == "Ada&#39;s Studio"  # not "Home"
    assert "<title>Ada&#39;s Studio</title>" in home_html

    await web.patch_page(site["id"], about["id"], seo={"title": "Pottery by Ada"})
    await web.publish(site["id"], about["id"])
    html = (await visitor.get("/sites/social/about")).text
    assert meta(html, "og:title") == "Pottery by Ada"
    assert "<title>Pottery by Ada</title>" in html


def creator_platform_sites_url(site: dict) -> str:
    """The sites origin, read off the site's public address."""
    return site["url"].split("/sites/", 1)[0]


async def test_public_responses_carry_a_referrer_policy(web, visitor) -> None:
    await web.published_site("referrer")
    for path in ("/sites/referrer", "/sites/referrer/nowhere", "/sites/referrer/robots.txt"):
        r = await visitor.get(path)
        assert r.headers["referrer-policy"] == REFERRER_POLICY, path
    etag = (await visitor.get("/sites/referrer")).headers["etag"]
    r = await visitor.get("/sites/referrer", headers={"If-None-Match": etag})
    assert r.status_code == 304 and r.headers["referrer-policy"] == REFERRER_POLICY


# -- narrower copies of pictures -------------------------------------------------------------


async def test_pictures_offer_narrower_copies(creator_platform, web, visitor) -> None:
    site, _home, about = await two_pages(web, "srcset")
    r = await web.client.post(
        f"/api/v1/website/groups/{web.group_id}/media",
        files={"file": ("pot.png", png((1200, 800)), "image/png")},
    )
    asset = r.json()
    url = asset["url"]
    await web.add(site["id"], about["id"], "image", props={"asset_id": asset["id"], "alt": "Pot"})
    await web.publish(site["id"], about["id"])
    html = (await visitor.get("/sites/srcset/about")).text
    expected = f"{url}?w=320 320w, {url}?w=640 640w, {url}?w=960 960w, {url} 1200w"
    assert f'srcset="{expected}"' in html
    assert 'sizes="min(100vw, 72rem, 1200px)"' in html

    storage = creator_platform.app.state.website_media.storage
    for _ in range(2):  # made on the first request, read from storage on the second
        r = await visitor.get(url, params={"w": 640})
        assert r.status_code == 200 and r.headers["content-type"] == "image/png"
        assert "immutable" in r.headers["cache-control"]
        assert Image.open(io.BytesIO(r.content)).size == (640, 427)
    key = url.removeprefix("/media/")
    assert storage.path(key.replace(".png", ".w640.png")).exists()

    r = await visitor.get(url, params={"w": 1920})  # not narrower: the original
    assert r.status_code == 200 and Image.open(io.BytesIO(r.content)).size == (1200, 800)
    r = await visitor.get(url, params={"w": 500})  # not an offered width
    assert 400 <= r.status_code < 500

    r = await web.client.delete(f"/api/v1/website/groups/{web.group_id}/media/{asset['id']}")
    assert r.status_code == 204, r.text
    assert not storage.path(key.replace(".png", ".w640.png")).exists()


async def test_gifs_have_no_narrower_copies(web, visitor) -> None:
    out = io.BytesIO()
    Image.new("RGB", (800, 600), (1, 2, 3)).save(out, "GIF")
    r = await web.client.post(
        f"/api/v1/website/groups/{web.group_id}/media",
        files={"file": ("anim.gif", out.getvalue(), "image/gif")},
    )
    assert r.status_code == 201, r.text
    assert_problem(await visitor.get(r.json()["url"], params={"w": 320}), 404, "not_found")


async def test_a_deleted_page_in_the_menu_blocks_no_later_change(web, visitor) -> None:
    site, home, about = await two_pages(web, "stale")
    await web.publish(site["id"], about["id"])
    menu = [{"page_id": home["id"]}, {"page_id": about["id"]}]
    assert (await patch_settings(web, site["id"], menu=menu)).status_code == 200
    r = await web.client.delete(web.page_url(site["id"], about["id"]))
    assert r.status_code == 204, r.text
    assert menu_of((await visitor.get("/sites/stale")).text) == [("/sites/stale/", "Home")]
    r = await patch_settings(web, site["id"], footer_text="Still editable")
    assert r.status_code == 200, r.text
    assert (await patch_settings(web, site["id"], menu=menu)).status_code == 200  # as read

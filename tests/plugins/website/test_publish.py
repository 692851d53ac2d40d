"""Publishing: the draft becomes the live page; later edits stay in the draft until the
next publish; unpublish takes the page offline; problems block publishing."""

from __future__ import annotations

import asyncio

import pytest

from sdk.testing import assert_problem

pytestmark = pytest.mark.creator_plugins("website")


async def test_publish_serves_the_page(web, visitor, events, owner) -> None:
    site = await web.site("pub")
    home = await web.page(site["id"], "home", "Home")
    about = await web.page(site["id"], "about", "About")
    await web.heading(site["id"], home["id"], "Welcome home")
    await web.heading(site["id"], about["id"], "All about us")

    r = await web.client.post(web.page_url(site["id"], home["id"], "/publish"))
    assert r.status_code == 200, r.text
    view = r.json()
    assert view["status"] == "published" and view["published_revision"] == 2
    assert view["revision"] == 2 and view["has_unpublished_changes"] is False
    assert view["published_at"]
    assert r.headers["etag"] == f'"{view["version"]}"'
    assert (await web.get_page(site["id"], home["id"])) == view

    r = await visitor.get("/sites/pub")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/html")
    assert "Welcome home" in r.text and "All about us" not in r.text
    assert (await visitor.get("/sites/pub/home")).text == r.text
    assert (await visitor.get("/sites/pub/about")).status_code == 404

    await web.publish(site["id"], about["id"])
    r = await visitor.get("/sites/pub/about")
    assert r.status_code == 200 and "All about us" in r.text

    published = await events(owner, "page_published")
    assert [e["payload"] for e in published] == [
        {"site_id": site["id"], "page_id": about["id"], "slug": "about", "revision": 2},
        {"site_id": site["id"], "page_id": home["id"], "slug": "home", "revision": 2},
    ]
    assert published[0]["target_id"] == about["id"]


async def test_a_custom_home_page(web, visitor) -> None:
    site = await web.site("custom-home", settings={"home_page": "start"})
    start = await web.page(site["id"], "start", "Start")
    await web.heading(site["id"], start["id"], "Starting point")
    view = await web.publish(site["id"], start["id"])
    assert view["url"].endswith("/sites/custom-home/")
    r = await visitor.get("/sites/custom-home")
    assert r.status_code == 200 and "Starting point" in r.text


async def test_edits_after_publish_stay_in_the_draft(web, visitor) -> None:
    site, page = await web.published_site("iso", "Version one")
    live = (await visitor.get("/sites/iso")).text
    assert "Version one" in live

    node = (await web.heading(site["id"], page["id"], "Version two"))["node"]
    await web.patch_page(site["id"], page["id"], title="Renamed")
    draft = await web.get_page(site["id"], page["id"])
    assert draft["has_unpublished_changes"] is True
    assert draft["status"] == "published" and draft["published_revision"] == 2
    assert draft["revision"] == 4
    r = await visitor.get("/sites/iso")
    assert r.text == live and "Version two" not in r.text and "Renamed" not in r.text
    preview = await web.client.get(web.page_url(site["id"], page["id"], "/preview"))
    assert "Version two" in preview.text

    view = await web.publish(site["id"], page["id"])
    assert view["has_unpublished_changes"] is False and view["published_revision"] == 4
    r = await visitor.get("/sites/iso")
    assert "Version two" in r.text and "Renamed" in r.text

    await web.client.delete(web.node_url(site["id"], page["id"], node["id"]))
    assert (await web.get_page(site["id"], page["id"]))["has_unpublished_changes"] is True
    assert "Version two" in (await visitor.get("/sites/iso")).text


async def test_restoring_a_revision_does_not_change_the_live_page(web, visitor) -> None:
    site, page = await web.published_site("restore", "Live words")
    r = await web.client.post(web.page_url(site["id"], page["id"], "/revisions/1/restore"))
    assert r.status_code == 200 and r.json()["tree"] == []
    assert r.json()["has_unpublished_changes"] is True
    assert "Live words" in (await visitor.get("/sites/restore")).text


async def test_unpublish_takes_the_page_offline(web, visitor, events, owner) -> None:
    site, page = await web.published_site("off", "Soon gone")
    assert (await visitor.get("/sites/off")).status_code == 200
    r = await web.client.post(web.page_url(site["id"], page["id"], "/unpublish"))
    assert r.status_code == 200, r.text
    view = r.json()
    assert view["status"] == "draft" and view["published_revision"] is None
    assert view["published_at"] is None and view["has_unpublished_changes"] is True
    assert r.headers["etag"] == f'"{view["version"]}"'
    r = await visitor.get("/sites/off")
    assert r.status_code == 404 and "Soon gone" not in r.text
    assert (await visitor.get("/sites/off/home")).status_code == 404
    unpublished = await events(owner, "page_unpublished")
    assert [e["payload"]["page_id"] for e in unpublished] == [page["id"]]
    # unpublishing again changes nothing
    again = await web.unpublish(site["id"], page["id"])
    assert again["version"] == view["version"]
    assert len(await events(owner, "page_unpublished")) == 1
    # and it can go live again
    await web.publish(site["id"], page["id"])
    assert "Soon gone" in (await visitor.get("/sites/off")).text


async def test_an_image_without_alt_text_blocks_publishing(web, visitor) -> None:
    site = await web.site("blocked")
    page = await web.page(site["id"])
    image = (
        await web.add(site["id"], page["id"], "image", props={"src": "https://cdn.example/cat.png"})
    )["node"]
    r = await web.client.post(web.page_url(site["id"], page["id"], "/publish"))
    err = assert_problem(r, 422, "publish_blocked")
    assert err["type"].endswith("publish-blocked")
    assert isinstance(err["problems"], list) and len(err["problems"]) == 1
    found = err["problems"][0]
    assert found["node_id"] == image["id"] and found["component"] == "image"
    assert "alt" in found["problem"]
    assert (await visitor.get("/sites/blocked")).status_code == 404
    got = await web.get_page(site["id"], page["id"])
    assert got["status"] == "draft" and got["published_revision"] is None

    await web.client.patch(
        web.node_url(site["id"], page["id"], image["id"]), json={"props": {"alt": "A cat"}}
    )
    await web.publish(site["id"], page["id"])
    r = await visitor.get("/sites/blocked")
    assert r.status_code == 200 and 'alt="A cat"' in r.text


async def test_a_blocked_publish_keeps_the_old_live_page(web, visitor) -> None:
    site, page = await web.published_site("keep", "Old and fine")
    section = (await web.add(site["id"], page["id"], "section"))["node"]["id"]
    await web.add(
        site["id"],
        page["id"],
        "image",
        parent_id=section,
        props={"src": "https://cdn.example/x.png"},
    )
    await web.add(site["id"], page["id"], "embed")
    publish = web.page_url(site["id"], page["id"], "/publish")
    err = assert_problem(await web.client.post(publish), 422, "publish_blocked")
    assert {p["component"] for p in err["problems"]} == {"image", "embed"}
    assert "Old and fine" in (await visitor.get("/sites/keep")).text
    got = await web.get_page(site["id"], page["id"])
    assert got["published_revision"] == 2 and got["has_unpublished_changes"] is True


async def test_a_decorative_image_may_go_without_alt(web) -> None:
    site = await web.site("deco")
    page = await web.page(site["id"])
    await web.add(
        site["id"],
        page["id"],
        "image",
        props={"src": "https://cdn.example/line.png", "decorative": True},
    )
    assert (await web.publish(site["id"], page["id"]))["status"] == "published"


async def test_concurrent_publishes_are_fine(web, visitor, events, owner) -> None:
    site = await web.site("twice")
    page = await web.page(site["id"])
    await web.heading(site["id"], page["id"], "Concurrent")
    url = web.page_url(site["id"], page["id"], "/publish")
    results = await asyncio.gather(*(web.client.post(url) for _ in range(3)))
    assert [r.status_code for r in results] == [200, 200, 200], [r.text for r in results]
    assert {r.json()["published_revision"] for r in results} == {2}
    assert "Concurrent" in (await visitor.get("/sites/twice")).text
    assert len(await events(owner, "page_published")) == 3


async def test_publish_with_if_match(web) -> None:
    site = await web.site("ifmatch")
    page = await web.page(site["id"])
    stale = f'"{page["version"]}"'
    await web.heading(site["id"], page["id"], "x")
    r = await web.client.post(
        web.page_url(site["id"], page["id"], "/publish"), headers={"If-Match": stale}
    )
    assert_problem(r, 412, "version_mismatch")
    current = (await web.client.get(web.page_url(site["id"], page["id"]))).headers["etag"]
    r = await web.client.post(
        web.page_url(site["id"], page["id"], "/publish"), headers={"If-Match": current}
    )
    assert r.status_code == 200, r.text
    published = r.headers["etag"]
    r = await web.client.post(
        web.page_url(site["id"], page["id"], "/unpublish"), headers={"If-Match": current}
    )
    assert_problem(r, 412, "version_mismatch")
    r = await web.client.post(
        web.page_url(site["id"], page["id"], "/unpublish"), headers={"If-Match": published}
    )
    assert r.status_code == 200, r.text


async def test_a_renamed_page_moves_when_published_again(web, visitor) -> None:
    site = await web.site("moving")
    page = await web.page(site["id"], "about")
    await web.heading(site["id"], page["id"], "About words")
    await web.publish(site["id"], page["id"])
    await web.patch_page(site["id"], page["id"], slug="team")
    assert "About words" in (await visitor.get("/sites/moving/about")).text
    assert (await visitor.get("/sites/moving/team")).status_code == 404
    view = await web.publish(site["id"], page["id"])
    assert view["url"].endswith("/sites/moving/team")
    assert "About words" in (await visitor.get("/sites/moving/team")).text
    assert (await visitor.get("/sites/moving/about")).status_code == 404
    sitemap = (await visitor.get("/sites/moving/sitemap.xml")).text
    assert "/sites/moving/team<" in sitemap and "/sites/moving/about<" not in sitemap


async def test_publish_racing_delete_never_leaves_a_live_orphan(web, visitor):
    site = await web.site("racing")
    for n in range(5):
        page = await web.page(site["id"], f"p{n}")
        await web.heading(site["id"], page["id"], "Racing")
        publish, remove = await asyncio.gather(
            web.client.post(web.page_url(site["id"], page["id"], "/publish")),
            web.client.delete(web.page_url(site["id"], page["id"])),
        )
        assert publish.status_code in (200, 404) and remove.status_code == 204
        assert (await visitor.get(f"/sites/racing/p{n}")).status_code == 404

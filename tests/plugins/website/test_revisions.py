"""Revisions: every save keeps one; list (newest first, paged), read one with its content,
restore an older one as a new revision (nothing is lost)."""

from __future__ import annotations

import pytest

from sdk.testing import assert_problem

pytestmark = pytest.mark.creator_plugins("website")


async def test_every_save_adds_a_revision(web, owner) -> None:
    site = await web.site()
    page = await web.page(site["id"], "home", "Home")
    node = (await web.heading(site["id"], page["id"], "one"))["node"]
    await web.client.patch(
        web.node_url(site["id"], page["id"], node["id"]), json={"props": {"text": "two"}}
    )
    await web.patch_page(site["id"], page["id"], title="Start")
    await web.client.delete(web.node_url(site["id"], page["id"], node["id"]))
    listed = await web.revisions(site["id"], page["id"])
    items = listed["items"]
    assert [r["number"] for r in items] == [5, 4, 3, 2, 1]
    assert listed["next_cursor"] is None
    assert items[-1]["summary"] == "created" and items[0]["summary"] == "removed component"
    assert items[2]["summary"] == "edited component"
    assert [r["title"] for r in items] == ["Start", "Start", "Home", "Home", "Home"]
    assert all(r["page_id"] == page["id"] and r["slug"] == "home" for r in items)
    assert all(r["author_id"] == str(owner.person.id) for r in items)
    # the listing is light: no trees
    assert all(r.get("tree") is None for r in items)
    assert (await web.get_page(site["id"], page["id"]))["revision"] == 5


async def test_revisions_page_through_with_a_cursor(web) -> None:
    site = await web.site()
    page = await web.page(site["id"])
    for i in range(4):
        await web.heading(site["id"], page["id"], f"h{i}")
    numbers: list[int] = []
    cursor = None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        listed = await web.revisions(site["id"], page["id"], **params)
        assert len(listed["items"]) <= 2
        numbers += [r["number"] for r in listed["items"]]
        cursor = listed["next_cursor"]
        if cursor is None:
            break
    assert numbers == [5, 4, 3, 2, 1]


async def test_revisions_belong_to_their_page(web) -> None:
    site = await web.site()
    one = await web.page(site["id"], "one")
    two = await web.page(site["id"], "two")
    await web.heading(site["id"], two["id"], "x")
    assert [r["number"] for r in (await web.revisions(site["id"], one["id"]))["items"]] == [1]
    assert [r["number"] for r in (await web.revisions(site["id"], two["id"]))["items"]] == [2, 1]


async def test_get_one_revision_with_its_tree(web) -> None:
    site = await web.site()
    page = await web.page(site["id"], seo={"description": "first"})
    first = (await web.heading(site["id"], page["id"], "first"))["node"]
    await web.heading(site["id"], page["id"], "second")
    r = await web.client.get(web.page_url(site["id"], page["id"], "/revisions/2"))
    assert r.status_code == 200, r.text
    rev = r.json()
    assert rev["number"] == 2 and rev["page_id"] == page["id"]
    assert rev["tree"] == [first] and rev["seo"] == {"description": "first"}
    r = await web.client.get(web.page_url(site["id"], page["id"], "/revisions/1"))
    assert r.json()["tree"] == []
    assert_problem(await web.client.get(web.page_url(site["id"], page["id"], "/revisions/99")), 404)
    r = await web.client.get(web.page_url(site["id"], page["id"], "/revisions/zero"))
    assert r.status_code in {400, 404, 422}


async def test_restore_an_older_revision(web, events, owner) -> None:
    site = await web.site()
    page = await web.page(site["id"], "home", "Home")
    keep = (await web.heading(site["id"], page["id"], "keep me"))["node"]  # revision 2
    await web.patch_page(
        site["id"],
        page["id"],
        title="Changed",
        slug="changed",
        seo={"description": "new"},
        tree=[{"id": "other", "type": "text"}],
    )  # revision 3
    r = await web.client.post(web.page_url(site["id"], page["id"], "/revisions/2/restore"))
    assert r.status_code == 200, r.text
    restored = r.json()
    assert r.headers["etag"] == f'"{restored["version"]}"'
    assert restored["revision"] == 4
    assert restored["tree"] == [keep]
    assert restored["title"] == "Home" and restored["slug"] == "home"
    assert restored.get("seo", {}) in ({}, {"description": ""})
    listed = (await web.revisions(site["id"], page["id"]))["items"]
    assert [r["number"] for r in listed] == [4, 3, 2, 1]
    assert listed[0]["summary"] == "restored revision 2"
    # nothing lost: revision 3 is still there, and can itself be restored
    r3 = (await web.client.get(web.page_url(site["id"], page["id"], "/revisions/3"))).json()
    assert r3["title"] == "Changed" and r3["tree"][0]["id"] == "other"
    r = await web.client.post(web.page_url(site["id"], page["id"], "/revisions/3/restore"))
    assert r.status_code == 200 and r.json()["revision"] == 5
    assert r.json()["slug"] == "changed" and r.json()["tree"][0]["id"] == "other"
    updated = await events(owner, "page_updated", page["id"])
    assert sorted(updated[0]["payload"]["changed"]) == ["seo", "slug", "title", "tree"]

    restore = web.page_url(site["id"], page["id"], "/revisions/42/restore")
    assert_problem(await web.client.post(restore), 404)
    stale = f'"{page["version"]}"'
    r = await web.client.post(
        web.page_url(site["id"], page["id"], "/revisions/1/restore"), headers={"If-Match": stale}
    )
    assert_problem(r, 412, "version_mismatch")


async def test_restoring_onto_a_taken_slug_is_409(web) -> None:
    site = await web.site()
    page = await web.page(site["id"], "about")
    await web.patch_page(site["id"], page["id"], slug="about-us")
    await web.page(site["id"], "about")
    r = await web.client.post(web.page_url(site["id"], page["id"], "/revisions/1/restore"))
    assert assert_problem(r, 409, "conflict")["field"] == "slug"
    assert (await web.get_page(site["id"], page["id"]))["slug"] == "about-us"

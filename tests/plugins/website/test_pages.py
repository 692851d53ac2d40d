"""Pages through the API: drafts, listing, edits (title, slug, SEO, whole tree) validated
against the components, slugs unique per site, delete and duplicate."""

from __future__ import annotations

import asyncio
import json
import time
import uuid

import pytest

from sdk.testing import assert_problem

pytestmark = pytest.mark.creator_plugins("website")

TREE = [
    {
        "id": "hero",
        "type": "section",
        "props": {"background": "accent"},
        "children": [
            {"id": "title", "type": "heading", "props": {"text": "Hello", "level": 1}},
            {
                "id": "cols",
                "type": "columns",
                "children": [
                    {"id": "left", "type": "text", "props": {"html": "<p>Left</p>"}},
                    {"id": "right", "type": "button", "props": {"label": "Go", "href": "/shop"}},
                ],
            },
        ],
    },
    {"id": "outro", "type": "text"},
]


def ids(tree: list[dict]) -> list[str]:
    out: list[str] = []
    for node in tree:
        out.append(node["id"])
        out += ids(node.get("children", []))
    return out


async def test_create_is_a_draft_at_revision_one(web, events, owner) -> None:
    site = await web.site()
    r = await web.client.post(
        web.site_url(site["id"], "/pages"),
        json={"title": "About us", "slug": "about", "seo": {"description": "Who we are"}},
    )
    assert r.status_code == 201, r.text
    page = r.json()
    assert page["status"] == "draft" and page["revision"] == 1
    assert page["published_revision"] is None and page["published_at"] is None
    assert page["has_unpublished_changes"] is True
    assert page["site_id"] == site["id"] and page["tree"] == []
    assert page["title"] == "About us" and page["slug"] == "about"
    assert page["seo"]["description"] == "Who we are"
    assert page["url"].endswith("/sites/my-site/about")
    assert r.headers["etag"] == f'"{page["version"]}"'

    home = await web.page(site["id"], "home")
    assert home["url"].endswith("/sites/my-site/")
    created = await events(owner, "page_created")
    assert {e["payload"]["page_id"] for e in created} == {page["id"], home["id"]}


async def test_create_with_a_tree_normalises_props(web) -> None:
    site = await web.site()
    page = await web.page(site["id"], "home", tree=TREE)
    assert ids(page["tree"]) == ids(TREE)
    title = page["tree"][0]["children"][0]
    assert title["props"] == {"text": "Hello", "level": 1, "align": "start"}
    assert page["tree"][1]["props"]["html"] == "<p>Write something here.</p>"
    got = await web.get_page(site["id"], page["id"])
    assert got["tree"] == page["tree"]


async def test_list_pages_with_a_cursor(web) -> None:
    site = await web.site()
    other = await web.site("other")
    made = [await web.page(site["id"], f"p{i}") for i in range(5)]
    await web.page(other["id"], "elsewhere")
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        r = await web.client.get(web.site_url(site["id"], "/pages"), params=params)
        assert r.status_code == 200, r.text
        assert len(r.json()["items"]) <= 2
        seen += [p["id"] for p in r.json()["items"]]
        cursor = r.json()["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(p["id"] for p in made)


async def test_get_page_of_another_site_is_404(web) -> None:
    one, two = await web.site("one"), await web.site("two")
    page = await web.page(one["id"])
    assert_problem(await web.client.get(web.page_url(two["id"], page["id"])), 404, "not_found")
    r = await web.client.patch(web.page_url(two["id"], page["id"]), json={"title": "x"})
    assert_problem(r, 404)
    assert_problem(await web.client.get(web.page_url(one["id"], str(uuid.uuid4()))), 404)


async def test_patch_title_slug_and_seo(web, events, owner) -> None:
    site = await web.site()
    page = await web.page(site["id"], "about")
    url = web.page_url(site["id"], page["id"])
    r = await web.client.patch(url, json={"title": "About me"})
    assert r.status_code == 200, r.text
    assert r.json()["title"] == "About me" and r.json()["revision"] == 2
    assert r.headers["etag"] == f'"{r.json()["version"]}"'

    r = await web.client.patch(
        url, json={"slug": "me", "seo": {"description": "Bio", "noindex": True}}
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["slug"] == "me" and body["seo"] == {"description": "Bio", "noindex": True}
    assert body["revision"] == 3 and body["url"].endswith("/me")

    updated = await events(owner, "page_updated", page["id"])
    assert [sorted(e["payload"]["changed"]) for e in updated] == [["seo", "slug"], ["title"]]
    assert [e["payload"]["revision"] for e in updated] == [3, 2]


async def test_patch_without_change_adds_no_revision(web) -> None:
    site = await web.site()
    page = await web.page(site["id"], "about", "About")
    body = await web.patch_page(site["id"], page["id"], title="About", slug="about")
    assert body["revision"] == 1 and body["version"] == page["version"]


async def test_patch_tree_replaces_the_whole_tree(web, events, owner) -> None:
    site = await web.site()
    page = await web.page(site["id"])
    await web.heading(site["id"], page["id"], "old")
    body = await web.patch_page(site["id"], page["id"], tree=TREE)
    assert ids(body["tree"]) == ids(TREE)
    body = await web.patch_page(site["id"], page["id"], tree=[{"id": "only", "type": "heading"}])
    assert body["tree"] == [
        {
            "id": "only",
            "type": "heading",
            "props": {"text": "Heading", "level": 2, "align": "start"},
        }
    ]
    assert body["revision"] == 4
    updated = await events(owner, "page_updated", page["id"])
    assert updated[0]["payload"]["changed"] == ["tree"]


BAD_TREES = [
    ([{"id": "a", "type": "heading", "props": {"level": 9}}], "tree[0].props.level"),
    ([{"id": "a", "type": "heading", "props": {"level": "one"}}], "tree[0].props.level"),
    ([{"id": "a", "type": "heading", "props": {"colour": "red"}}], "tree[0].props.colour"),
    ([{"id": "a", "type": "section"}, {"id": "b", "type": "marquee"}], "tree[1].type"),
    (
        [{"id": "a", "type": "heading", "children": [{"id": "b", "type": "text"}]}],
        "tree[0].children",
    ),
    (
        [
            {
                "id": "a",
                "type": "section",
                "children": [
                    {"id": "b", "type": "button", "props": {"href": "javascript:alert(1)"}}
                ],
            }
        ],
        "tree[0].children[0].props",
    ),
    ([{"id": "a", "type": "text"}, {"id": "a", "type": "text"}], "tree[1].id"),
    ([{"id": "bad id!", "type": "text"}], "tree[0].id"),
    ([{"id": "a", "type": "embed", "props": {"url": "http://insecure.example"}}], "tree[0].props"),
]


async def test_invalid_trees_are_refused_naming_the_path(web) -> None:
    site = await web.site()
    page = await web.page(site["id"])
    url = web.page_url(site["id"], page["id"])
    for tree, field in BAD_TREES:
        r = await web.client.patch(url, json={"tree": tree})
        err = assert_problem(r, 422)
        assert (err.get("field") or "").startswith(field), (tree, err)
        r = await web.client.post(
            web.site_url(site["id"], "/pages"), json={"title": "T", "slug": "new", "tree": tree}
        )
        err = assert_problem(r, 422)
        assert (err.get("field") or "").startswith(field), (tree, err)
    assert (await web.get_page(site["id"], page["id"]))["revision"] == 1
    listed = (await web.client.get(web.site_url(site["id"], "/pages"))).json()["items"]
    assert [p["id"] for p in listed] == [page["id"]]


async def test_too_deep_a_tree_is_refused(web) -> None:
    site = await web.site()
    page = await web.page(site["id"])
    tree: list[dict] = [{"id": "leaf", "type": "text"}]
    for depth in range(7):
        tree = [{"id": f"s{depth}", "type": "section", "children": tree}]
    r = await web.client.patch(web.page_url(site["id"], page["id"]), json={"tree": tree})
    assert_problem(r, 422, "validation_failed")


async def test_duplicate_slug_within_a_site_is_409(web) -> None:
    site = await web.site()
    other = await web.site("other")
    await web.page(site["id"], "about")
    r = await web.client.post(
        web.site_url(site["id"], "/pages"), json={"title": "Again", "slug": "about"}
    )
    assert assert_problem(r, 409, "conflict")["field"] == "slug"
    # another site may use the slug
    await web.page(other["id"], "about")
    # renaming onto a taken slug
    contact = await web.page(site["id"], "contact")
    r = await web.client.patch(web.page_url(site["id"], contact["id"]), json={"slug": "about"})
    assert assert_problem(r, 409, "conflict")["field"] == "slug"
    assert (await web.get_page(site["id"], contact["id"]))["slug"] == "contact"


async def test_a_renamed_live_page_keeps_its_old_slug_until_republished(web) -> None:
    site = await web.site()
    page = await web.page(site["id"], "about")
    await web.publish(site["id"], page["id"])
    await web.patch_page(site["id"], page["id"], slug="about-us")
    r = await web.client.post(
        web.site_url(site["id"], "/pages"), json={"title": "A", "slug": "about"}
    )
    assert_problem(r, 409, "conflict")
    await web.publish(site["id"], page["id"])
    await web.page(site["id"], "about")


async def test_page_if_match(web) -> None:
    site = await web.site()
    page = await web.page(site["id"])
    url = web.page_url(site["id"], page["id"])
    etag = f'"{page["version"]}"'
    r = await web.client.patch(url, json={"title": "One"}, headers={"If-Match": etag})
    assert r.status_code == 200, r.text
    r = await web.client.patch(url, json={"title": "Two"}, headers={"If-Match": etag})
    assert assert_problem(r, 412, "version_mismatch")["current_version"] == page["version"] + 1
    for method, path, body in [
        ("POST", "/components", {"type": "text"}),
        ("POST", "/publish", None),
        ("POST", "/unpublish", None),
        ("DELETE", "", None),
    ]:
        r = await web.client.request(method, url + path, json=body, headers={"If-Match": etag})
        assert_problem(r, 412, "version_mismatch")
    assert (await web.get_page(site["id"], page["id"]))["title"] == "One"


async def test_delete_page_takes_it_offline(web, visitor) -> None:
    site = await web.site()
    home = await web.page(site["id"], "home")
    about = await web.page(site["id"], "about")
    await web.heading(site["id"], about["id"], "About text")
    await web.publish(site["id"], about["id"])
    await web.publish(site["id"], home["id"])
    r = await visitor.get("/sites/my-site/about")
    assert r.status_code == 200 and "About text" in r.text

    r = await web.client.delete(web.page_url(site["id"], about["id"]))
    assert r.status_code == 204, r.text
    assert_problem(await web.client.get(web.page_url(site["id"], about["id"])), 404)
    r = await visitor.get("/sites/my-site/about")
    assert r.status_code == 404 and "About text" not in r.text
    assert (await visitor.get("/sites/my-site")).status_code == 200
    listed = (await web.client.get(web.site_url(site["id"], "/pages"))).json()["items"]
    assert [p["id"] for p in listed] == [home["id"]]
    # the slug is free again
    await web.page(site["id"], "about")
    assert_problem(await web.client.delete(web.page_url(site["id"], about["id"])), 404)


async def test_duplicate_page(web) -> None:
    site = await web.site()
    page = await web.page(site["id"], "home", "Home", tree=TREE, seo={"description": "d"})
    r = await web.client.post(
        web.page_url(site["id"], page["id"], "/duplicate"), json={"slug": "home-copy"}
    )
    assert r.status_code == 201, r.text
    copy = r.json()
    assert copy["id"] != page["id"] and copy["slug"] == "home-copy"
    assert copy["title"] == "Home (copy)" and copy["status"] == "draft"
    assert copy["revision"] == 1 and copy["published_revision"] is None
    assert copy["seo"] == page["seo"]
    assert len(ids(copy["tree"])) == len(ids(page["tree"]))
    assert not set(ids(copy["tree"])) & set(ids(page["tree"]))
    assert len(set(ids(copy["tree"]))) == len(ids(copy["tree"]))

    def shape(tree: list[dict]) -> list:
        return [(n["type"], n["props"], shape(n.get("children", []))) for n in tree]

    assert shape(copy["tree"]) == shape(page["tree"])
    assert r.headers["etag"] == f'"{copy["version"]}"'

    r = await web.client.post(
        web.page_url(site["id"], page["id"], "/duplicate"), json={"slug": "two", "title": "Two"}
    )
    assert r.status_code == 201 and r.json()["title"] == "Two"
    r = await web.client.post(
        web.page_url(site["id"], page["id"], "/duplicate"), json={"slug": "home-copy"}
    )
    assert assert_problem(r, 409, "conflict")["field"] == "slug"
    r = await web.client.post(
        web.page_url(site["id"], page["id"], "/duplicate"), json={"slug": "Bad Slug"}
    )
    assert_problem(r, 422)
    # the source is untouched
    assert (await web.get_page(site["id"], page["id"]))["revision"] == 1


async def test_preview_and_canvas(web, visitor) -> None:
    site = await web.site()
    page = await web.page(site["id"], "home", tree=TREE)
    r = await web.client.get(web.page_url(site["id"], page["id"], "/preview"))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/html")
    assert r.headers["cache-control"] == "no-store"
    assert "noindex" in r.headers.get("x-robots-tag", "")
    assert "Hello" in r.text and "<!doctype html>" in r.text.lower()
    r = await web.client.get(web.page_url(site["id"], page["id"], "/canvas"))
    assert r.status_code == 200, r.text
    assert 'data-node-id="title"' in r.text and 'data-node-id="cols"' in r.text
    # a draft is not public
    assert (await visitor.get("/sites/my-site")).status_code == 404
    r = await visitor.get(web.page_url(site["id"], page["id"], "/preview"))
    assert r.status_code in {401, 404}


async def test_concurrent_creates_of_one_slug(web) -> None:
    site = await web.site()
    url = web.site_url(site["id"], "/pages")
    results = await asyncio.gather(
        *(web.client.post(url, json={"title": f"T{i}", "slug": "same"}) for i in range(3))
    )
    assert sorted(r.status_code for r in results) == [201, 409, 409], [r.text for r in results]
    listed = (await web.client.get(url)).json()["items"]
    assert [p["slug"] for p in listed] == ["same"]


async def test_customers_read_no_drafts_through_the_things_api(
    web, owner, creator_platform
) -> None:
    """A published page is a ``published`` thing, which customers may read through core's
    generic things API: they see what the website declares public of it (where and when
    it is live), never the draft's tree, SEO, title or slug."""
    site = await web.site()
    page = await web.page(site["id"], title="Launch", slug="launch")
    await web.heading(site["id"], page["id"], "Live words")
    await web.publish(site["id"], page["id"])
    await web.patch_page(
        site["id"], page["id"], title="Secret sale", slug="secret", seo={"description": "Draft"}
    )
    await web.heading(site["id"], page["id"], "Unannounced price")
    customer = await creator_platform.client_as("customer", group=owner)
    r = await customer.client.get(owner.url(f"/things/{page['id']}"))
    assert r.status_code == 200, r.text
    seen = r.json()
    assert set(seen["properties"]) == {"site_id", "published_revision", "published_at"}
    assert seen["name"] == ""  # the draft's title
    assert "Unannounced" not in r.text and "Draft" not in r.text and "secret" not in r.text
    listed = await customer.client.get(
        owner.url("/things"), params={"type": "page", "status": "published"}
    )
    assert listed.status_code == 200
    assert [t["properties"] for t in listed.json()["items"]] == [seen["properties"]]
    assert "Unannounced" not in listed.text
    # nor can a filter on a hidden property tell its value
    probe = {"type": "page", "status": "published", "where.slug": "secret"}
    r = await customer.client.get(owner.url("/things"), params=probe)
    assert assert_problem(r, 422, "validation_failed")["field"] == "where.slug"
    probe = {"type": "page", "status": "published", "where.site_id": site["id"]}
    assert len((await customer.client.get(owner.url("/things"), params=probe)).json()["items"]) == 1
    # members still read the whole draft
    r = await owner.client.get(owner.url(f"/things/{page['id']}"))
    assert "Unannounced price" in r.text and r.json()["properties"]["seo"]["description"] == "Draft"


async def test_a_page_of_rich_text_that_grows_when_cleaned_is_refused_off_the_loop(
    web, creator_platform
) -> None:
    # The sanitiser runs off the loop; each text component's 50,000 characters are bounded,
    # but a body holds many of them.
    nested = "<p>" * (50_000 // 3)
    tree = [{"id": f"t{i}", "type": "text", "props": {"html": nested}} for i in range(18)]
    body = json.dumps({"tree": tree})
    assert len(body) <= creator_platform.settings.max_body_bytes
    site = await web.site()
    page = await web.page(site["id"])
    worst = [0.0]
    done = asyncio.Event()

    async def probe() -> None:
        last = time.perf_counter()
        while not done.is_set():
            await asyncio.sleep(0.01)
            now = time.perf_counter()
            worst[0] = max(worst[0], now - last - 0.01)
            last = now

    task = asyncio.create_task(probe())
    await asyncio.sleep(0.02)
    try:
        r = await web.client.patch(
            web.page_url(site["id"], page["id"]),
            content=body,
            headers={"content-type": "application/json"},
        )
        # Cleaned, each text more than doubles (every <p> gets closed): refused, so the
        # page is never left holding text that fails its next save.
        assert assert_problem(r, 422, "validation_failed")["field"].startswith("tree")
        assert "once cleaned" in r.json()["detail"]
    finally:
        done.set()
        await task
    assert worst[0] < 1.0, f"the loop was held for {worst[0]:.2f} s"
    # The page stays editable.
    ok = await web.client.patch(
        web.page_url(site["id"], page["id"]),
        json={"tree": [{"id": "t0", "type": "text", "props": {"html": "<ul><li>a</li></ul>"}}]},
    )
    assert ok.status_code == 200, ok.text


async def test_rich_text_nested_too_deep_is_refused_before_it_is_parsed(web) -> None:
    """The sanitiser's tree builder slows with the square of nesting depth ("<ul><li>"
    repeated to 50,000 characters took 0.2 s): depth is counted in one pass first."""
    site = await web.site()
    page = await web.page(site["id"])
    url = web.page_url(site["id"], page["id"])
    for html in ("<ul><li>" * 6250, "<div>" * 101, "<blockquote>" * 200 + "x"):
        tree = [{"id": "t0", "type": "text", "props": {"html": html}}]
        r = await web.client.patch(url, json={"tree": tree})
        problem = assert_problem(r, 422, "validation_failed")
        assert problem["field"].startswith("tree") and "deep" in problem["detail"]
    # Flat text, lists and paragraphs left open are not depth: they are kept.
    fine = "<div>" * 99 + "<ul><li>a<li>b</ul>" + "<p>x" * 500
    r = await web.client.patch(
        url, json={"tree": [{"id": "t0", "type": "text", "props": {"html": fine}}]}
    )
    assert r.status_code == 200, r.text

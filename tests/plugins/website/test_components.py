"""Components through the API: add (defaults, position, into containers), change props
(merge; null resets), move, remove; rich text is sanitised, unsafe links refused."""

from __future__ import annotations

import asyncio

import pytest

from sdk.testing import assert_problem

pytestmark = pytest.mark.creator_plugins("website")


def ids(tree: list[dict]) -> list[str]:
    return [n["id"] for n in tree]


@pytest.fixture
async def page(web) -> tuple[str, str]:
    site = await web.site()
    page = await web.page(site["id"])
    return site["id"], page["id"]


async def test_add_fills_defaults_and_appends(web, page, events, owner) -> None:
    site_id, page_id = page
    r = await web.client.post(
        web.page_url(site_id, page_id, "/components"), json={"type": "heading"}
    )
    assert r.status_code == 201, r.text
    body = r.json()
    node = body["node"]
    assert node["type"] == "heading"
    assert node["props"] == {"text": "Heading", "level": 2, "align": "start"}
    assert body["page"]["tree"] == [node] and body["page"]["revision"] == 2
    assert r.headers["etag"] == f'"{body["page"]["version"]}"'

    second = await web.add(site_id, page_id, "text", props={"align": "center"})
    assert second["node"]["props"]["align"] == "center"
    assert second["node"]["props"]["html"] == "<p>Write something here.</p>"
    assert ids(second["page"]["tree"]) == [node["id"], second["node"]["id"]]

    added = await events(owner, "component_added", page_id)
    assert [e["payload"]["component"] for e in added] == ["text", "heading"]
    assert added[1]["payload"] == {
        "site_id": site_id,
        "page_id": page_id,
        "node_id": node["id"],
        "component": "heading",
        "parent_id": None,
    }
    updated = await events(owner, "page_updated", page_id)
    assert [e["payload"]["changed"] for e in updated] == [["tree"], ["tree"]]


async def test_add_at_a_position(web, page) -> None:
    site_id, page_id = page
    a = (await web.heading(site_id, page_id, "a"))["node"]["id"]
    b = (await web.heading(site_id, page_id, "b"))["node"]["id"]
    first = (await web.heading(site_id, page_id, "first", position=0))["node"]["id"]
    middle = await web.heading(site_id, page_id, "middle", position=2)
    last = await web.heading(site_id, page_id, "last", position=99)
    assert ids(last["page"]["tree"]) == [first, a, middle["node"]["id"], b, last["node"]["id"]]


async def test_add_into_section_and_columns(web, page, events, owner) -> None:
    site_id, page_id = page
    section = (await web.add(site_id, page_id, "section"))["node"]["id"]
    columns = (await web.add(site_id, page_id, "columns", parent_id=section))["node"]["id"]
    left = await web.add(site_id, page_id, "text", parent_id=columns)
    right = await web.add(site_id, page_id, "button", parent_id=columns, position=0)
    tree = right["page"]["tree"]
    assert ids(tree) == [section]
    assert ids(tree[0]["children"]) == [columns]
    assert ids(tree[0]["children"][0]["children"]) == [right["node"]["id"], left["node"]["id"]]
    added = await events(owner, "component_added", page_id)
    assert added[0]["payload"]["parent_id"] == columns
    assert added[-1]["payload"]["parent_id"] is None


async def test_add_refusals(web, page) -> None:
    site_id, page_id = page
    heading = (await web.heading(site_id, page_id, "h"))["node"]["id"]
    url = web.page_url(site_id, page_id, "/components")
    err = assert_problem(await web.client.post(url, json={"type": "marquee"}), 422)
    assert err["field"] == "type"
    err = assert_problem(
        await web.client.post(url, json={"type": "text", "parent_id": heading}), 422
    )
    assert err["field"] == "parent_id"
    r = await web.client.post(url, json={"type": "text", "parent_id": "nope"})
    assert_problem(r, 404, "not_found")
    err = assert_problem(
        await web.client.post(url, json={"type": "heading", "props": {"level": 7}}), 422
    )
    assert err["field"] == "props.level"
    err = assert_problem(
        await web.client.post(url, json={"type": "heading", "props": {"x": 1}}), 422
    )
    assert err["field"] == "props.x"
    err = assert_problem(await web.client.post(url, json={"type": "text", "position": -1}), 422)
    assert err["field"] == "position"
    r = await web.client.post(
        url, json={"type": "button", "props": {"href": "javascript:alert(1)"}}
    )
    assert_problem(r, 422, "validation_failed")
    r = await web.client.post(url, json={"type": "button", "props": {"href": " JavaScript:x"}})
    assert_problem(r, 422, "validation_failed")
    r = await web.client.post(url, json={"type": "image", "props": {"src": "data:image/png,x"}})
    assert_problem(r, 422, "validation_failed")
    got = await web.get_page(site_id, page_id)
    assert ids(got["tree"]) == [heading] and got["revision"] == 2


async def test_rich_text_is_sanitised_when_stored(web, page) -> None:
    site_id, page_id = page
    html = '<script>alert(1)</script><p onclick=x>hi</p><a href="javascript:evil()">l</a>'
    node = (await web.add(site_id, page_id, "text", props={"html": html}))["node"]
    stored = (await web.get_page(site_id, page_id))["tree"][0]["props"]["html"]
    assert stored == node["props"]["html"]
    for bad in ("<script", "alert(1)", "onclick", "javascript:"):
        assert bad not in stored.lower(), stored
    assert "<p>hi</p>" in stored
    # through a props update and a whole-tree save too
    r = await web.client.patch(
        web.node_url(site_id, page_id, node["id"]),
        json={"props": {"html": '<p style="x" onmouseover="y">a</p><iframe src="x"></iframe>'}},
    )
    assert r.status_code == 200, r.text
    stored = r.json()["tree"][0]["props"]["html"]
    assert "onmouseover" not in stored and "iframe" not in stored and "style" not in stored
    body = await web.patch_page(
        site_id, page_id, tree=[{"id": "t", "type": "text", "props": {"html": html}}]
    )
    assert "<script" not in body["tree"][0]["props"]["html"]
    canvas = await web.client.get(web.page_url(site_id, page_id, "/canvas"))
    assert "<script>alert" not in canvas.text


async def test_update_merges_props_and_null_resets(web, page) -> None:
    site_id, page_id = page
    node = (
        await web.add(
            site_id, page_id, "heading", props={"text": "Hi", "level": 3, "align": "center"}
        )
    )["node"]
    url = web.node_url(site_id, page_id, node["id"])
    r = await web.client.patch(url, json={"props": {"level": 1}})
    assert r.status_code == 200, r.text
    changed = r.json()["tree"][0]
    assert changed["props"] == {"text": "Hi", "level": 1, "align": "center"}
    assert r.headers["etag"] == f'"{r.json()["version"]}"'
    r = await web.client.patch(url, json={"props": {"text": None, "align": None}})
    assert r.status_code == 200, r.text
    assert r.json()["tree"][0]["props"] == {"text": "Heading", "level": 1, "align": "start"}
    err = assert_problem(await web.client.patch(url, json={"props": {"level": 0}}), 422)
    assert err["field"] == "props.level"
    err = assert_problem(await web.client.patch(url, json={"props": {"size": 3}}), 422)
    assert err["field"] == "props.size"
    r = await web.client.patch(url, json={"props": {"href": "javascript:alert(1)"}})
    assert_problem(r, 422)
    assert (await web.get_page(site_id, page_id))["revision"] == 4


async def test_button_href_update_to_javascript_is_refused(web, page) -> None:
    site_id, page_id = page
    node = await web.add(site_id, page_id, "button", props={"href": "https://a.example"})
    url = web.node_url(site_id, page_id, node["node"]["id"])
    r = await web.client.patch(url, json={"props": {"href": "javascript:alert(1)"}})
    assert_problem(r, 422, "validation_failed")
    got = await web.get_page(site_id, page_id)
    assert got["tree"][0]["props"]["href"] == "https://a.example"


async def test_move_reorders_and_nests(web, page) -> None:
    site_id, page_id = page
    a = (await web.heading(site_id, page_id, "a"))["node"]["id"]
    b = (await web.heading(site_id, page_id, "b"))["node"]["id"]
    section = (await web.add(site_id, page_id, "section"))["node"]["id"]
    columns = (await web.add(site_id, page_id, "columns", parent_id=section))["node"]["id"]

    async def move(node_id: str, **body) -> dict:
        r = await web.client.post(web.node_url(site_id, page_id, node_id, "/move"), json=body)
        assert r.status_code == 200, r.text
        assert r.headers["etag"] == f'"{r.json()["version"]}"'
        return r.json()

    tree = (await move(b, position=0))["tree"]
    assert ids(tree) == [b, a, section]
    tree = (await move(a, parent_id=columns))["tree"]
    assert ids(tree) == [b, section]
    assert ids(tree[1]["children"][0]["children"]) == [a]
    tree = (await move(b, parent_id=section, position=0))["tree"]
    assert ids(tree) == [section]
    assert ids(tree[0]["children"]) == [b, columns]
    tree = (await move(a, position=5))["tree"]  # out of the container, to the end
    assert ids(tree) == [section, a]
    assert tree[0]["children"][1].get("children", []) == []
    page_now = await web.get_page(site_id, page_id)
    assert page_now["tree"] == tree and page_now["revision"] == 9

    url = web.node_url(site_id, page_id, section, "/move")
    err = assert_problem(await web.client.post(url, json={"parent_id": columns}), 422)
    assert err["field"] == "parent_id"
    err = assert_problem(await web.client.post(url, json={"parent_id": section}), 422)
    assert err["field"] == "parent_id"
    r = await web.client.post(web.node_url(site_id, page_id, b, "/move"), json={"parent_id": a})
    assert assert_problem(r, 422)["field"] == "parent_id"
    r = await web.client.post(
        web.node_url(site_id, page_id, "ghost", "/move"), json={"position": 0}
    )
    assert_problem(r, 404, "not_found")
    r = await web.client.post(
        web.node_url(site_id, page_id, a, "/move"), json={"parent_id": "ghost"}
    )
    assert_problem(r, 404, "not_found")
    assert (await web.get_page(site_id, page_id))["tree"] == tree


async def test_delete_component(web, page) -> None:
    site_id, page_id = page
    section = (await web.add(site_id, page_id, "section"))["node"]["id"]
    inner = (await web.add(site_id, page_id, "text", parent_id=section))["node"]["id"]
    other = (await web.heading(site_id, page_id, "x"))["node"]["id"]
    r = await web.client.delete(web.node_url(site_id, page_id, inner))
    assert r.status_code == 200, r.text
    assert r.json()["tree"][0].get("children", []) == []
    r = await web.client.delete(web.node_url(site_id, page_id, section))
    assert r.status_code == 200, r.text
    assert ids(r.json()["tree"]) == [other] and r.json()["revision"] == 6
    assert_problem(
        await web.client.delete(web.node_url(site_id, page_id, section)), 404, "not_found"
    )


async def test_unknown_node_is_404(web, page) -> None:
    site_id, page_id = page
    await web.heading(site_id, page_id, "x")
    url = web.node_url(site_id, page_id, "nope")
    assert_problem(await web.client.patch(url, json={"props": {"text": "y"}}), 404, "not_found")
    assert_problem(await web.client.post(url + "/move", json={"position": 0}), 404, "not_found")
    assert_problem(await web.client.delete(url), 404, "not_found")
    assert (await web.get_page(site_id, page_id))["revision"] == 2


async def test_concurrent_adds_both_land(web, page) -> None:
    site_id, page_id = page
    results = await asyncio.gather(*(web.heading(site_id, page_id, f"h{i}") for i in range(4)))
    got = await web.get_page(site_id, page_id)
    assert sorted(ids(got["tree"])) == sorted(r["node"]["id"] for r in results)
    assert got["revision"] == 5
    assert sorted(r["page"]["revision"] for r in results) == [2, 3, 4, 5]
    revisions = await web.revisions(site_id, page_id)
    numbers = [r["number"] for r in revisions["items"]]
    assert sorted(numbers) == [1, 2, 3, 4, 5]


async def test_publish_checks_in_the_group_may_be_plain_or_coroutine_functions() -> None:
    """A component's ``publish_check_in_group`` may be a plain function or a coroutine
    function; both block publishing with their problems."""
    import msgspec
    from markupsafe import Markup

    from plugins.website.components import Component, ComponentRegistry
    from plugins.website.types import Node

    class Props(msgspec.Struct):
        ref: str = ""

    def plain(props: Props, stores: object) -> list[str]:
        return [f"plain: {props.ref} is not ours"]

    async def coroutine(props: Props, stores: object) -> list[str]:
        return [f"coroutine: {props.ref} is not ours"]

    registry = ComponentRegistry()
    for name, check in (("plain_ref", plain), ("async_ref", coroutine)):
        registry.add(
            Component(
                name, Props, lambda props, ctx: Markup(""), name, publish_check_in_group=check
            ),
            "test",
        )
    tree = [
        Node(id="a", type="plain_ref", props={"ref": "x"}),
        Node(id="b", type="async_ref", props={"ref": "y"}),
    ]
    problems = await registry.publish_problems(tree, stores=None)  # type: ignore[arg-type]
    assert [p["problem"] for p in problems] == ["plain: x is not ours", "coroutine: y is not ours"]

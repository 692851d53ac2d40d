"""Bad input never gets a 500: malformed JSON, wrong types, unknown fields, odd path
parameters and headers all answer a 4xx problem+json, and change nothing."""

from __future__ import annotations

import pytest

from sdk.testing import assert_problem

pytestmark = pytest.mark.creator_plugins("website")


@pytest.fixture
async def ids(web) -> dict:
    site = await web.site("bad-input")
    page = await web.page(site["id"], "home")
    node = (await web.add(site["id"], page["id"], "section"))["node"]
    return {"site": site["id"], "page": page["id"], "node": node["id"]}


def write_routes(ids: dict) -> list[tuple[str, str, dict]]:
    """Write routes that take a body, with a valid body for each."""
    site = f"/sites/{ids['site']}"
    page = f"{site}/pages/{ids['page']}"
    node = f"{page}/components/{ids['node']}"
    return [
        ("POST", "/sites", {"name": "N", "slug": "new-site"}),
        ("PATCH", site, {"name": "N"}),
        ("POST", f"{site}/pages", {"title": "T", "slug": "new-page"}),
        ("PATCH", page, {"title": "T"}),
        ("POST", f"{page}/duplicate", {"slug": "dup"}),
        ("POST", f"{page}/components", {"type": "text"}),
        ("PATCH", node, {"props": {"padding": "large"}}),
        ("POST", f"{node}/move", {"position": 0}),
    ]


WRONG_TYPES = [
    [],
    "text",
    5,
    None,
    {
        "name": 5,
        "title": 5,
        "slug": 5,
        "type": 5,
        "props": "x",
        "position": "first",
        "parent_id": 5,
    },
]


async def _unchanged(web, ids: dict) -> None:
    page = await web.get_page(ids["site"], ids["page"])
    assert page["revision"] == 2 and page["title"] == "Home"
    sites = (await web.client.get(web.base + "/sites")).json()["items"]
    assert [s["slug"] for s in sites] == ["bad-input"] and sites[0]["name"] == "My site"


async def test_malformed_json(web, ids) -> None:
    for method, path, _ in write_routes(ids):
        for raw in (b"{not json", b'{"name": "x"', b"\xff\xfe", b""):
            r = await web.client.request(
                method,
                web.base + path,
                content=raw,
                headers={"Content-Type": "application/json"},
            )
            err = assert_problem(r)
            assert 400 <= r.status_code < 500, (method, path, raw, err)
    await _unchanged(web, ids)


async def test_wrong_types(web, ids) -> None:
    for method, path, _ in write_routes(ids):
        for body in WRONG_TYPES:
            r = await web.client.request(method, web.base + path, json=body)
            err = assert_problem(r)
            assert r.status_code in {400, 422}, (method, path, body, err)
    await _unchanged(web, ids)


async def test_unknown_fields(web, ids) -> None:
    for method, path, body in write_routes(ids):
        r = await web.client.request(method, web.base + path, json={**body, "bogus": 1})
        err = assert_problem(r, 422)
        assert err.get("field") == "bogus", (method, path, err)
    await _unchanged(web, ids)


async def test_wrong_nested_shapes(web, ids) -> None:
    site = web.site_url(ids["site"])
    page = web.page_url(ids["site"], ids["page"])
    cases = [
        ("PATCH", site, {"settings": "dark"}),
        ("PATCH", site, {"settings": {"allow_indexing": "yes"}}),
        ("PATCH", site, {"custom_domain": 5}),
        ("PATCH", page, {"seo": []}),
        ("PATCH", page, {"seo": {"noindex": "no"}}),
        ("PATCH", page, {"seo": {"canonical_url": "x" * 3000}}),
        ("PATCH", page, {"tree": {"id": "a"}}),
        ("PATCH", page, {"tree": ["a"]}),
        ("PATCH", page, {"tree": [{"id": "a"}]}),
        ("PATCH", page, {"tree": [{"id": "a", "type": "text", "props": []}]}),
        ("PATCH", page, {"tree": [{"id": "a", "type": "text", "children": {}}]}),
        ("PATCH", page, {"tree": [{"id": "", "type": "text"}]}),
        ("PATCH", page, {"tree": [{"id": "a", "type": "heading", "props": {"level": 2**70}}]}),
        ("PATCH", page, {"title": "x" * 201}),
        ("PATCH", page, {"title": ""}),
        ("POST", page + "/components", {"type": "heading", "position": 1.5}),
        ("POST", page + "/components", {"type": "", "props": {}}),
        ("POST", page + "/components", {"type": "heading", "props": {"text": "x" * 600}}),
    ]
    for method, url, body in cases:
        r = await web.client.request(method, url, json=body)
        assert_problem(r, 422)
    await _unchanged(web, ids)


async def test_odd_path_parameters_and_headers(web, ids) -> None:
    page = web.page_url(ids["site"], ids["page"])
    for path in (
        web.base + "/sites/not-a-uuid",
        web.base + f"/sites/{ids['site']}/pages/123",
        page + "/revisions/99999999999999999999",
        page + "/revisions/-1",
        page + "/revisions/one",
        page + "/components/" + "x" * 500 + "/move",
        "/api/v1/website/groups/not-a-group/sites",
    ):
        method = "POST" if path.endswith("/move") else "GET"
        r = await web.client.request(method, path, json={"position": 0})
        err = assert_problem(r)
        assert r.status_code in {400, 404, 405, 422}, (path, err)
    for tag in ("garbage", '"-1"', '"1.5"', '"\uff11"'.encode(), "W/"):
        r = await web.client.patch(page, json={"title": "x"}, headers={"If-Match": tag})
        err = assert_problem(r)
        assert r.status_code in {412, 422}, (tag, err)
    r = await web.client.get(web.base + "/sites", params={"cursor": "!!!not-a-cursor"})
    assert_problem(r)
    r = await web.client.get(page + "/revisions", params={"cursor": "garbage"})
    assert_problem(r)
    r = await web.client.post(
        web.base + "/sites",
        content=b"name=x",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert_problem(r)
    await _unchanged(web, ids)


async def test_bad_public_paths(visitor) -> None:
    for path in ("/sites/%00", "/sites/" + "a" * 3000, "/sites/x/%2e%2e", "/sites/UPPER/Page"):
        r = await visitor.get(path)
        assert 400 <= r.status_code < 500, (path, r.status_code)
    r = await visitor.get("/", headers={"Host": "a" * 300 + ".example"})
    assert r.status_code == 404
    r = await visitor.get("/page", headers={"Host": "[::1]:80"})
    assert 400 <= r.status_code < 500

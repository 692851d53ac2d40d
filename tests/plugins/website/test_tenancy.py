"""Who may do what: roles within a group, other groups (every route answers 404), the
generic things API (read-only for the website's own types), and public routes that
never show a draft."""

from __future__ import annotations

import pytest

from sdk.testing import assert_problem

pytestmark = pytest.mark.creator_plugins("website")


@pytest.fixture
async def arranged(web) -> dict:
    """A site with a published page holding a heading, and a revision 3 draft."""
    site = await web.site("first", name="First")
    page = await web.page(site["id"], "home")
    node = (await web.heading(site["id"], page["id"], "Published words"))["node"]
    await web.publish(site["id"], page["id"])
    await web.heading(site["id"], page["id"], "Draft words")
    return {"site": site["id"], "page": page["id"], "node": node["id"]}


def routes(ids: dict) -> list[tuple[str, str, dict | None]]:
    """Every website API route about a site, page or component, with a valid body."""
    site = f"/sites/{ids['site']}"
    page = f"{site}/pages/{ids['page']}"
    node = f"{page}/components/{ids['node']}"
    return [
        ("GET", site, None),
        ("PATCH", site, {"name": "Taken over"}),
        ("DELETE", site, None),
        ("GET", f"{site}/pages", None),
        ("POST", f"{site}/pages", {"title": "Intruder", "slug": "intruder"}),
        ("GET", page, None),
        ("PATCH", page, {"title": "Taken over"}),
        ("DELETE", page, None),
        ("POST", f"{page}/duplicate", {"slug": "stolen"}),
        ("POST", f"{page}/publish", None),
        ("POST", f"{page}/unpublish", None),
        ("GET", f"{page}/preview", None),
        ("GET", f"{page}/canvas", None),
        ("POST", f"{page}/components", {"type": "heading"}),
        ("PATCH", node, {"props": {"text": "Taken over"}}),
        ("POST", f"{node}/move", {"position": 0}),
        ("DELETE", node, None),
        ("GET", f"{page}/revisions", None),
        ("GET", f"{page}/revisions/1", None),
        ("POST", f"{page}/revisions/1/restore", None),
    ]


GROUP_ROUTES = [
    ("GET", "/components", None),
    ("GET", "/themes", None),
    ("GET", "/sites", None),
    ("POST", "/sites", {"name": "Intruder", "slug": "intruder"}),
]


async def _unchanged(web, visitor, ids: dict) -> None:
    page = await web.get_page(ids["site"], ids["page"])
    assert page["revision"] == 3 and page["title"] == "Home"
    assert page["published_revision"] == 2
    site = (await web.client.get(web.site_url(ids["site"]))).json()
    assert site["name"] == "First"
    pages = (await web.client.get(web.site_url(ids["site"], "/pages"))).json()["items"]
    assert [p["id"] for p in pages] == [ids["page"]]
    r = await visitor.get("/sites/first")
    assert r.status_code == 200 and "Published words" in r.text


async def test_another_tenant_gets_404_for_every_route(
    creator_platform, web, web_for, visitor, arranged
) -> None:
    other = web_for(await creator_platform.tenant())
    await other.site("theirs")  # they have a site of their own
    for method, path, body in routes(arranged):
        r = await other.client.request(method, other.base + path, json=body)
        assert_problem(r, 404, "not_found")
        assert "Published words" not in r.text and "Draft words" not in r.text
    listed = (await other.client.get(other.base + "/sites")).json()["items"]
    assert [s["slug"] for s in listed] == ["theirs"]
    await _unchanged(web, visitor, arranged)


async def test_another_tenant_in_the_first_tenants_group_gets_404(
    creator_platform, web, web_for, visitor, arranged
) -> None:
    other = web_for(await creator_platform.tenant())
    for method, path, body in [*GROUP_ROUTES, *routes(arranged)]:
        r = await other.client.request(method, web.base + path, json=body)
        assert_problem(r, 404, "not_found")
        assert "Published words" not in r.text
    await _unchanged(web, visitor, arranged)


async def test_their_own_site_with_the_first_tenants_page_is_404(
    creator_platform, web, web_for, arranged
) -> None:
    other = web_for(await creator_platform.tenant())
    theirs = await other.site("theirs")
    mixed = {**arranged, "site": theirs["id"]}
    for method, path, body in routes(mixed):
        if path == f"/sites/{theirs['id']}" or path.endswith(f"{theirs['id']}/pages"):
            continue  # their own site
        r = await other.client.request(method, other.base + path, json=body)
        assert_problem(r, 404, "not_found")


async def test_anonymous_callers_are_refused(web, visitor, arranged) -> None:
    for method, path, body in [*GROUP_ROUTES, *routes(arranged)]:
        r = await visitor.request(method, web.base + path, json=body)
        assert r.status_code in {401, 404}, (method, path, r.status_code)
        assert_problem(r)


async def test_a_customer_cannot_change_websites(
    creator_platform, owner, web, web_for, arranged
) -> None:
    customer = web_for(await creator_platform.member(owner, "customer"))
    r = await customer.client.post(customer.base + "/sites", json={"name": "C", "slug": "c"})
    assert_problem(r, 403, "forbidden")
    for method, path, body in routes(arranged):
        if method == "GET":
            continue
        r = await customer.client.request(method, customer.base + path, json=body)
        assert_problem(r, 403, "forbidden")
    assert (await web.get_page(arranged["site"], arranged["page"]))["revision"] == 3


async def test_an_org_user_can_build_and_publish(creator_platform, owner, web_for, visitor) -> None:
    member = web_for(await creator_platform.member(owner, "org_user"))
    site = await member.site("team-site")
    r = await member.client.patch(member.site_url(site["id"]), json={"theme": "sunrise"})
    assert r.status_code == 200, r.text
    page = await member.page(site["id"], "home")
    await member.heading(site["id"], page["id"], "By a team member")
    await member.publish(site["id"], page["id"])
    assert "By a team member" in (await visitor.get("/sites/team-site")).text
    await member.unpublish(site["id"], page["id"])
    r = await member.client.delete(member.page_url(site["id"], page["id"]))
    assert r.status_code == 204, r.text


async def test_the_things_api_cannot_change_website_things(
    creator_platform, owner, web, visitor, arranged
) -> None:
    things = f"/api/v1/groups/{owner.group.id}/things"
    revision = (
        await web.client.get(f"{things}", params={"type": "page_revision", "limit": 1})
    ).json()["items"][0]
    for thing_id in (arranged["site"], arranged["page"], revision["id"]):
        got = await owner.client.get(f"{things}/{thing_id}")
        assert got.status_code == 200, got.text  # reading is fine
        r = await owner.client.patch(
            f"{things}/{thing_id}",
            json={"name": "Hacked", "properties": {"tree": []}},
        )
        assert_problem(r, 403, "forbidden")
        r = await owner.client.patch(f"{things}/{thing_id}", json={"status": "draft"})
        assert_problem(r, 403, "forbidden")
        assert_problem(await owner.client.delete(f"{things}/{thing_id}"), 403, "forbidden")
    bodies = [
        {
            "type": "page",
            "name": "P",
            "properties": {"site_id": arranged["site"], "slug": "sneaky", "title": "P"},
        },
        {"type": "website", "name": "W", "properties": {"slug": "sneaky"}},
        {
            "type": "page_revision",
            "name": "R",
            "properties": {"page_id": arranged["page"], "number": 99, "slug": "home", "title": "R"},
        },
    ]
    for body in bodies:
        assert_problem(await owner.client.post(things, json=body), 403, "forbidden")
    await _unchanged(web, visitor, arranged)
    assert (await visitor.get("/sites/sneaky")).status_code == 404


async def test_public_routes_never_show_drafts(web, visitor, arranged) -> None:
    site = arranged["site"]
    draft = await web.page(site, "secret")
    await web.heading(site, draft["id"], "Secret words")
    for path in (
        "/sites/first",
        "/sites/first/home",
        "/sites/first/secret",
        "/sites/first/sitemap.xml",
        "/sites/first/robots.txt",
    ):
        r = await visitor.get(path)
        assert "Draft words" not in r.text and "Secret words" not in r.text, path
        assert "/secret" not in r.text, path
    assert (await visitor.get("/sites/first/secret")).status_code == 404

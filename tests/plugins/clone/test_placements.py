"""The website's ``clone_chat`` component and ``powers``: a clone powers the published
pages that show its chat bubble, and stops when they go offline."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.creator_plugins("clone", "website")


async def page_with(owner, slug: str, *components: dict) -> str:
    base = f"/api/v1/website/groups/{owner.group.id}"
    r = await owner.client.post(base + "/sites", json={"name": "Site", "slug": slug})
    assert r.status_code == 201, r.text
    site = r.json()["id"]
    r = await owner.client.post(
        f"{base}/sites/{site}/pages", json={"title": "Home", "slug": "home"}
    )
    page = f"{base}/sites/{site}/pages/{r.json()['id']}"
    for component in components:
        r = await owner.client.post(page + "/components", json=component)
        assert r.status_code == 201, r.text
    return page


async def powers(owner, page_id: str | None = None) -> list[dict]:
    params = {"type": "powers"} | ({"to_id": page_id} if page_id else {})
    r = await owner.client.get(owner.url("/connections"), params=params)
    assert r.status_code == 200, r.text
    items: list[dict] = r.json()["items"]
    return items


async def test_a_published_bubble_is_recorded_and_ends_offline(
    clone_platform, api, owner, until
) -> None:
    ada = await api.clone("Ada")
    page = await page_with(
        owner, "mara",
        {"type": "heading", "props": {"text": "Hi"}},
        {"type": "clone_chat", "props": {"clone_id": ada["id"], "color": "#aa3300"}},
    )  # fmt: skip
    page_id = page.rsplit("/", 1)[1]
    assert (await owner.client.post(page + "/publish")).status_code == 200
    html = (await clone_platform.client.get("/sites/mara")).text
    assert f'<script src="/clone/embed.js" data-clone="{ada["id"]}" data-color="#aa3300"' in html

    (link,) = await until(lambda: powers(owner, page_id))
    assert link["from_id"] == ada["id"] and link["metadata"] == {"service": "widget"}
    assert (await owner.client.post(page + "/unpublish")).status_code == 200

    async def ended() -> bool:
        return not await powers(owner, page_id)

    await until(ended)
    # only the clone plugin makes or ends them
    r = await owner.client.post(
        owner.url("/connections"), json={"type": "powers", "from_id": ada["id"], "to_id": page_id}
    )
    assert r.status_code == 403


async def test_the_component_validates_and_blocks_publishing_without_a_clone(
    clone_platform, api, api_for, owner, problem, until
) -> None:
    page = await page_with(owner, "empty", {"type": "clone_chat"})
    body = problem(await owner.client.post(page + "/publish"), 422)
    assert "clone" in str(body).lower()
    for bad in ({"clone_id": "nope"}, {"color": "red"}, {"label": "x" * 81}):
        r = await owner.client.post(page + "/components", json={"type": "clone_chat", "props": bad})
        problem(r, 422)

    # another group's clone on this group's page: shown (the id is public) but not recorded
    other = api_for(await clone_platform.tenant(name="Other"))
    theirs = await other.clone("Bea")
    mine = await api.clone("Ada")
    page = await page_with(
        owner, "mixed",
        {"type": "clone_chat", "props": {"clone_id": theirs["id"]}},
        {"type": "clone_chat", "props": {"clone_id": mine["id"]}},
    )  # fmt: skip
    assert (await owner.client.post(page + "/publish")).status_code == 200
    (link,) = await until(lambda: powers(owner, page.rsplit("/", 1)[1]))
    assert link["from_id"] == mine["id"]
    assert await powers(other.tenant) == []


@pytest.mark.creator_plugins("clone")
async def test_without_the_website_there_is_no_component(clone_platform, api) -> None:
    clone = await api.clone("Ada")  # the plugin starts; its optional hook is simply unused
    assert clone["status"] == "draft"


async def test_another_groups_website_may_not_frame_a_clone(clone_platform, api, api_for) -> None:
    """Every website page shares the platform's origin, so frame-ancestors cannot stop
    another creator showing this clone; the Referer of the framing page does."""
    clone = await api.clone("Ada")
    await api.text(clone["id"], "Refunds", "Refunds within 30 days of buying.")
    await api.train(clone["id"])
    other = api_for(await clone_platform.tenant(name="Other"))
    await page_with(api.tenant, "mine")
    await page_with(other.tenant, "theirs")
    url = f"/clone/widget/{clone['id']}"
    visitor = clone_platform.client
    base = "http://testserver.local"
    for referer, status in (
        (f"{base}/sites/mine", 200),
        (f"{base}/sites/mine/home", 200),
        (f"{base}/sites/theirs/home", 404),
        (f"{base}/sites/theirs", 404),
        ("https://mara.example/", 200),  # another site: frame-ancestors decides
        (None, 200),
        (f"{base}/sites/nobody", 200),
    ):
        headers = {"Referer": referer} if referer else {}
        r = await visitor.get(url, headers=headers)
        assert r.status_code == status, (referer, r.status_code)

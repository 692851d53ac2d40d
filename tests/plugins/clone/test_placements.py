"""The website's ``clone_chat`` component and ``powers``: a clone powers the published
pages that show its chat bubble, and stops when they go offline."""

from __future__ import annotations

import asyncio
from uuid import UUID

import pytest

from plugins.clone import placements
from sdk import HandlerContext, Scope
from sdk.testing import assert_problem, wait_until

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


async def test_a_published_bubble_is_recorded_and_ends_offline(clone_platform, api, owner) -> None:
    ada = await api.clone("Ada")
    page = await page_with(
        owner,
        "mara",
        {"type": "heading", "props": {"text": "Hi"}},
        {"type": "clone_chat", "props": {"clone_id": ada["id"], "color": "#aa3300"}},
    )
    page_id = page.rsplit("/", 1)[1]
    assert (await owner.client.post(page + "/publish")).status_code == 200
    html = (await clone_platform.client.get("/sites/mara")).text
    assert f'<script src="/clone/embed.js" data-clone="{ada["id"]}" data-color="#aa3300"' in html

    (link,) = await wait_until(lambda: powers(owner, page_id), within=30)
    assert link["from_id"] == ada["id"] and link["metadata"] == {"service": "widget"}
    assert (await owner.client.post(page + "/unpublish")).status_code == 200

    async def ended() -> bool:
        return not await powers(owner, page_id)

    await wait_until(ended, within=30)
    # only the clone plugin makes or ends them
    r = await owner.client.post(
        owner.url("/connections"), json={"type": "powers", "from_id": ada["id"], "to_id": page_id}
    )
    assert r.status_code == 403


async def test_the_component_validates_and_blocks_publishing_without_a_clone(
    clone_platform, api, api_for, owner
) -> None:
    page = await page_with(owner, "empty", {"type": "clone_chat"})
    body = assert_problem(await owner.client.post(page + "/publish"), 422)
    assert "clone" in str(body).lower()
    for bad in ({"clone_id": "nope"}, {"color": "red"}, {"label": "x" * 81}):
        r = await owner.client.post(page + "/components", json={"type": "clone_chat", "props": bad})
        assert_problem(r, 422)

    # another group's clone on this group's page: publishing is refused, naming the prop
    other = api_for(await clone_platform.tenant(name="Other"))
    theirs = await other.clone("Bea")
    mine = await api.clone("Ada")
    page = await page_with(
        owner,
        "mixed",
        {"type": "clone_chat", "props": {"clone_id": theirs["id"]}},
        {"type": "clone_chat", "props": {"clone_id": mine["id"]}},
    )
    body = assert_problem(await owner.client.post(page + "/publish"), 422, "publish_blocked")
    (blocked,) = body["problems"]
    assert blocked["component"] == "clone_chat"
    assert blocked["problem"].startswith(f"clone_id {theirs['id']} is not a clone of this")
    assert "clone_id" in body["detail"]
    r = await owner.client.get(page)
    tree = r.json()["tree"]
    assert blocked["node_id"] == tree[0]["id"]
    assert (await owner.client.delete(f"{page}/components/{tree[0]['id']}")).status_code == 200
    assert (await owner.client.post(page + "/publish")).status_code == 200
    (link,) = await wait_until(lambda: powers(owner, page.rsplit("/", 1)[1]), within=30)
    assert link["from_id"] == mine["id"]
    assert await powers(other.tenant) == []

    # a clone deleted since the page was saved, or an id that is not a clone: refused too
    r = await owner.client.post(
        page + "/components", json={"type": "clone_chat", "props": {"clone_id": page_id(page)}}
    )
    assert r.status_code == 201, r.text
    assert_problem(await owner.client.post(page + "/publish"), 422, "publish_blocked")
    gone = await api.clone("Cy")
    page = await page_with(owner, "gone", {"type": "clone_chat", "props": {"clone_id": gone["id"]}})
    assert (await owner.client.delete(api.url(gone["id"]))).status_code == 204
    body = assert_problem(await owner.client.post(page + "/publish"), 422, "publish_blocked")
    assert gone["id"] in body["problems"][0]["problem"]


def page_id(page: str) -> str:
    return page.rsplit("/", 1)[1]


@pytest.mark.creator_plugins("clone")
async def test_without_the_website_there_is_no_component(clone_platform, api) -> None:
    clone = await api.clone("Ada")  # the plugin starts; its optional hook is simply unused
    assert clone["status"] == "draft"


async def widget_on_two_sites(clone_platform, api, api_for) -> str:
    """A trained clone's widget page URL, with a website page of its own group ("mine")
    and one of another group ("theirs") published."""
    clone = await api.clone("Ada")
    await api.text(clone["id"], "Refunds", "Refunds within 30 days of buying.")
    await api.train(clone["id"])
    other = api_for(await clone_platform.tenant(name="Other"))
    await page_with(api.tenant, "mine")
    await page_with(other.tenant, "theirs")
    return f"/clone/widget/{clone['id']}"


async def test_another_groups_website_may_not_frame_a_clone(clone_platform, api, api_for) -> None:
    """Every website page shares the platform's origin, so frame-ancestors cannot stop
    another creator showing this clone; the Referer of the framing page does."""
    url = await widget_on_two_sites(clone_platform, api, api_for)
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


@pytest.mark.clone_settings(public_url="https://testserver.local")
async def test_behind_a_tls_proxy_another_groups_https_page_may_not_frame_a_clone(
    clone_platform, api, api_for
) -> None:
    """The platform is https (its public_url) but the request arrives as http (a TLS
    proxy whose X-Forwarded-Proto is not believed): the Referer of an https page of the
    platform is still checked. A Referer that is no URL is no page at all."""
    url = await widget_on_two_sites(clone_platform, api, api_for)
    visitor = clone_platform.client
    for referer, status in (
        ("https://testserver.local/sites/theirs/home", 404),
        ("https://testserver.local/sites/mine/home", 200),
        ("http://[", 200),
    ):
        r = await visitor.get(url, headers={"Referer": referer})
        assert r.status_code == status, (referer, r.status_code)


async def test_concurrent_syncs_of_one_page_end_as_the_page_is(
    clone_platform, api, owner, monkeypatch
) -> None:
    """A run that read the page in one state is still working when the page changes and
    the next event's run starts: the later run waits its turn, so the links end as the
    page is (no link to an unpublished page survives; a page published again keeps its
    link)."""
    ada = await api.clone("Ada")
    page = await page_with(owner, "race", {"type": "clone_chat", "props": {"clone_id": ada["id"]}})
    page_id = UUID(page.rsplit("/", 1)[1])
    assert (await owner.client.post(page + "/publish")).status_code == 200
    await wait_until(lambda: powers(owner, str(page_id)), within=30)
    assert (await owner.client.post(page + "/unpublish")).status_code == 200

    async def no_link() -> bool:
        return not await powers(owner, str(page_id))

    await wait_until(
        no_link, within=30
    )  # the worker is idle from here on: the runs below are the test's
    system = Scope.system(owner.group.id)
    stores = clone_platform.ontology(system)
    events = {
        status: (await stores.events.list(type=f"page_{name}", limit=1)).items[0]
        for status, name in (("published", "published"), ("draft", "unpublished"))
    }
    decided, go_on = asyncio.Event(), asyncio.Event()
    held: list[asyncio.Task] = []
    real_clone_ids = placements._clone_ids

    async def clone_ids_then_wait(s, thing):
        wanted = await real_clone_ids(s, thing)
        if asyncio.current_task() in held:
            decided.set()  # knows what it wants; holds on before touching connections
            await go_on.wait()
        return wanted

    monkeypatch.setattr(placements, "_clone_ids", clone_ids_then_wait)

    def run(status: str) -> asyncio.Task:
        event = events[status]
        ctx = HandlerContext(event, clone_platform.ontology(system), "clone")
        return asyncio.create_task(placements.sync_page(event, ctx))

    # published → unpublished while the first run works; then back to published
    for start, final, expected in (("published", "draft", []), ("draft", "published", [ada["id"]])):
        # the page row as publish and unpublish leave it (no events: the worker stays idle)
        await stores.things.update(page_id, status=start)
        decided.clear()
        go_on.clear()
        first = run(start)
        held[:] = [first]
        await decided.wait()
        await stores.things.update(page_id, status=final)
        second = run(final)
        await asyncio.wait({second}, timeout=0.5)  # every chance to finish before the first
        go_on.set()
        await asyncio.gather(first, second)
        links = await powers(owner, str(page_id))
        assert [link["from_id"] for link in links] == expected, (start, final)


async def test_a_bubble_with_no_colour_takes_the_clones_look(clone_platform, api, owner) -> None:
    ada = await api.clone("Ada")
    page = await page_with(owner, "look", {"type": "clone_chat", "props": {"clone_id": ada["id"]}})
    assert (await owner.client.post(page + "/publish")).status_code == 200
    html = (await clone_platform.client.get("/sites/look")).text
    # no data-color: embed.js reads the colour saved in the clone's look
    assert f'<script src="/clone/embed.js" data-clone="{ada["id"]}" data-label=' in html


async def test_a_citation_of_a_website_page_links_to_the_passage(
    clone_platform, api, owner
) -> None:
    page = await page_with(
        owner,
        "shop",
        {
            "type": "text",
            "props": {
                "html": "<p>Orders ship within 3 working days by tracked post.</p>"
                "<p>Pickup is possible on Fridays between 2pm and 6pm at the workshop.</p>"
            },
        },
    )
    page_id = page.rsplit("/", 1)[1]
    assert (await owner.client.post(page + "/publish")).status_code == 200
    ada = await api.clone("Ada")
    r = await api.client.post(
        api.url(ada["id"], "/sources"), json={"kind": "page", "thing_id": page_id}
    )
    assert r.status_code == 201, r.text
    assert (await api.train(ada["id"]))["clone"]["status"] == "active"
    thread = await api.thread(ada["id"])
    answer = (await api.ask(ada["id"], thread["id"], "When can I pick up my order?"))["answer"]
    cited = answer["citations"][0]
    assert cited["kind"] == "page"
    assert cited["quote"].startswith("Pickup is possible on Fridays")
    base = clone_platform.platform.settings.base_url
    # the home page, at the site's root, scrolled to the passage (a text fragment)
    assert cited["url"].startswith(f"{base}/sites/shop/#:~:text=Pickup%20is%20possible"), cited
    # A custom domain is linked once it is verified (a pending one serves nothing).
    site = page.rsplit("/pages/", 1)[0]
    r = await owner.client.patch(site, json={"custom_domain": "shop.example"})
    assert r.status_code == 200, r.text

    async def cited_url() -> str:
        thread = await api.thread(ada["id"])
        reply = await api.ask(ada["id"], thread["id"], "When can I pick up my order?")
        return str(reply["answer"]["citations"][0]["url"])

    assert (await cited_url()).startswith(f"{base}/sites/shop/#:~:")
    record = r.json()["domain"]["record"]
    assert clone_platform.dns is not None
    clone_platform.dns.set_txt(record["name"], record["value"])
    assert (await owner.client.post(site + "/domain/verify")).status_code == 200
    assert (await cited_url()).startswith("https://shop.example/#:~:text=Pickup")

"""Sources: pasted text, Markdown and HTML; uploaded .txt, .md, .html and .pdf files;
website pages; changing and removing them; validation and other groups."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from sdk.testing import assert_problem

pytestmark = pytest.mark.creator_plugins("clone")


async def test_pasted_text_markdown_and_html(api, owner) -> None:
    clone = await api.clone("Ada")
    text = await api.text(
        clone["id"], "  Opening   hours ", "We open at 9.\r\n\r\n\r\nWe close at 5."
    )
    assert text["kind"] == "text" and text["title"] == "Opening hours"
    assert text["state"] == "new" and text["chunk_count"] == 0
    assert text["chars"] == len("We open at 9.\n\nWe close at 5.")
    assert text["clone_id"] == clone["id"] and text["filename"] == ""

    md = await api.text(
        clone["id"],
        "Prices",
        "# Prices\n\nThe **course** costs [99 euros](https://x.example).",
        kind="markdown",
    )
    assert md["kind"] == "markdown"
    assert md["preview"] == "Prices The course costs 99 euros."
    html = await api.text(
        clone["id"],
        "About",
        "<html><head><title>About us</title><style>p{color:red}</style></head><body>"
        "<nav>Home | Blog</nav><h1>Who we are</h1><p>A small studio &amp; school.</p>"
        "<script>alert(1)</script></body></html>",
        kind="html",
    )
    assert html["preview"] == "About us Who we are A small studio & school."

    listed = await api.sources(clone["id"])
    assert [s["id"] for s in listed] == [html["id"], md["id"], text["id"]]
    r = await api.client.get(api.url(clone["id"], f"/sources/{md['id']}"))
    assert r.status_code == 200 and r.json() == md
    # each source is its own thing, linked to the clone by trained_on (not trained yet)
    links = (
        await owner.client.get(
            f"/api/v1/groups/{owner.group.id}/connections",
            params={"type": "trained_on", "from_id": clone["id"]},
        )
    ).json()["items"]
    assert {link["to_id"] for link in links} == {text["id"], md["id"], html["id"]}
    assert all(link["metadata"] == {} for link in links)  # chunk_count 0 until trained
    thing = (await owner.client.get(f"/api/v1/groups/{owner.group.id}/things/{md['id']}")).json()
    assert thing["type"] == "clone_source" and thing["name"] == "Prices"
    assert thing["properties"]["text"] == "Prices\n\nThe course costs 99 euros."


@pytest.mark.parametrize(
    "body",
    [
        {"kind": "text", "title": "T"},
        {"kind": "text", "title": "T", "text": "   \n  "},
        {"kind": "text", "title": "  ", "text": "words"},
        {"kind": "text", "text": "words"},
        {"kind": "html", "title": "T", "text": "<script>only()</script>"},
        {"kind": "pdf", "title": "T", "text": "words"},
        {"kind": "text", "title": "T", "text": "words", "thing_id": "x"},
        {"kind": "page"},
        {"kind": "page", "thing_id": "not-a-uuid"},
        {"kind": "page", "thing_id": "01a20da2-7b00-73c3-be00-1055ea29d20f", "text": "x"},
        {"kind": "text", "title": "x" * 201, "text": "words"},
        {"kind": "text", "title": "T", "text": "words", "extra": True},
        {"title": "T", "text": "words"},
        {"kind": "text", "title": "T", "text": 5},
    ],
)
async def test_bad_sources_are_422(api, body) -> None:
    clone = await api.clone("Ada")
    assert_problem(await api.client.post(api.url(clone["id"], "/sources"), json=body), 422)
    assert await api.sources(clone["id"]) == []


async def test_too_much_text(api) -> None:
    clone = await api.clone("Ada")
    body = assert_problem(await api.upload(clone["id"], "huge.txt", b"word " * 400_001), 422)
    assert "2,000,000" in body["detail"]
    # pasted text travels in a JSON body, which core limits (1 MiB): upload big documents
    body = {"kind": "text", "title": "Huge", "text": "word " * 250_000}
    assert_problem(await api.client.post(api.url(clone["id"], "/sources"), json=body), 413)
    assert await api.sources(clone["id"]) == []


async def test_uploaded_files(api, pdfs) -> None:
    clone = await api.clone("Ada")
    r = await api.upload(clone["id"], "notes.txt", b"Plain notes.\n")
    assert r.status_code == 201, r.text
    assert r.json()["kind"] == "text" and r.json()["title"] == "notes"
    assert r.json()["filename"] == "notes.txt"
    r = await api.upload(clone["id"], "guide.MD", b"## Guide\n\n* step *one*", title="The guide")
    assert r.status_code == 201 and r.json()["title"] == "The guide"
    assert r.json()["kind"] == "markdown" and r.json()["preview"] == "Guide - step one"
    r = await api.upload(clone["id"], "page.htm", "<p>caf\u00e9 &lt;3</p>".encode())
    assert r.json()["kind"] == "html" and r.json()["preview"] == "caf\u00e9 <3"
    pdf = pdfs.text("Refunds are possible within 30 days.", "Write to the help desk.")
    r = await api.upload(clone["id"], "../../etc/policy.pdf", pdf)
    assert r.status_code == 201, r.text
    source = r.json()
    assert source["kind"] == "pdf" and source["filename"] == "policy.pdf"
    assert source["preview"] == "Refunds are possible within 30 days. Write to the help desk."
    # a PDF is recognised by its bytes, whatever its name
    r = await api.upload(clone["id"], "scan.txt", pdfs.text("Hidden PDF"))
    assert r.json()["kind"] == "pdf" and r.json()["preview"] == "Hidden PDF"
    assert len(await api.sources(clone["id"])) == 5


async def test_bad_files(api, pdfs) -> None:
    clone = await api.clone("Ada")
    body = assert_problem(await api.upload(clone["id"], "broken.pdf", b"%PDF-1.4\nnot really"), 422)
    assert body["reason"] == "unreadable" and "could not be read" in body["detail"]
    body = assert_problem(await api.upload(clone["id"], "secret.pdf", pdfs.blank("s3cret")), 422)
    assert body["reason"] == "encrypted" and "password" in body["detail"]
    body = assert_problem(await api.upload(clone["id"], "scan.pdf", pdfs.blank()), 422)
    assert body["reason"] == "no_text"
    body = assert_problem(await api.upload(clone["id"], "fake.pdf", b"just text"), 422)
    assert body["reason"] == "unreadable"
    assert_problem(await api.upload(clone["id"], "tool.exe", b"MZ\x90\x00"), 415)
    assert_problem(await api.upload(clone["id"], "noext", b"words"), 415)
    assert_problem(await api.upload(clone["id"], "bin.txt", b"\x00\x01\x02binary"), 415)
    assert_problem(await api.upload(clone["id"], "latin.txt", "caf\u00e9".encode("latin-1")), 422)
    assert_problem(await api.upload(clone["id"], "empty.txt", b""), 422)
    assert_problem(await api.upload(clone["id"], "blank.md", b"   \n\n "), 422)
    r = await api.client.post(api.url(clone["id"], "/sources/file"), json={"file": "x"})
    assert_problem(r, 415)
    r = await api.client.post(
        api.url(clone["id"], "/sources/file"), files={"other": ("a.txt", b"x")}
    )
    assert_problem(r, 422)
    r = await api.client.post(
        api.url(clone["id"], "/sources/file"),
        files=[("file", ("a.txt", b"x")), ("file", ("b.txt", b"y"))],
    )
    assert_problem(r, 422)
    assert await api.sources(clone["id"]) == []


@pytest.mark.clone_settings(plugin_settings={"clone": {"max_upload_bytes": 2048}})
async def test_files_over_the_size_limit_are_413(api) -> None:
    clone = await api.clone("Ada")
    assert_problem(await api.upload(clone["id"], "big.txt", b"word " * 1000), 413)
    r = await api.upload(clone["id"], "small.txt", b"word " * 100)
    assert r.status_code == 201


async def test_change_and_remove_sources(api, owner) -> None:
    clone = await api.clone("Ada")
    source = await api.text(clone["id"], "Hours", "We open at 9.", kind="markdown")
    r = await api.client.patch(
        api.url(clone["id"], f"/sources/{source['id']}"), json={"text": "We open at *10*."}
    )
    assert r.status_code == 200, r.text
    assert r.json()["preview"] == "We open at 10." and r.json()["title"] == "Hours"
    r = await api.client.patch(api.url(clone["id"], f"/sources/{source['id']}"), json={"title": ""})
    assert_problem(r, 422)
    r = await api.client.patch(api.url(clone["id"], f"/sources/{source['id']}"), json={"x": 1})
    assert_problem(r, 422)

    r = await api.client.delete(api.url(clone["id"], f"/sources/{source['id']}"))
    assert r.status_code == 204
    assert await api.sources(clone["id"]) == []
    assert_problem(await api.client.delete(api.url(clone["id"], f"/sources/{source['id']}")), 404)
    assert_problem(await api.client.get(api.url(clone["id"], f"/sources/{source['id']}")), 404)
    r = await owner.client.get(f"/api/v1/groups/{owner.group.id}/things/{source['id']}")
    assert r.status_code == 404  # its own text went with it


async def test_sources_belong_to_one_clone(api) -> None:
    first, second = await api.clone("Ada"), await api.clone("Bea")
    source = await api.text(first["id"], "Hours", "We open at 9.")
    assert await api.sources(second["id"]) == []
    for method in ("GET", "DELETE", "PATCH"):
        r = await api.client.request(
            method, api.url(second["id"], f"/sources/{source['id']}"), json={"title": "x"}
        )
        assert_problem(r, 404)
    assert len(await api.sources(first["id"])) == 1


async def test_page_sources_need_the_website_plugin(api, owner) -> None:
    clone = await api.clone("Ada")
    source = await api.text(clone["id"], "Hours", "We open at 9.")
    r = await api.client.post(
        api.url(clone["id"], "/sources"), json={"kind": "page", "thing_id": source["id"]}
    )
    body = assert_problem(r, 422)
    assert "website plugin" in body["detail"]


async def test_a_bad_setting_stops_start_up(creator_platform_factory) -> None:
    with pytest.raises(Exception, match=r"llm_provider is 'nobody'.*registered: offline"):
        await creator_platform_factory(
            plugins=["clone"], plugin_settings={"clone": {"llm_provider": "nobody"}}
        )
    with pytest.raises(Exception, match=r"invalid plugin_settings\.clone"):
        await creator_platform_factory(
            plugins=["clone"], plugin_settings={"clone": {"retrieval_limit": 0}}
        )


class Website:
    """Just enough of the website API to make pages."""

    def __init__(self, tenant) -> None:
        self.client = tenant.client
        self.base = f"/api/v1/website/groups/{tenant.group.id}"
        self.slug = tenant.group.slug

    async def page(self, title: str, *components: tuple[str, dict]) -> tuple[str, str]:
        r = await self.client.post(self.base + "/sites", json={"name": "Site", "slug": self.slug})
        if r.status_code == 409:
            site = (await self.client.get(self.base + "/sites")).json()["items"][0]
        else:
            assert r.status_code == 201, r.text
            site = r.json()
        slug = title.lower().replace(" ", "-")
        r = await self.client.post(
            f"{self.base}/sites/{site['id']}/pages", json={"title": title, "slug": slug}
        )
        assert r.status_code == 201, r.text
        page = r.json()
        for type, props in components:
            r = await self.client.post(
                f"{self.base}/sites/{site['id']}/pages/{page['id']}/components",
                json={"type": type, "props": props},
            )
            assert r.status_code == 201, r.text
        return site["id"], page["id"]


@pytest.mark.creator_plugins("clone", "website")
async def test_website_pages_as_sources(clone_platform, api, api_for, owner) -> None:
    web = Website(owner)
    _, page_id = await web.page(
        "Our story",
        ("heading", {"text": "Founded in 2019"}),
        ("text", {"html": "<p>We teach <strong>pottery</strong> online.</p>"}),
        ("button", {"label": "Book a class", "href": "https://example.com/book"}),
    )
    clone = await api.clone("Ada")
    r = await api.client.post(
        api.url(clone["id"], "/sources"), json={"kind": "page", "thing_id": page_id}
    )
    assert r.status_code == 201, r.text
    source = r.json()
    assert source["id"] == page_id and source["kind"] == "page"
    assert source["title"] == "Our story" and source["state"] == "new"
    assert source["preview"] == "Our story Founded in 2019 We teach pottery online. Book a class"
    assert "example.com" not in source["preview"]
    r = await api.client.post(
        api.url(clone["id"], "/sources"), json={"kind": "page", "thing_id": page_id}
    )
    assert_problem(r, 409)
    other_source = await api.text(clone["id"], "Hours", "We open at 9.")
    r = await api.client.post(
        api.url(clone["id"], "/sources"), json={"kind": "page", "thing_id": other_source["id"]}
    )
    assert_problem(r, 404)  # not a page
    r = await api.client.patch(api.url(clone["id"], f"/sources/{page_id}"), json={"title": "x"})
    assert_problem(r, 422)  # a page changes in the website

    # another group's page does not exist here
    other = await clone_platform.tenant()
    _, their_page = await Website(other).page("Secret", ("heading", {"text": "Hidden"}))
    r = await api.client.post(
        api.url(clone["id"], "/sources"), json={"kind": "page", "thing_id": their_page}
    )
    assert_problem(r, 404)
    # removing a page source keeps the page
    r = await api.client.delete(api.url(clone["id"], f"/sources/{page_id}"))
    assert r.status_code == 204
    r = await owner.client.get(f"/api/v1/groups/{owner.group.id}/things/{page_id}")
    assert r.status_code == 200
    assert [s["id"] for s in await api.sources(clone["id"])] == [other_source["id"]]


@asynccontextmanager
async def loop_probe() -> AsyncIterator[list[float]]:
    """Yields a list that ends up holding the longest the loop was late to wake a task
    sleeping 10 ms at a time, measured while the block ran."""
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
    await asyncio.sleep(0.02)  # the probe is running
    try:
        yield worst
    finally:
        done.set()
        await task


@pytest.mark.parametrize(
    ("filename", "unit"),
    [("emphasis.md", " *a"), ("tags.html", "<a"), ("paragraphs.md", "w\n\n"), ("t.txt", "a ")],
)
async def test_the_largest_pathological_upload_leaves_the_loop_free(
    api, filename: str, unit: str
) -> None:
    # The review's inputs at the largest upload: read off the loop, then refused as more
    # text than a source may have.
    clone = await api.clone("Ada")
    limit = 10 * 1024 * 1024  # the default max_upload_bytes
    data = (unit * (limit // len(unit)))[:limit].encode()
    async with loop_probe() as worst:
        r = await api.upload(clone["id"], filename, data)
    assert_problem(r, 422)
    assert worst[0] < 1.0, f"the loop was held for {worst[0]:.2f} s"


async def test_pasted_text_loses_nul_characters_and_says_so(api) -> None:
    """A pasted document's NUL characters are stripped (they used to vanish silently);
    the title, which is no document, is refused instead."""
    clone = await api.clone("Ada")
    source = await api.text(clone["id"], "Hours", "We open\x00 at 9.")
    assert source["preview"] == "We open at 9."
    assert source["warnings"] == [
        "1 character that cannot be stored (NUL or lone surrogate) removed from text"
    ]
    r = await api.client.patch(
        api.url(clone["id"], f"/sources/{source['id']}"), json={"text": "\x00Closed\x00."}
    )
    assert r.status_code == 200, r.text
    assert r.json()["preview"] == "Closed." and len(r.json()["warnings"]) == 1
    r = await api.client.post(
        api.url(clone["id"], "/sources"), json={"kind": "text", "title": "a\x00", "text": "x"}
    )
    assert_problem(r, 422, "invalid_text", field="title")
    plain = await api.text(clone["id"], "Plain", "Nothing odd.")
    assert plain["warnings"] == []

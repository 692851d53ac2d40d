"""A clone's chat bubble in a real (headless) Chromium against a real HTTP server.

A creator's clone learns from a document; their website page gets the ``clone_chat``
component and is published. A visitor opens the page, opens the bubble, asks, and sees
the answer streamed in with its citation. The same bubble on another site works only once
that site's origin is allowed. axe-core checks the chat panel. Screenshots land in
``test-artifacts/``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

pytest.importorskip("playwright")

from playwright.async_api import Browser, Page, expect

from sdk.testing import (
    BASE_URL,
    CreatorPlatform,
    Tenant,
    assert_accessible,
    open_page,
    real_errors,
    wait_until,
)

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
TIMEOUT = 20_000
REFUNDS = (
    "Refund policy. If a course is not right for you, ask for a refund within 30 days of "
    "buying it and you get all your money back. Write to help@studio.example with your "
    "order number."
)


@pytest.fixture
def other_site() -> Iterator[Callable[[str], str]]:
    """``other_site(html)``: serves ``html`` on another origin (a second port of
    127.0.0.1: Chromium lets pages of the loopback address only load loopback scripts);
    returns its base URL."""
    servers: list[ThreadingHTTPServer] = []

    def serve(html: str) -> str:
        class Page(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = html.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Page)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield serve
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest_asyncio.fixture
async def creator_platform(creator_platform_factory: Any) -> CreatorPlatform:
    """The clone and website plugins with an in-process job worker (training is a job)."""
    platform: CreatorPlatform = await creator_platform_factory(
        plugins=["clone", "website"],
        worker=True,
        worker_poll_delay_seconds=0.02,
        # The browser reaches the live server at its own address (an IP: the platform's),
        # and the in-process API clients at theirs, named as the platform's host.
        public_url=None,
        host=BASE_URL.split("//", 1)[1],
    )
    return platform


async def trained_clone(owner: Tenant) -> str:
    base = f"/api/v1/clone/groups/{owner.group.id}/clones"
    r = await owner.client.post(base, json={"name": "Ada", "welcome_message": "Ask me!"})
    clone_id: str = r.json()["id"]
    r = await owner.client.post(
        f"{base}/{clone_id}/sources", json={"kind": "text", "title": "Refunds", "text": REFUNDS}
    )
    assert r.status_code == 201, r.text
    job = (await owner.client.post(f"{base}/{clone_id}/train")).json()["job_id"]

    async def ended() -> bool:
        status = (await owner.client.get(owner.url(f"/jobs/{job}"))).json()["status"]
        return status in ("complete", "failed")

    await wait_until(ended, within=30, message="the training job to end")
    clone = (await owner.client.get(f"{base}/{clone_id}")).json()
    assert clone["status"] == "active", clone
    return clone_id


async def published_page_with_bubble(owner: Tenant, clone_id: str) -> str:
    base = f"/api/v1/website/groups/{owner.group.id}"
    r = await owner.client.post(base + "/sites", json={"name": "Mara", "slug": "mara"})
    assert r.status_code == 201, r.text
    site = r.json()["id"]
    r = await owner.client.post(
        f"{base}/sites/{site}/pages", json={"title": "Home", "slug": "home"}
    )
    page = f"{base}/sites/{site}/pages/{r.json()['id']}"
    for component in (
        {"type": "heading", "props": {"text": "Mara's pottery"}},
        {"type": "clone_chat", "props": {"clone_id": clone_id, "label": "Ask Ada"}},
    ):
        r = await owner.client.post(page + "/components", json=component)
        assert r.status_code == 201, r.text
    r = await owner.client.post(page + "/publish")
    assert r.status_code == 200, r.text
    return "/sites/mara"


async def ask_in_bubble(page: Page, label: str, question: str) -> Any:
    """Open the bubble, ask ``question``; returns the chat frame."""
    bubble = page.get_by_role("button", name=label)
    await expect(bubble).to_have_attribute("aria-expanded", "false")
    await bubble.click()
    await expect(bubble).to_have_attribute("aria-expanded", "true")
    chat = page.frame_locator("iframe.cp-clone-frame")
    await expect(chat.get_by_text("Ask me!")).to_be_visible()
    await chat.get_by_label("Your question").fill(question)
    await chat.get_by_role("button", name="Send").click()
    return chat


@pytest.mark.creator_plugins("clone", "website")
async def test_a_visitor_asks_through_the_bubble_on_a_published_page(
    creator_platform: CreatorPlatform, creator_live_server: str, creator_browser: Browser
) -> None:
    owner = await creator_platform.tenant(name="Mara's Studio")
    clone_id = await trained_clone(owner)
    # the look saved in the clone: the page's bubble names no colour, so it takes this one
    r = await owner.client.patch(
        f"/api/v1/clone/groups/{owner.group.id}/clones/{clone_id}",
        json={"widget_theme": {"accent": "#9a3412"}},
    )
    assert r.status_code == 200, r.text
    path = await published_page_with_bubble(owner, clone_id)

    page, errors = await open_page(creator_browser, timeout_ms=TIMEOUT)
    streamed: list[str] = []
    page.on(
        "response",
        lambda r: (
            streamed.append(r.headers.get("content-type", ""))
            if "/api/v1/clone/widget/" in r.url and r.url.endswith("/messages?stream=true")
            else None
        ),
    )
    await page.goto(creator_live_server + path)
    await expect(page.get_by_role("heading", name="Mara's pottery")).to_be_visible()
    bubble = page.get_by_role("button", name="Ask Ada")
    await expect(bubble).to_have_css("background-color", "rgb(154, 52, 18)")
    await expect(bubble.locator("svg")).to_have_count(1)  # an SVG icon, not an emoji
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "clone-widget-bubble.png"))
    chat = await ask_in_bubble(page, "Ask Ada", "How long do I have to ask for a refund?")
    answer = chat.locator("li.msg.assistant").last
    await expect(answer.locator(".content")).to_contain_text("30 days")
    await expect(answer.locator(".citation")).to_contain_text("Refunds")
    # the passage that answered, the question's words marked (pasted text: no link)
    await expect(answer.locator(".cite-quote")).to_contain_text("within 30 days")
    await expect(answer.locator(".cite-quote mark", has_text="refund")).to_have_count(1)
    await expect(
        answer.get_by_role("button", name="Helpful", exact=True).locator("svg")
    ).to_have_count(1)
    await expect(answer).not_to_have_attribute("aria-busy", "true")
    assert streamed and streamed[0].startswith("text/event-stream")
    await page.screenshot(path=str(ARTIFACTS / "clone-widget-answer.png"))

    await answer.get_by_role("button", name="Helpful", exact=True).click()
    await expect(answer.get_by_role("button", name="Helpful", exact=True)).to_have_attribute(
        "aria-pressed", "true"
    )
    await chat.get_by_role("button", name="Close the chat").click()
    await expect(page.get_by_role("button", name="Ask Ada")).to_have_attribute(
        "aria-expanded", "false"
    )
    await expect(page.locator("iframe.cp-clone-frame")).to_be_hidden()
    assert not real_errors(errors), errors

    # the chat panel on its own, for axe
    panel, _ = await open_page(creator_browser, timeout_ms=TIMEOUT)
    await panel.goto(f"{creator_live_server}/clone/widget/{clone_id}")
    await assert_accessible(panel, "clone chat panel")

    # on a phone (375 px wide) the open chat fits the screen
    phone, errors = await open_page(creator_browser, timeout_ms=TIMEOUT, width=375, height=740)
    await phone.goto(creator_live_server + path)
    chat = await ask_in_bubble(phone, "Ask Ada", "How long do I have to ask for a refund?")
    await expect(chat.locator("li.msg.assistant").last.locator(".cite-quote")).to_be_visible()
    box = await phone.locator("iframe.cp-clone-frame").bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 375, box
    await phone.screenshot(path=str(ARTIFACTS / "clone-widget-375.png"))
    assert not real_errors(errors), errors


@pytest.mark.creator_plugins("clone", "website")
async def test_the_bubble_on_another_site_needs_its_origin_allowed(
    creator_platform: CreatorPlatform,
    creator_live_server: str,
    creator_browser: Browser,
    other_site: Callable[[str], str],
) -> None:
    owner = await creator_platform.tenant(name="Mara's Studio")
    clone_id = await trained_clone(owner)
    snippet = (
        f'<script src="{creator_live_server}/clone/embed.js" data-clone="{clone_id}" '
        'data-label="Ask Ada" async></script>'
    )
    html = f"<!doctype html><html lang=en><title>Mara</title><h1>Mara</h1>{snippet}</html>"
    other_site = other_site(html)

    page, _ = await open_page(creator_browser, timeout_ms=TIMEOUT)
    await page.goto(other_site + "/")
    await page.get_by_role("button", name="Ask Ada").click()
    # not allowed yet: the browser refuses to show the platform's page in the frame
    frame = page.frame_locator("iframe.cp-clone-frame")
    await page.wait_for_timeout(500)
    assert await frame.get_by_label("Your question").count() == 0

    r = await owner.client.patch(
        f"/api/v1/clone/groups/{owner.group.id}/clones/{clone_id}",
        json={"allowed_origins": [other_site]},
    )
    assert r.status_code == 200, r.text
    page, _ = await open_page(creator_browser, timeout_ms=TIMEOUT)
    await page.goto(other_site + "/")
    chat = await ask_in_bubble(page, "Ask Ada", "How long do I have to ask for a refund?")
    answer = chat.locator("li.msg.assistant").last
    await expect(answer.locator(".citation")).to_contain_text("Refunds")

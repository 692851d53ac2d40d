"""Managing an AI clone in a real (headless) Chromium against a real HTTP server with a job
worker.

A creator signs up, creates a workspace and a clone, pastes two sources, trains the clone
and watches the progress reach the end, asks in the chat preview and sees the answer
streamed in with its citation (and an honest "I don't know" for a question its sources do
not cover), edits the prompt (and is told to reload when the clone changed elsewhere),
and deletes the clone after typing its name. axe-core checks every page for serious
accessibility problems. Screenshots land in ``test-artifacts/`` (gitignored).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

pytest.importorskip("playwright")

from playwright.async_api import Browser, Page, expect

from sdk.testing import (
    CreatorPlatform,
    assert_accessible,
    open_page,
    real_errors,
    sign_up_in_browser,
)

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
TIMEOUT = 20_000
TRAINING_TIMEOUT = 120_000

REFUNDS = (
    "Refund policy. If a course is not right for you, ask for a refund within 30 days of "
    "buying it and you get all your money back. Write to help@studio.example with your "
    "order number."
)
COACHING = (
    "# Coaching sessions\n\nOne-to-one coaching calls happen on Tuesdays and Thursdays over "
    "video. Each session lasts 45 minutes and can be booked from the members area."
)

# Records, in order, what the chat log showed: text put into an answer, and the answer
# ending (aria-busy removed). Text before the end means the answer was shown as it came.
WATCH_ANSWER = """() => {
    window.__answer = [];
    new MutationObserver((records) => {
        for (const r of records) {
            if (r.type === 'attributes' && r.attributeName === 'aria-busy'
                && r.oldValue === 'true') {
                window.__answer.push(['end', '']);
            }
            if (r.type === 'childList' && r.target.classList
                && r.target.classList.contains('cm-msg-text')
                && r.target.closest('.cm-msg-assistant')) {
                for (const n of r.addedNodes) window.__answer.push(['text', n.textContent]);
            }
        }
    }).observe(document.getElementById('chat-log'), {
        subtree: true, childList: true, attributes: true, attributeOldValue: true,
        attributeFilter: ['aria-busy'],
    });
}"""


@pytest_asyncio.fixture
async def creator_platform(creator_platform_factory: Any) -> CreatorPlatform:
    """The clone and website plugins with an in-process job worker (training is a job),
    polling fast."""
    platform: CreatorPlatform = await creator_platform_factory(
        plugins=["clone", "website"],
        worker=True,
        job_retry_base_seconds=0.02,
        worker_poll_delay_seconds=0.02,
    )
    return platform


async def api_get(page: Page, path: str) -> Any:
    return await page.evaluate(
        "async (path) => { const r = await fetch(path); return [r.status, await r.json()]; }",
        path,
    )


async def sign_up_and_create_clone(page: Page, base: str) -> tuple[str, str]:
    """Sign up, create a workspace and a clone; returns (group id, clone id)."""
    await sign_up_in_browser(page, base, "/clones")
    await assert_accessible(page, "workspaces")

    await page.get_by_label("Workspace name").fill("Ada's Studio")
    await page.get_by_role("button", name="Create workspace").click()
    await expect(page).to_have_url(re.compile(r"/clones/[0-9a-f-]{36}$"))
    await page.wait_for_load_state()
    await expect(page.locator("#no-clones")).to_be_visible()
    await assert_accessible(page, "clones")

    await page.get_by_label("Name", exact=True).fill("Ada's helper")
    await page.get_by_label("Purpose").select_option("support")
    await page.get_by_role("button", name="Create clone").click()
    await expect(page).to_have_url(re.compile(r"/clones/[0-9a-f-]{36}/[0-9a-f-]{36}$"))
    await page.wait_for_load_state()
    await expect(page.get_by_role("heading", name="Ada's helper", level=1)).to_be_visible()
    group_id, clone_id = page.url.rsplit("/", 2)[-2:]
    return group_id, clone_id


async def add_text_source(page: Page, title: str, text: str, kind: str = "text") -> None:
    await page.get_by_label("Title", exact=True).fill(title)
    await page.get_by_label("Format").select_option(kind)
    await page.get_by_label("Text", exact=True).fill(text)
    await page.get_by_role("button", name="Add text").click()
    item = page.locator("#source-list > li", has_text=title)
    await expect(item).to_have_count(1)
    await expect(item.locator(".ui-badge")).to_have_text("New")
    await expect(page.locator("#sources-status")).to_contain_text(f"Source “{title}” added")


async def test_create_train_chat_edit_and_delete_a_clone(
    creator_live_server: str, creator_browser: Browser
) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    base = creator_live_server
    page, errors = await open_page(creator_browser, timeout_ms=TIMEOUT)
    group_id, clone_id = await sign_up_and_create_clone(page, base)
    await expect(page.locator("#clone-status")).to_have_text("Not trained yet")
    await expect(page.locator("#analytics")).to_have_attribute("aria-busy", "false")

    # -- sources: pasted text and Markdown
    await add_text_source(page, "Refund policy", REFUNDS)
    await add_text_source(page, "Coaching", COACHING, kind="markdown")
    await expect(page.locator("#no-sources")).to_be_hidden()

    # -- train: the progress bar reaches the end, the sources are trained
    await page.get_by_role("button", name="Train", exact=True).click()
    # Patience, not a timing check: the first training loads the embedding model, which
    # takes a while on a busy machine.
    await expect(page.locator("#training-text")).to_contain_text(
        "Training complete", timeout=TRAINING_TIMEOUT
    )
    await expect(page.locator("#training-text")).to_contain_text("from 2 sources")
    bar = page.locator("#training-bar")
    assert await bar.get_attribute("max") == "2"
    assert await bar.evaluate("b => b.value") == 2
    await expect(page.locator("#clone-status")).to_have_text("Trained")
    await expect(page.locator("#source-list .ui-badge")).to_have_text(["Trained", "Trained"])
    await expect(page.get_by_role("button", name="Retrain")).to_be_enabled()
    await expect(page.locator("#trained-at time")).to_have_count(1)

    # -- chat preview: the answer is streamed in, with its citation
    await page.evaluate(WATCH_ANSWER)
    question = page.get_by_label("Your question")
    await question.fill("How many days do I have to ask for a refund?")
    async with page.expect_response(re.compile(r"/messages\?stream=true$")) as streamed:
        await question.press("Enter")
    response = await streamed.value
    assert response.status == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    answer = page.locator("#chat-log .cm-msg-assistant:not(.cm-welcome)").last
    await expect(answer).not_to_have_attribute("aria-busy", "true")
    await expect(answer.locator(".cm-msg-text")).to_contain_text("30 days")
    await expect(answer.locator(".cm-citations li")).to_have_count(1)
    await expect(answer.locator(".cm-citations li")).to_contain_text("Refund policy")
    await expect(page.locator("#chat-log .cm-msg-user")).to_have_text(
        re.compile("How many days do I have to ask for a refund")
    )
    seen = await page.evaluate("window.__answer")
    end = seen.index(["end", ""])
    assert any(kind == "text" and text for kind, text in seen[:end]), seen
    await expect(question).to_be_focused()

    # The citation quotes the sentence that answered, the question's words marked, and
    # links to the source's text opened at it (a text fragment).
    cite = answer.locator(".cm-citations li").first
    await expect(cite.locator(".cm-cite-quote")).to_contain_text("within 30 days")
    await expect(cite.locator("mark", has_text="refund")).to_have_count(1)
    href = await cite.get_by_role("link").get_attribute("href")
    assert href and href.startswith(f"/clones/{group_id}/{clone_id}/sources/"), href
    assert "#:~:text=" in href
    # feedback, recorded as a visitor's is (the icons are SVG, not emoji)
    helpful = answer.get_by_role("button", name="Helpful", exact=True)
    await expect(helpful.locator("svg")).to_have_count(1)
    await helpful.click()
    await expect(helpful).to_have_attribute("aria-pressed", "true")
    await expect(answer.locator(".cm-rate-status")).to_contain_text("Thanks")
    await page.locator("#preview").screenshot(path=str(ARTIFACTS / "clone-try-it.png"))

    # ... and a question its sources do not cover: "I don't know", clearly marked.
    await question.fill("What is the capital of Mongolia?")
    await page.get_by_role("button", name="Ask").click()
    unknown = page.locator("#chat-log .cm-msg-unanswered")
    await expect(unknown).to_have_count(1)
    await expect(unknown.locator(".cm-msg-text")).to_contain_text("I don't know")
    await expect(unknown.locator(".cm-unanswered")).to_contain_text("Didn\u2019t know")
    await expect(unknown.locator(".cm-citations")).to_have_count(0)

    # -- analytics follow the conversation (when the analytics API is there)
    status, _ = await api_get(
        page, f"/api/v1/clone/groups/{group_id}/clones/{clone_id}/analytics?days=30"
    )
    analytics = page.locator("#analytics")
    if status == 200:
        await expect(analytics.locator(".cm-stat", has_text="Questions")).to_contain_text("2")
        await expect(analytics.locator("table", has_text="Content gaps")).to_contain_text(
            "capital of Mongolia"
        )
    else:
        await expect(analytics).to_have_text("Analytics are not available.")

    await page.screenshot(path=str(ARTIFACTS / "clone-manage.png"), full_page=True)
    await assert_accessible(page, "clone")

    # -- the cited source's own page, scrolled to the passage
    await page.goto(base + href)
    await expect(page.get_by_role("heading", name="Refund policy")).to_be_visible()
    await expect(page.locator(".cm-source-text")).to_contain_text("within 30 days")
    await page.screenshot(path=str(ARTIFACTS / "clone-source-view.png"))
    await assert_accessible(page, "source view")
    await page.go_back()
    await expect(page.locator("#clone-title")).to_be_visible()

    # -- edit the prompt
    prompt = "You are Ada's support helper. Answer briefly and kindly."
    await page.get_by_label("Instructions (system prompt)").fill(prompt)
    await page.get_by_label("Temperature").fill("0.5")
    await page.get_by_role("button", name="Save settings").click()
    await expect(page.locator("#settings-status")).to_have_text("Settings saved.")
    status, clone = await api_get(page, f"/api/v1/clone/groups/{group_id}/clones/{clone_id}")
    assert status == 200
    assert clone["system_prompt"] == prompt and clone["temperature"] == 0.5
    assert clone["provider"] == "offline"

    # Changed elsewhere in between (another tab): the API answers 412, the page says reload.
    renamed = await page.evaluate(
        """async (url) => {
            const session = await (await fetch('/api/v1/auth/session')).json();
            const response = await fetch(url, {
                method: 'PATCH',
                headers: {'Content-Type': 'application/json', 'X-CSRF-Token': session.csrf_token},
                body: JSON.stringify({welcome_message: 'Hello from the other tab'}),
            });
            return response.status;
        }""",
        f"/api/v1/clone/groups/{group_id}/clones/{clone_id}",
    )
    assert renamed == 200
    await page.get_by_label("Welcome message").fill("Hello there!")
    await page.get_by_role("button", name="Save settings").click()
    await expect(page.locator("#settings-error")).to_contain_text("Reload the page")
    await page.reload()
    await expect(page.get_by_label("Welcome message")).to_have_value("Hello from the other tab")
    await expect(page.get_by_label("Instructions (system prompt)")).to_have_value(prompt)

    # -- the websites that may show the chat
    origins_form = page.locator("#origins-form")
    if await origins_form.count():
        origins = page.get_by_label("Websites that may show the chat")
        await origins.fill("not a website")
        await page.get_by_role("button", name="Save allowed websites").click()
        await expect(page.locator("#origins-error")).to_contain_text(
            "“not a website” is not a website address"
        )
        await expect(origins).to_have_attribute("aria-invalid", "true")
        await origins.fill("https://www.example.com\n\n  https://shop.example.com  ")
        await page.get_by_role("button", name="Save allowed websites").click()
        await expect(page.locator("#origins-status")).to_have_text("Allowed websites saved.")
        _, clone = await api_get(page, f"/api/v1/clone/groups/{group_id}/clones/{clone_id}")
        assert clone["allowed_origins"] == ["https://www.example.com", "https://shop.example.com"]

    # -- the bubble's look: a colour and a picture (https only)
    await page.get_by_label("Colour").fill("#aa3300")
    await page.get_by_label("Picture (an https address, optional)").fill("http://me.example/a.jpg")
    await page.get_by_role("button", name="Save the look").click()
    await expect(page.locator("#look-error")).to_contain_text("must be an https address")
    await page.get_by_label("Picture (an https address, optional)").fill("https://me.example/a.jpg")
    await page.get_by_role("button", name="Save the look").click()
    await expect(page.locator("#look-status")).to_have_text(
        "The bubble's look is saved, and the snippet carries it."
    )
    _, clone = await api_get(page, f"/api/v1/clone/groups/{group_id}/clones/{clone_id}")
    assert clone["widget_theme"] == {"accent": "#aa3300", "avatar_url": "https://me.example/a.jpg"}

    # -- the embed snippet names this clone, in the saved colour (at once, and reloaded)
    snippet = await page.get_by_label("Embed snippet").input_value()
    pattern = (
        rf'<script src="http[^"]+/clone/embed\.js" data-clone="{clone_id}" '
        r'data-color="#aa3300" async></script>'
    )
    assert re.fullmatch(pattern, snippet), snippet
    await page.reload()
    assert re.fullmatch(pattern, await page.get_by_label("Embed snippet").input_value())

    # -- delete: only after typing the clone's name
    await page.get_by_role("button", name="Delete clone…").click()
    dialog = page.get_by_role("dialog", name="Delete this clone?")
    await expect(dialog).to_be_visible()
    confirm = dialog.get_by_role("button", name="Delete clone")
    await expect(confirm).to_be_disabled()
    await expect(dialog.get_by_label("Type the clone's name to confirm")).to_be_focused()
    await assert_accessible(page, "delete dialog")
    await dialog.get_by_label("Type the clone's name to confirm").fill("Ada's")
    await expect(confirm).to_be_disabled()
    await page.keyboard.press("Escape")
    await expect(dialog).to_be_hidden()
    await expect(page.get_by_role("button", name="Delete clone…")).to_be_focused()
    await page.get_by_role("button", name="Delete clone…").click()
    await dialog.get_by_label("Type the clone's name to confirm").fill("Ada's helper")
    await expect(confirm).to_be_enabled()
    await confirm.click()
    await expect(page).to_have_url(f"{base}/clones/{group_id}")
    await expect(page.locator("#no-clones")).to_be_visible()
    status, _ = await api_get(page, f"/api/v1/clone/groups/{group_id}/clones/{clone_id}")
    assert status == 404
    assert real_errors(errors) == [], errors


PUBLISH_A_PAGE = """async (groupId) => {
    const session = await (await fetch('/api/v1/auth/session')).json();
    const send = async (url, body) => {
        const response = await fetch(url, {
            method: 'POST',
            headers: {'Content-Type': 'application/json', 'X-CSRF-Token': session.csrf_token},
            body: JSON.stringify(body),
        });
        return [response.status, await response.json()];
    };
    const base = `/api/v1/website/groups/${groupId}/sites`;
    const [, site] = await send(base, {name: 'Ada', slug: `ada-${Date.now().toString(36)}`});
    const [, draft] = await send(`${base}/${site.id}/pages`, {title: 'Draft only', slug: 'draft'});
    const [, page] = await send(`${base}/${site.id}/pages`, {title: 'About us', slug: 'about'});
    const [status] = await send(`${base}/${site.id}/pages/${page.id}/publish`, {});
    return status;
}"""


async def test_upload_remove_a_website_page_and_an_untrained_clone(
    creator_live_server: str, creator_browser: Browser
) -> None:
    page, errors = await open_page(creator_browser, timeout_ms=TIMEOUT)
    group_id, _ = await sign_up_and_create_clone(page, creator_live_server)

    # Train with no sources: the API's refusal is shown.
    await page.get_by_role("button", name="Train", exact=True).click()
    await expect(page.locator("#training-error")).to_contain_text("no sources yet")

    # Upload a file; the title defaults to the file's name.
    await page.get_by_label("File", exact=True).set_input_files(
        {"name": "faq.md", "mimeType": "text/markdown", "buffer": b"# FAQ\n\nWe ship worldwide."}
    )
    await page.get_by_role("button", name="Upload file").click()
    item = page.locator("#source-list > li", has_text="faq")
    await expect(item).to_have_count(1)
    await expect(item).to_contain_text("faq.md")

    # An empty paste is refused in the page, naming the field.
    await page.get_by_label("Title", exact=True).fill("Empty")
    await page.get_by_role("button", name="Add text").click()
    await expect(page.locator("#text-source-error")).to_have_text("Text is required.")
    await expect(page.get_by_label("Text", exact=True)).to_be_focused()

    # Remove the upload after confirming.
    await page.get_by_role("button", name="Remove source faq").click()
    dialog = page.get_by_role("dialog", name="Remove source?")
    await expect(dialog).to_be_visible()
    await dialog.get_by_role("button", name="Remove").click()
    await expect(page.locator("#source-list > li")).to_have_count(0)
    await expect(page.locator("#no-sources")).to_be_visible()
    await expect(page.locator("#sources-status")).to_have_text("Source “faq” removed.")

    # A published page of the website (drafts are not offered) becomes a source.
    select = page.get_by_label("Published page")
    await expect(select.locator("option")).to_have_text(["No published pages to add"])
    assert await page.evaluate(PUBLISH_A_PAGE, group_id) == 200
    await page.reload()
    await expect(select.locator("option")).to_have_text(["About us (/about)"])
    await page.get_by_role("button", name="Add page").click()
    item = page.locator("#source-list > li", has_text="About us")
    await expect(item).to_contain_text("Website page")
    await expect(select.locator("option")).to_have_text(["No published pages to add"])
    await page.get_by_role("button", name="Remove source About us").click()
    await (
        page.get_by_role("dialog", name="Remove source?")
        .get_by_role("button", name="Remove")
        .click()
    )
    await expect(page.locator("#source-list > li")).to_have_count(0)

    # An untrained clone already answers in the preview: honestly, that it does not know.
    await page.get_by_label("Your question").fill("Do you ship to Canada?")
    await page.get_by_role("button", name="Ask").click()
    await expect(page.locator("#chat-log .cm-msg-unanswered")).to_have_count(1)
    await page.get_by_role("button", name="New conversation").click()
    await expect(page.locator("#chat-log .cm-msg")).to_have_count(1)  # the welcome
    assert real_errors(errors) == [], errors

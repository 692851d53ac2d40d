"""Tests of a plugin's pages, over HTTP and in the browser."""

from __future__ import annotations

import re
import uuid
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import httpx

if TYPE_CHECKING:
    from playwright.async_api import Browser, ConsoleMessage, Page


#: The password the sign-up helpers use (long enough for the platform's rule).
TEST_PASSWORD = "correct horse battery staple"


async def sign_up(
    client: httpx.AsyncClient, name: str = "Ada", password: str = TEST_PASSWORD
) -> dict[str, Any]:
    """Sign up a new person (a unique email) through the JSON API; ``client`` keeps the
    session cookie. Returns the session (``csrf_token``, the person)."""
    email = f"{name.lower()}-{uuid.uuid4().hex[:8]}@example.test"
    r = await client.post(
        "/api/v1/auth/signup", json={"email": email, "password": password, "name": name}
    )
    assert r.status_code == 201, r.text
    session: dict[str, Any] = r.json()
    return session


def assert_ui_page(response: httpx.Response, *landmarks: str) -> str:
    """``response`` is a platform HTML page as every plugin's pages must be: 200, a whole
    document (doctype, ``lang``, a title, ``<header>`` and ``<main>``, and each of
    ``landmarks`` as text), never cached, with a strict Content-Security-Policy and nothing
    inline for it to block (no inline script, event handler attribute or style). Returns
    the HTML."""
    assert response.status_code == 200, response.text[:500]
    assert response.headers["content-type"].startswith("text/html")
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "style-src 'self'" in csp
    assert "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-content-type-options"] == "nosniff"
    html = response.text
    assert html.startswith("<!doctype html>")
    assert '<html lang="en">' in html
    assert re.search(r"<title>[^<]+</title>", html)
    for landmark in ("<main", "<header", *landmarks):
        assert landmark in html, landmark
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), "inline script"
    assert not re.search(r"\son[a-z]+\s*=", html), "inline event handler"
    assert not re.search(r"\sstyle\s*=", html), "inline style"
    return html


def assert_login_redirect(response: httpx.Response, next_path: str) -> None:
    """``response`` sends the browser to the log-in page, which brings it back to
    ``next_path`` (its query included) afterwards; never cached."""
    assert response.status_code == 302, response.text[:500]
    location = urlsplit(response.headers["location"])
    assert location.path == "/account/login"
    assert parse_qs(location.query) == {"next": [next_path]}
    assert response.headers["cache-control"] == "no-store"


async def open_page(
    browser: Browser, *, timeout_ms: float = 15_000, width: int = 1400, height: int = 1000
) -> tuple[Page, list[str]]:
    """A page in a fresh browser context (its own cookies) and the list it collects console
    errors and uncaught exceptions into (a CSP violation is a console error). Reduced
    motion: animations (SortableJS moves, transitions) do not make a test depend on how
    fast the machine is."""
    context = await browser.new_context(
        viewport={"width": width, "height": height}, reduced_motion="reduce"
    )
    page = await context.new_page()
    page.set_default_timeout(timeout_ms)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(f"uncaught: {exc}"))

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            errors.append(f"console: {message.text}")

    page.on("console", on_console)
    return page, errors


def real_errors(errors: list[str]) -> list[str]:
    """``errors`` from :func:`open_page` less failed loads of resources (the favicon, an
    off-line https image, a 404 the page handles), which are no bug of the page's."""
    return [e for e in errors if "Failed to load resource" not in e]


async def assert_accessible(page: Page, where: str) -> None:
    """axe-core finds no violation of impact serious or critical on ``page`` (the others
    are printed, named by ``where``)."""
    from axe_playwright_python.async_playwright import Axe

    results = await Axe().run(page)
    violations: list[dict[str, Any]] = results.response["violations"]
    for v in violations:
        print(f"axe [{where}] {v['impact']}: {v['id']} — {v['help']} ({len(v['nodes'])} nodes)")
    serious = [v for v in violations if v["impact"] in ("serious", "critical")]
    assert not serious, "\n".join(
        f"{v['id']} ({v['impact']}): {v['help']}: {[n['target'] for n in v['nodes']][:5]}"
        for v in serious
    )


async def sign_up_in_browser(page: Page, base: str, path: str, name: str = "Ada") -> None:
    """Open ``base + path`` with no session, follow the log-in page's "Create an account"
    link, sign up a new person, and land back on ``path`` (the ``next`` it was given)."""
    from playwright.async_api import expect

    await page.goto(base + path)
    back = re.escape(path).replace("/", "(/|%2F)")
    await expect(page).to_have_url(re.compile(rf"/account/login\?next={back}$"))
    await page.get_by_role("link", name="Create an account").click()
    await expect(page.get_by_role("heading", name="Create your account")).to_be_visible()
    await page.wait_for_load_state()
    await page.get_by_label("Your name").fill(name)
    await page.get_by_label("Email").fill(f"{name.lower()}-{uuid.uuid4().hex[:8]}@example.test")
    await page.get_by_label("Password").fill(TEST_PASSWORD)
    await page.get_by_role("button", name="Create account").click()
    await expect(page).to_have_url(base + path)
    await page.wait_for_load_state()

"""The creator app's shell in a real (headless) Chromium: a new creator signs up, creates a
workspace and lands on its dashboard (the websites and clone questions cards), moves
between features through the navigation, switches workspace, opens settings and their
account, turns dark mode on (it stays on after a reload), uses it all at 375 px wide,
meets an HTML 404 page for an unknown screen, and logs out from the account menu.
axe-core checks each screen (no violation of impact serious or critical). Screenshots
land in ``test-artifacts/shell-*.png`` (gitignored).
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


@pytest_asyncio.fixture
async def creator_platform(creator_platform_factory: Any) -> CreatorPlatform:
    platform: CreatorPlatform = await creator_platform_factory(plugins=["clone", "website"])
    return platform


async def api(page: Page, method: str, path: str, body: Any = None) -> Any:
    """A JSON API call from the page, as its scripts make them (session + CSRF token)."""
    return await page.evaluate(
        "async ([m, p, b]) => (await CreatorUI.api(m, p, b ? {body: b} : {})).data",
        [method, path, body],
    )


async def shot(page: Page, name: str, *, full: bool = False) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"shell-{name}.png"), full_page=full)


async def test_the_shell_in_chromium(creator_live_server: str, creator_browser: Browser) -> None:
    base = creator_live_server
    page, errors = await open_page(creator_browser, width=1280, height=800)
    await sign_up_in_browser(page, base, "/app")
    await expect(page.get_by_role("heading", name="Your workspaces")).to_be_visible()
    await shot(page, "workspaces")
    await assert_accessible(page, "workspaces")

    await page.get_by_label("Workspace name").fill("Ada's Studio")
    await page.get_by_role("button", name="Create workspace").click()
    await expect(page).to_have_url(re.compile(r"/app/[0-9a-f-]{36}$"))
    await page.wait_for_load_state()
    group_id = page.url.rsplit("/", 1)[1]

    # Something to count: a site with a published home page and a draft, a second workspace.
    site = await api(
        page,
        "POST",
        f"/api/v1/website/groups/{group_id}/sites",
        {"name": "Ada's site", "slug": f"ada-{group_id[-8:]}"},
    )
    pages = f"/api/v1/website/groups/{group_id}/sites/{site['id']}/pages"
    home = await api(page, "POST", pages, {"title": "Home", "slug": "home"})
    await api(page, "POST", f"{pages}/{home['id']}/publish", {})
    await api(page, "POST", pages, {"title": "About", "slug": "about"})
    await api(
        page, "POST", "/api/v1/groups", {"name": "Side Project", "slug": f"side-{group_id[-8:]}"}
    )

    await page.reload()
    main_nav = page.get_by_role("navigation", name="Main")
    await expect(main_nav.get_by_role("link", name="Home")).to_have_attribute(
        "aria-current", "page"
    )
    websites = page.locator('[data-widget="website.pages"]')
    await expect(websites.locator(".ui-stat-value")).to_have_text("1")
    await expect(page.locator('[data-widget="clone.questions"]')).to_contain_text(
        "questions in the last 30 days"
    )
    await shot(page, "dashboard")
    await assert_accessible(page, "dashboard")

    # The workspace switcher leads to the same feature in the other workspace.
    await page.get_by_text("Workspace:").locator("..").click()
    switcher = page.locator(".ui-switcher .ui-menu-panel")
    await expect(switcher.get_by_role("link", name="Side Project")).to_be_visible()
    await shot(page, "switcher")
    await page.keyboard.press("Escape")
    await expect(switcher).to_be_hidden()

    # Features through the navigation: each screen in the shell, its entry marked.
    await main_nav.get_by_role("link", name="Websites").click()
    await expect(page).to_have_url(f"{base}/builder/{group_id}")
    await expect(main_nav.get_by_role("link", name="Websites")).to_have_attribute(
        "aria-current", "page"
    )
    await shot(page, "websites")
    await assert_accessible(page, "websites")
    # The page editor is a full-screen tool: it keeps the account menu.
    await page.goto(f"{base}/builder/{group_id}/sites/{site['id']}/pages/{home['id']}")
    await expect(page.locator(".bl-topbar .ui-account")).to_be_visible()
    await shot(page, "editor")
    await page.go_back()
    await main_nav.get_by_role("link", name="Clones").click()
    await expect(page).to_have_url(f"{base}/clones/{group_id}")
    await shot(page, "clones")
    await assert_accessible(page, "clones")
    await main_nav.get_by_role("link", name="Settings").click()
    await expect(page.get_by_role("heading", name="Settings", exact=True)).to_be_visible()
    await expect(
        page.locator("#settings-pages").get_by_role("link", name=re.compile("^Websites"))
    ).to_be_visible()
    await shot(page, "settings")
    await assert_accessible(page, "settings")

    # The account menu: the account page, the theme, log-out.
    await page.get_by_text("Account menu").locator("..").click()
    menu = page.locator(".ui-account .ui-menu-panel")
    await expect(menu).to_contain_text("Ada")
    await shot(page, "account-menu")
    await assert_accessible(page, "account menu")
    await menu.get_by_role("button", name="Dark").click()
    await expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    await page.goto(f"{base}/app/{group_id}")
    await expect(page.locator("html")).to_have_attribute("data-theme", "dark")  # the cookie
    await shot(page, "dashboard-dark")
    await assert_accessible(page, "dashboard, dark")

    await page.goto(f"{base}/builder/{group_id}/sites/{site['id']}")
    await shot(page, "site-dark", full=True)
    await assert_accessible(page, "site, dark")
    await page.goto(f"{base}/builder/{group_id}/sites/{site['id']}/pages/{home['id']}")
    await expect(page.locator("#library button").first).to_be_visible()
    await shot(page, "editor-dark")
    await assert_accessible(page, "editor, dark")

    await page.goto(f"{base}/account")
    await expect(page.get_by_role("heading", name="Your account")).to_be_visible()
    await shot(page, "account-dark")
    await assert_accessible(page, "account, dark")

    await page.goto(f"{base}/builder/{group_id}/nothing/here")
    await expect(page.get_by_role("heading", name="Not found")).to_be_visible()
    await shot(page, "not-found")
    await assert_accessible(page, "not found")

    # 375 px wide: the navigation becomes a row, nothing overflows sideways.
    await page.set_viewport_size({"width": 375, "height": 812})
    await page.goto(f"{base}/app/{group_id}")
    await shot(page, "dashboard-375-dark", full=True)
    await assert_accessible(page, "dashboard 375, dark")
    await page.get_by_text("Account menu").locator("..").click()
    await shot(page, "account-menu-375-dark")
    await page.locator(".ui-account .ui-menu-panel").get_by_role("button", name="Light").click()
    await page.goto(f"{base}/app/{group_id}")
    await expect(page.locator("html")).to_have_attribute("data-theme", "light")
    await shot(page, "dashboard-375", full=True)
    await assert_accessible(page, "dashboard 375")
    for path in (f"/app/{group_id}", f"/builder/{group_id}", f"/clones/{group_id}", "/account"):
        await page.goto(base + path)
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= 375, f"{path} is {width} px wide at 375"
    await page.goto(f"{base}/clones/{group_id}")
    await shot(page, "clones-375", full=True)
    await assert_accessible(page, "clones 375")

    await page.get_by_text("Account menu").locator("..").click()
    await page.locator(".ui-account").get_by_role("button", name="Log out").click()
    await expect(page).to_have_url(f"{base}/account/login")
    await page.wait_for_load_state()
    await shot(page, "login-375")
    await assert_accessible(page, "log-in 375")
    await page.goto(f"{base}/app")
    await expect(page).to_have_url(re.compile(r"/account/login\?next="))
    assert real_errors(errors) == []

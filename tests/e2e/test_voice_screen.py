"""The clones' "Voice and video" screen in a real (headless) Chromium, reached from the
workspace's settings, on a platform with no voice or video service: it says so and what
to configure. axe-core checks it, at 1280 and 375 px; screenshots land in
``test-artifacts/voice-*.png`` (gitignored)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

pytest.importorskip("playwright")

from playwright.async_api import Browser, expect

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
    platform: CreatorPlatform = await creator_platform_factory(plugins=["clone"])
    return platform


async def test_voice_screen_without_providers(
    creator_live_server: str, creator_browser: Browser
) -> None:
    base = creator_live_server
    page, errors = await open_page(creator_browser, width=1280, height=800)
    await sign_up_in_browser(page, base, "/app")
    await page.get_by_label("Workspace name").fill("Nova Studio")
    await page.get_by_role("button", name="Create workspace").click()
    await expect(page).to_have_url(re.compile(r"/app/[0-9a-f-]{36}$"))
    group_id = page.url.rsplit("/", 1)[1]
    await page.evaluate(
        "(g) => CreatorUI.api('POST', `/api/v1/clone/groups/${g}/clones`, {body: {name: 'Nova'}})",
        group_id,
    )
    await page.goto(f"{base}/app/{group_id}/settings")
    await page.locator("#settings-pages").get_by_role("link", name=re.compile("^Voice")).click()
    await expect(page).to_have_url(f"{base}/clones/{group_id}/voice")
    await expect(page.get_by_text("No voice service is set up")).to_be_visible()
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "voice-not-configured.png"), full_page=True)
    await assert_accessible(page, "voice")
    await page.set_viewport_size({"width": 375, "height": 812})
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, f"the voice screen scrolls sideways at 375 px ({width})"
    await page.screenshot(path=str(ARTIFACTS / "voice-375.png"), full_page=True)
    await assert_accessible(page, "voice, 375 px")
    assert not real_errors(errors), errors

"""The media library in a real (headless) Chromium: upload two images with the file
button (progress, then tiles), one more by dropping it on the zone, open a file's
details, change its alt text, delete one; the same screen at 375 px. axe-core checks each
state; screenshots land in ``test-artifacts/media-*.png`` (gitignored)."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

pytest.importorskip("playwright")

from PIL import Image, ImageDraw
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
    platform: CreatorPlatform = await creator_platform_factory(plugins=["website"])
    return platform


def picture(path: Path, size: tuple[int, int], colours: tuple[str, str]) -> Path:
    image = Image.new("RGB", size, colours[0])
    draw = ImageDraw.Draw(image)
    w, h = size
    draw.ellipse((w * 0.25, h * 0.2, w * 0.75, h * 0.8), fill=colours[1])
    image.save(path, "PNG")
    return path


async def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"media-{name}.png"), full_page=True)


async def test_the_media_library_in_chromium(
    creator_live_server: str, creator_browser: Browser, tmp_path: Path
) -> None:
    base = creator_live_server
    page, errors = await open_page(creator_browser, width=1280, height=800)
    await sign_up_in_browser(page, base, "/app")
    await page.get_by_label("Workspace name").fill("Clay & Co")
    await page.get_by_role("button", name="Create workspace").click()
    await expect(page).to_have_url(re.compile(r"/app/[0-9a-f-]{36}$"))
    group_id = page.url.rsplit("/", 1)[1]

    await page.get_by_role("navigation", name="Main").get_by_role("link", name="Media").click()
    await expect(page).to_have_url(f"{base}/builder/{group_id}/media")
    await expect(page.get_by_text("No files yet")).to_be_visible()
    await shot(page, "empty")
    await assert_accessible(page, "media, empty")

    files = [
        picture(tmp_path / "terracotta-vase.png", (800, 600), ("#f3e6d3", "#c4622d")),
        picture(tmp_path / "studio-shelf.png", (600, 800), ("#2f3e46", "#e9c46a")),
    ]
    async with page.expect_file_chooser() as chooser:
        await page.get_by_text("Choose files").click()
    await (await chooser.value).set_files([str(f) for f in files])
    grid = page.locator("#media-grid")
    await expect(grid.locator(".md-tile")).to_have_count(2)
    await expect(page.locator("#media-count")).to_have_text("2 files")

    # Drop a file on the zone, as a browser does (a DataTransfer with the file).
    dropped = io.BytesIO()
    Image.new("RGB", (300, 300), "#8ab17d").save(dropped, "PNG")
    transfer = await page.evaluate_handle(
        """(bytes) => {
            const dt = new DataTransfer();
            dt.items.add(new File([new Uint8Array(bytes)], "sage-bowl.png", {type: "image/png"}));
            return dt;
        }""",
        list(dropped.getvalue()),
    )
    await page.dispatch_event("#media-drop", "drop", {"dataTransfer": transfer})
    await expect(grid.locator(".md-tile")).to_have_count(3)
    await shot(page, "grid")
    await assert_accessible(page, "media, grid")

    # Details: facts, alt text, where used, delete.
    await grid.get_by_role("button", name=re.compile("terracotta-vase.png")).click()
    dialog = page.locator("#media-details")
    await expect(dialog).to_be_visible()
    await expect(dialog.locator("#details-dimensions")).to_have_text("800 \u00d7 600 px")
    await expect(dialog.locator("#details-type")).to_contain_text("PNG")
    await expect(dialog.locator("#details-unused")).to_be_visible()
    await dialog.get_by_label("Alt text").fill("A terracotta vase on a cream ground")
    await dialog.get_by_role("button", name="Save alt text").click()
    await expect(dialog.locator("#alt-status")).to_have_text("Saved")
    await shot(page, "details")
    await assert_accessible(page, "media, details")
    await dialog.get_by_role("button", name="Delete file").click()
    await page.locator("#confirm-yes").click()
    await expect(dialog).to_be_hidden()
    await expect(grid.locator(".md-tile")).to_have_count(2)

    await page.set_viewport_size({"width": 375, "height": 812})
    await page.reload()
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, f"the library scrolls sideways at 375 px ({width})"
    await shot(page, "375")
    await assert_accessible(page, "media, 375 px")
    await grid.locator(".md-tile-button").first.click()
    await expect(dialog).to_be_visible()
    await page.screenshot(path=str(ARTIFACTS / "media-details-375.png"))
    await assert_accessible(page, "media, details, 375 px")

    assert not real_errors(errors), errors

"""A published site in a real (headless) Chromium: the header with logo, name and menu,
the footer with its links, at desktop width and at 375 px (where the menu folds into a
disclosure that opens without script), checked by axe-core. Screenshots land in
``test-artifacts/`` (gitignored)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("playwright")

from playwright.async_api import Browser, Page, expect

from sdk.testing import CreatorPlatform, Tenant, assert_accessible, open_page, real_errors

pytestmark = [pytest.mark.creator_plugins("website")]

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def picture(
    width: int, height: int, top: tuple[int, int, int], bottom: tuple[int, int, int]
) -> bytes:
    """A vertical gradient, a stand-in for a photo."""
    from PIL import Image

    image = Image.new("RGB", (width, height))
    for y in range(height):
        t = y / (height - 1)
        colour = tuple(round(a + (b - a) * t) for a, b in zip(top, bottom, strict=True))
        image.paste(colour, (0, y, width, y + 1))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


class Site:
    def __init__(self, tenant: Tenant) -> None:
        self.client = tenant.client
        self.base = f"/api/v1/website/groups/{tenant.group.id}"

    async def call(self, method: str, path: str, **kwargs: Any) -> Any:
        r = await self.client.request(method, self.base + path, **kwargs)
        assert r.status_code in (200, 201), r.text
        return r.json()

    async def add(
        self, site: str, page: str, type: str, parent: str | None = None, **props: Any
    ) -> str:
        body: dict[str, Any] = {"type": type, "props": props}
        if parent:
            body["parent_id"] = parent
        found = await self.call("POST", f"/sites/{site}/pages/{page}/components", json=body)
        node_id: str = found["node"]["id"]
        return node_id


async def build_site(tenant: Tenant) -> None:
    api = Site(tenant)
    hero = await api.call(
        "POST",
        "/media",
        files={
            "file": ("studio.png", picture(1600, 900, (236, 160, 110), (120, 52, 28)), "image/png")
        },
        data={"alt": "The studio's wheel at dusk"},
    )
    logo = await api.call(
        "POST",
        "/media",
        files={"file": ("logo.png", picture(96, 96, (168, 56, 15), (110, 30, 8)), "image/png")},
    )
    site = await api.call(
        "POST",
        "/sites",
        json={
            "name": "Ada's Pottery",
            "slug": "ada",
            "theme": "sunrise",
            "description": "Hand-thrown stoneware and weekend classes in Lisbon.",
            "settings": {
                "color_mode": "light",
                "logo": logo["url"],
                "footer_text": "© 2026 Ada's Pottery · Rua das Flores 12, Lisbon",
                "footer_links": [
                    {"label": "Instagram", "url": "https://instagram.example/adapottery"},
                    {"label": "hello@ada.example", "url": "mailto:hello@ada.example"},
                ],
            },
        },
    )
    sid = site["id"]
    pages = {}
    for slug, title in (("home", "Home"), ("about", "About"), ("classes", "Classes")):
        pages[slug] = (
            await api.call("POST", f"/sites/{sid}/pages", json={"title": title, "slug": slug})
        )["id"]
    home = pages["home"]
    band = await api.add(sid, home, "section", background="muted", padding="large", label="Welcome")
    await api.add(sid, home, "heading", band, text="Stoneware made slowly, by hand", level=1)
    await api.add(
        sid,
        home,
        "text",
        band,
        html="<p>Mugs, bowls and vases thrown on the wheel in our Lisbon studio, "
        "and weekend classes for beginners.</p>",
    )
    await api.add(sid, home, "button", band, label="Book a class", href="/sites/ada/classes")
    await api.add(
        sid, home, "button", band, label="Our story", href="/sites/ada/about", style="secondary"
    )
    await api.add(
        sid,
        home,
        "image",
        band,
        asset_id=hero["id"],
        alt="The studio's wheel at dusk",
        width="full",
    )
    await api.add(sid, home, "heading", text="What we make")
    await api.add(
        sid,
        home,
        "text",
        html="<p>Every piece is glazed in small batches, so no two are alike.</p>",
    )
    about = pages["about"]
    await api.add(sid, about, "heading", text="About the studio", level=1)
    await api.add(sid, about, "text", html="<p>Ada opened the studio in 2019.</p>")
    classes = pages["classes"]
    await api.add(sid, classes, "heading", text="Classes", level=1)
    await api.add(sid, classes, "text", html="<p>Saturdays, 10:00 to 13:00.</p>")
    for page_id in pages.values():
        await api.call("POST", f"/sites/{sid}/pages/{page_id}/publish")


async def no_violations(page: Page, where: str) -> None:
    """No axe violation at all (``assert_accessible`` stops at serious ones)."""
    from axe_playwright_python.async_playwright import Axe

    await assert_accessible(page, where)
    violations = (await Axe().run(page)).response["violations"]
    assert not violations, [(v["id"], v["impact"]) for v in violations]


async def test_published_site_header_menu_and_footer(
    creator_platform: CreatorPlatform, creator_live_server: str, creator_browser: Browser
) -> None:
    await build_site(await creator_platform.tenant())
    ARTIFACTS.mkdir(exist_ok=True)

    page, errors = await open_page(creator_browser, width=1280, height=900)
    await page.goto(creator_live_server + "/sites/ada")
    nav = page.get_by_role("navigation", name="Main")
    await expect(nav.get_by_role("link", name="About")).to_be_visible()
    await expect(page.locator(".cp-menu-small")).to_be_hidden()
    await page.screenshot(path=str(ARTIFACTS / "published-site-desktop.png"), full_page=True)
    await no_violations(page, "published page, desktop")
    await nav.get_by_role("link", name="About").click()
    await expect(page.get_by_role("heading", name="About the studio")).to_be_visible()
    await expect(nav.get_by_role("link", name="About")).to_have_attribute("aria-current", "page")
    assert real_errors(errors) == []

    phone, errors = await open_page(creator_browser, width=375, height=740)
    await phone.goto(creator_live_server + "/sites/ada")
    await expect(phone.locator(".cp-menu")).to_be_hidden()
    width = await phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 375  # nothing overflows sideways
    await phone.screenshot(path=str(ARTIFACTS / "published-site-375.png"), full_page=True)
    await no_violations(phone, "published page, 375 px")
    await phone.get_by_text("Menu", exact=True).click()
    classes = phone.locator(".cp-menu-small").get_by_role("link", name="Classes")
    await expect(classes).to_be_visible()
    await phone.screenshot(path=str(ARTIFACTS / "published-site-375-menu.png"))
    await no_violations(phone, "published page, 375 px, menu open")
    await classes.click()
    await expect(phone.get_by_role("heading", name="Classes")).to_be_visible()
    assert real_errors(errors) == []

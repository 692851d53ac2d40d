"""The workspace screens in a real (headless) Chromium, with two people in two browser
contexts: an owner invites by email from the members page and copies the link; the
invitee opens it logged out, signs up with that address, lands back on the invitation and
accepts; the owner sees them as a member and changes their role. Then the plan page's
meters and the account page's API tokens (created, shown once, revoked), and the same
screens at 375 px. axe-core checks each screen; screenshots land in
``test-artifacts/workspace-*.png`` (gitignored).
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

pytest.importorskip("playwright")

from playwright.async_api import Browser, Page, expect

from sdk.testing import (
    TEST_PASSWORD,
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


async def shot(page: Page, name: str, *, full: bool = True) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"workspace-{name}.png"), full_page=full)


async def test_invite_accept_and_manage_in_chromium(
    creator_live_server: str, creator_browser: Browser
) -> None:
    base = creator_live_server
    owner, owner_errors = await open_page(creator_browser, width=1280, height=800)
    await sign_up_in_browser(owner, base, "/app", name="Ada")
    await owner.get_by_label("Workspace name").fill("Ada's Studio")
    await owner.get_by_role("button", name="Create workspace").click()
    await expect(owner).to_have_url(re.compile(r"/app/[0-9a-f-]{36}$"))
    group_id = owner.url.rsplit("/", 1)[1]

    # From settings to the members page.
    await owner.get_by_role("navigation", name="Main").get_by_role("link", name="Settings").click()
    await owner.locator("#settings-pages").get_by_role("link", name=re.compile("^Members")).click()
    await expect(owner).to_have_url(f"{base}/app/{group_id}/settings/members")
    await expect(owner.get_by_role("heading", name="Members", exact=True)).to_be_visible()
    await assert_accessible(owner, "members")

    # Invite by email; the link is shown to copy.
    email = f"bea-{uuid.uuid4().hex[:8]}@example.test"
    await owner.get_by_label("Email address").fill(email)
    await owner.get_by_label("Role", exact=True).select_option("org_user")
    await owner.get_by_role("button", name="Create invitation").click()
    link_box = owner.get_by_label("Invitation link")
    await expect(link_box).to_have_value(re.compile(rf"^{re.escape(base)}/invite/cpi_"))
    link = await link_box.input_value()
    invitations = owner.locator("#invitations-list")
    await expect(invitations).to_contain_text(email)
    await shot(owner, "members-invited")
    await assert_accessible(owner, "members, invited")

    # The invitee, in a browser of their own: log-in page → sign up → back on the invitation.
    invitee, invitee_errors = await open_page(creator_browser, width=1280, height=800)
    await invitee.goto(link)
    await expect(invitee).to_have_url(re.compile(r"/account/login\?next="))
    await invitee.get_by_role("link", name="Create an account").click()
    await invitee.get_by_label("Your name").fill("Bea")
    await invitee.get_by_label("Email").fill(email)
    await invitee.get_by_label("Password").fill(TEST_PASSWORD)
    await invitee.get_by_role("button", name="Create account").click()
    await expect(invitee).to_have_url(link)
    await expect(invitee.get_by_role("heading", name="Join Ada's Studio")).to_be_visible()
    await shot(invitee, "invite")
    await assert_accessible(invitee, "invite")
    await invitee.get_by_role("button", name="Accept and join").click()
    await expect(invitee).to_have_url(f"{base}/app/{group_id}")
    await expect(invitee.get_by_role("heading", name="Ada's Studio")).to_be_visible()
    # The link is used now.
    await invitee.goto(link)
    await expect(
        invitee.get_by_role("heading", name=re.compile("already been used"))
    ).to_be_visible()
    await shot(invitee, "invite-used", full=False)
    await assert_accessible(invitee, "invite, used")

    # The owner sees Bea as a member, changes her role; the invitation is no longer pending.
    await owner.reload()
    bea = owner.locator("#members-list li", has_text=email)
    await expect(bea).to_contain_text("Bea")
    await expect(owner.locator("#invitations-empty")).to_be_visible()
    await bea.get_by_label("Role of Bea").select_option("customer")
    await expect(owner.locator("#members-status")).to_contain_text("Bea is now Customer")
    await owner.reload()
    await expect(bea.get_by_label("Role of Bea")).to_have_value("customer")
    await shot(owner, "members")

    # A customer may not manage members: the page says so.
    await invitee.goto(f"{base}/app/{group_id}/settings/members")
    await expect(invitee.get_by_role("heading", name="Not allowed")).to_be_visible()

    # Plan and usage.
    await owner.goto(f"{base}/app/{group_id}/settings/plan")
    await expect(owner.get_by_role("heading", name="Plan and usage")).to_be_visible()
    await expect(owner.get_by_role("meter").first).to_be_visible()
    await shot(owner, "plan")
    await assert_accessible(owner, "plan")

    # API tokens: created (shown once, to copy), revoked.
    await owner.goto(f"{base}/account#tokens")
    await owner.get_by_label("Token name").fill("Deploy script")
    await owner.get_by_role("button", name="Create token").click()
    await expect(owner.get_by_label("The new token")).to_have_value(re.compile(r"\S{20,}"))
    tokens = owner.locator("#tokens-list")
    await expect(tokens).to_contain_text("Deploy script")
    await owner.evaluate("window.scrollTo(0, 0)")
    await shot(owner, "tokens")
    await assert_accessible(owner, "tokens")
    await tokens.get_by_role("button", name="Revoke Deploy script").click()
    await owner.locator("#confirm-yes").click()
    await expect(tokens).not_to_contain_text("Deploy script")

    # 375 px wide.
    await owner.set_viewport_size({"width": 375, "height": 812})
    for name in ("members", "plan"):
        await owner.goto(f"{base}/app/{group_id}/settings/{name}")
        width = await owner.evaluate("document.documentElement.scrollWidth")
        assert width <= 375, f"{name} scrolls sideways at 375 px ({width})"
        await shot(owner, f"{name}-375")
        await assert_accessible(owner, f"{name}, 375 px")
    await invitee.set_viewport_size({"width": 375, "height": 812})
    await invitee.goto(f"{base}/invite/cpi_not-a-real-token")
    await expect(invitee.get_by_role("heading", name=re.compile("not valid"))).to_be_visible()
    await shot(invitee, "invite-invalid-375")
    await assert_accessible(invitee, "invite, invalid, 375 px")

    # Dark mode.
    await owner.set_viewport_size({"width": 1280, "height": 800})
    await owner.context.add_cookies([{"name": "creator_theme", "value": "dark", "url": base}])
    await owner.goto(f"{base}/app/{group_id}/settings/members")
    await expect(owner.locator("html")).to_have_attribute("data-theme", "dark")
    await shot(owner, "members-dark")
    await assert_accessible(owner, "members, dark")

    # An invitation for another address: the invitee is told, logs out, and the log-in
    # page leads back to the invitation.
    other = await owner.evaluate(
        "async (g) => (await CreatorUI.api('POST', `/api/v1/groups/${g}/invitations`,"
        " {body: {email: 'carl@example.test', role: 'org_user'}})).data.token",
        group_id,
    )
    stranger, stranger_errors = await open_page(creator_browser, width=375, height=812)
    await sign_up_in_browser(stranger, base, f"/invite/{other}", name="Dan")
    heading = stranger.get_by_role("heading", name=re.compile("for someone else"))
    await expect(heading).to_be_visible()
    await shot(stranger, "invite-other-email-375")
    await assert_accessible(stranger, "invite, another address")
    await stranger.get_by_role("main").get_by_role("button", name="Log out").click()
    await expect(stranger).to_have_url(re.compile(rf"/account/login\?next=%2Finvite%2F{other}$"))
    assert not real_errors(stranger_errors), stranger_errors

    assert not real_errors(owner_errors), owner_errors
    assert not real_errors(invitee_errors), invitee_errors

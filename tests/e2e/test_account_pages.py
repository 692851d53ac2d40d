"""The sign-up page in a real (headless) Chromium: a new email lands signed in; an email
that already has an account gets no session and is pointed to log-in (the API does not
say the email is taken; the page finds the session does not work)."""

from __future__ import annotations

import re
import uuid

import pytest

pytest.importorskip("playwright")

from playwright.async_api import Browser, Page, expect

from sdk.testing import TEST_PASSWORD, open_page, real_errors

pytestmark = [pytest.mark.creator_plugins()]


async def _sign_up_with(page: Page, base: str, email: str, password: str) -> None:
    await page.goto(f"{base}/account/signup")
    await page.wait_for_load_state()
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Create account").click()


async def test_signing_up_with_a_taken_email_points_to_log_in(
    creator_live_server: str, creator_browser: Browser
) -> None:
    base = creator_live_server
    email = f"ada-{uuid.uuid4().hex[:8]}@example.test"
    page, errors = await open_page(creator_browser)
    await _sign_up_with(page, base, email, TEST_PASSWORD)
    await expect(page).to_have_url(re.compile(rf"^{re.escape(base)}/?$"))

    other, other_errors = await open_page(creator_browser)
    await _sign_up_with(other, base, email, "a different password")
    alert = other.get_by_role("alert")
    await expect(alert).to_contain_text("If you already have an account with this email")
    await expect(other).to_have_url(f"{base}/account/signup")
    assert real_errors(other_errors) == []  # the session check's 401 is a failed load
    assert real_errors(errors) == []

"""The account pages' ``next``: after log-in or sign-up, only a page of the platform
itself, never another host nor a page a tenant wrote (a review found a published site's
page accepted, which could ask for the password again)."""

import pytest

from core.account_ui import DEFAULT_NEXT, safe_next

pytestmark = pytest.mark.creator_plugins()


@pytest.mark.parametrize(
    "value",
    ["/builder", "/builder/x?tab=pages#top", "/clones/", "/account/tokens", "/sitesx/y"],
)
def test_platform_pages_are_kept(value: str) -> None:
    assert safe_next(value) == value


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        "https://evil.example/",
        "//evil.example/",
        "/\\evil.example/",
        "/builder\\x",
        "/a\nb",
        "/sites/studio/login",
        "/sites/studio",
        "/sites",
        "/media/abc.png",
        "/api/v1/clone/widget/0193/page",
        "/%73ites/studio/login",
        "/builder/../sites/studio/",
        "/./media/x",
        "/x" * 1001,
    ],
)
def test_other_hosts_and_tenant_pages_are_refused(value: str | None) -> None:
    assert safe_next(value) == DEFAULT_NEXT


async def test_the_form_carries_the_servers_choice(creator_platform) -> None:
    page = await creator_platform.client.get("/account/login?next=/sites/studio/login")
    assert 'data-next="/"' in page.text
    page = await creator_platform.client.get("/account/login?next=/builder/x")
    assert 'data-next="/builder/x"' in page.text

"""The builder's pages over HTTP (no browser): who may see them, what they contain, and the
account pages they send people to."""

from __future__ import annotations

import uuid

import httpx
import pytest

from sdk.testing import CreatorPlatform, assert_login_redirect, assert_ui_page, sign_up

pytestmark = pytest.mark.creator_plugins("website")


async def write(client: httpx.AsyncClient, method: str, url: str, csrf: str, **kw) -> dict:
    r = await client.request(method, url, headers={"X-CSRF-Token": csrf}, **kw)
    assert r.status_code in (200, 201), r.text
    return r.json()


async def workspace_with_page(client: httpx.AsyncClient, csrf: str) -> tuple[str, str, str]:
    group = await write(
        client,
        "POST",
        "/api/v1/groups",
        csrf,
        json={"name": "Studio", "slug": f"studio-{uuid.uuid4().hex[:8]}"},
    )
    base = f"/api/v1/website/groups/{group['id']}"
    site = await write(
        client,
        "POST",
        base + "/sites",
        csrf,
        json={"name": "Ada's site", "slug": f"ada-{uuid.uuid4().hex[:8]}"},
    )
    page = await write(
        client,
        "POST",
        f"{base}/sites/{site['id']}/pages",
        csrf,
        json={"title": "Home", "slug": "home"},
    )
    return group["id"], site["id"], page["id"]


async def test_builder_without_session_redirects_to_login_with_next(
    creator_platform: CreatorPlatform,
) -> None:
    client = creator_platform.client
    assert_login_redirect(await client.get("/builder"), "/builder")
    path = f"/builder/{uuid.uuid4()}/sites/{uuid.uuid4()}"
    assert_login_redirect(await client.get(path), path)


async def test_builder_with_an_ended_session_redirects_to_login(
    creator_platform: CreatorPlatform,
) -> None:
    client = creator_platform.client
    client.cookies.set("creator_session", "forged.value", domain="testserver.local")
    assert_login_redirect(await client.get("/builder"), "/builder")


async def test_account_pages_render(creator_platform: CreatorPlatform) -> None:
    client = creator_platform.client
    for path, endpoint, button in (
        ("/account/login", "/api/v1/auth/login", "Log in"),
        ("/account/signup", "/api/v1/auth/signup", "Create account"),
    ):
        html = assert_ui_page(await client.get(path + "?next=/builder/x"), "<form")
        assert f'data-endpoint="{endpoint}"' in html
        assert '<label for="email">' in html and '<label for="password">' in html
        assert 'role="alert"' in html
        assert f">{button}</button>" in html
        assert '<script src="/static/core/account.js" defer></script>' in html
        assert "?next=/builder/x" in html  # the other account page keeps the destination
    r = await client.get("/account/login?next=//evil.example/")
    assert "evil.example" not in r.text
    for asset in ("/static/core/account.js", "/static/core/ui.css"):
        assert (await client.get(asset)).status_code == 200, asset


async def test_builder_pages_render_for_a_signed_up_person(
    creator_platform: CreatorPlatform,
) -> None:
    client = creator_platform.client
    session = await sign_up(client)
    csrf = session["csrf_token"]

    # No workspace yet: a form to create one.
    html = assert_ui_page(await client.get("/builder"), "<nav")
    assert 'id="workspace-form"' in html
    assert '<label for="workspace-name">' in html
    assert '<script src="/static/website/builder.js" defer></script>' in html

    group_id, site_id, page_id = await workspace_with_page(client, csrf)

    # One workspace: straight to it; ?all=1 lists it.
    r = await client.get("/builder")
    assert r.status_code == 302 and r.headers["location"] == f"/builder/{group_id}"
    html = assert_ui_page(await client.get("/builder?all=1"))
    assert f'href="/builder/{group_id}"' in html

    html = assert_ui_page(await client.get(f"/builder/{group_id}"), "<nav")
    assert "Ada&#39;s site" in html
    assert 'id="site-form"' in html and '<label for="site-theme">' in html
    assert f'href="/builder/{group_id}/sites/{site_id}"' in html

    html = assert_ui_page(await client.get(f"/builder/{group_id}/sites/{site_id}"), "<nav")
    assert 'id="site-settings"' in html and 'id="page-form"' in html
    assert f'href="/builder/{group_id}/sites/{site_id}/pages/{page_id}"' in html
    assert "ui-badge-draft" in html

    editor = f"/builder/{group_id}/sites/{site_id}/pages/{page_id}"
    html = assert_ui_page(await client.get(editor), "<nav", "<aside", 'role="status"')
    assert html.count("<aside") == 2
    assert f'data-page-id="{page_id}"' in html
    assert 'id="canvas-list"' in html and 'id="library"' in html and 'id="props"' in html
    assert ">Undo</button>" in html and ">Publish</button>" in html
    assert "All changes saved" in html
    assert f"/pages/{page_id}/preview" in html
    for asset in (
        "/static/website/builder.js",
        "/static/website/builder.css",
        "/static/website/vendor/sortablejs/Sortable.min.js",
        "/static/website/vendor/sortablejs/LICENSE",
    ):
        assert (await client.get(asset)).status_code == 200, asset


async def test_another_persons_group_in_a_builder_url_is_404(
    creator_platform: CreatorPlatform,
) -> None:
    owner = creator_platform._client()
    session = await sign_up(owner, "Owner")
    group_id, site_id, page_id = await workspace_with_page(owner, session["csrf_token"])

    intruder = creator_platform._client()
    await sign_up(intruder, "Intruder")
    for path in (
        f"/builder/{group_id}",
        f"/builder/{group_id}/sites/{site_id}",
        f"/builder/{group_id}/sites/{site_id}/pages/{page_id}",
    ):
        r = await intruder.get(path)
        assert r.status_code == 404, (path, r.status_code)
        assert r.headers["content-type"].startswith("text/html")
        assert "Ada" not in r.text and site_id not in r.text

    # Their own workspace with the owner's site id in the URL: also 404.
    own = await write(
        intruder,
        "POST",
        "/api/v1/groups",
        (await intruder.get("/api/v1/auth/session")).json()["csrf_token"],
        json={"name": "Mine", "slug": f"mine-{uuid.uuid4().hex[:8]}"},
    )
    r = await intruder.get(f"/builder/{own['id']}/sites/{site_id}")
    assert r.status_code == 404

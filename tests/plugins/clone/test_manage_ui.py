"""The clone management pages over HTTP (no browser): who may see them, what they contain
and which headers they carry."""

from __future__ import annotations

import re
import uuid

import httpx
import pytest

from sdk.testing import (
    CreatorPlatform,
    Tenant,
    assert_login_redirect,
    assert_ui_page,
    sign_up,
)

pytestmark = pytest.mark.creator_plugins("clone")


async def post(client: httpx.AsyncClient, url: str, csrf: str | None = None, **kw) -> dict:
    headers = {"X-CSRF-Token": csrf} if csrf else {}
    r = await client.post(url, headers=headers, **kw)
    assert r.status_code == 201, r.text
    return r.json()


async def clone_with_source(tenant: Tenant, name: str = "Ada's helper") -> tuple[str, str]:
    base = f"/api/v1/clone/groups/{tenant.group.id}"
    clone = await post(tenant.client, base + "/clones", json={"name": name, "purpose": "support"})
    source = await post(
        tenant.client,
        f"{base}/clones/{clone['id']}/sources",
        json={"kind": "text", "title": "Refund policy", "text": "Refunds within 30 days."},
    )
    return clone["id"], source["id"]


def assert_page(r: httpx.Response, *landmarks: str) -> str:
    """A platform page (sdk.testing.assert_ui_page) with the clone pages' script and styles."""
    html = assert_ui_page(r, *landmarks)
    assert '<script src="/static/clone/manage.js" defer></script>' in html
    assert '<link rel="stylesheet" href="/static/clone/manage.css">' in html
    return html


def labelled(html: str) -> None:
    """Every visible input, select and textarea has a <label for=...>."""
    controls = re.findall(r"<(?:input|select|textarea)\b[^>]*>", html)
    assert controls
    for control in controls:
        if 'type="hidden"' in control:
            continue
        found = re.search(r'\sid="([^"]+)"', control)
        assert found, control
        assert f'<label for="{found.group(1)}"' in html, control


async def test_pages_without_a_session_redirect_to_login_with_next(
    creator_platform: CreatorPlatform,
) -> None:
    client = creator_platform.client
    assert_login_redirect(await client.get("/clones"), "/clones")
    for path in (f"/clones/{uuid.uuid4()}", f"/clones/{uuid.uuid4()}/{uuid.uuid4()}?all=1"):
        assert_login_redirect(await client.get(path), path)

    client.cookies.set("creator_session", "forged.value", domain="testserver.local")
    assert_login_redirect(await client.get("/clones"), "/clones")


async def test_pages_render_for_a_signed_up_person(creator_platform: CreatorPlatform) -> None:
    client = creator_platform.client
    session = await sign_up(client)
    csrf = session["csrf_token"]

    html = assert_page(await client.get("/clones"), "<nav")
    assert 'id="workspace-form"' in html and '<label for="workspace-name">' in html

    group = await post(
        client,
        "/api/v1/groups",
        csrf,
        json={"name": "Studio", "slug": f"studio-{uuid.uuid4().hex[:8]}"},
    )
    gid = group["id"]
    r = await client.get("/clones")
    assert r.status_code == 302 and r.headers["location"] == f"/clones/{gid}"
    html = assert_page(await client.get("/clones?all=1"))
    assert f'href="/clones/{gid}"' in html

    html = assert_page(await client.get(f"/clones/{gid}"), "<nav")
    assert 'id="no-clones"' in html
    assert 'id="clone-form"' in html
    labelled(html)
    for purpose in ("general", "sales", "support", "teaching"):
        assert f'<option value="{purpose}">' in html

    base = f"/api/v1/clone/groups/{gid}"
    clone = await post(client, base + "/clones", csrf, json={"name": "<b>Ada</b> helper"})
    cid = clone["id"]
    source = await post(
        client,
        f"{base}/clones/{cid}/sources",
        csrf,
        json={"kind": "markdown", "title": "Courses", "text": "# Courses\nThree courses."},
    )

    html = assert_page(await client.get(f"/clones/{gid}"))
    assert f'href="/clones/{gid}/{cid}"' in html
    assert "&lt;b&gt;Ada&lt;/b&gt; helper" in html and "<b>Ada</b>" not in html
    assert "Not trained yet" in html and "Never trained" in html

    html = assert_page(await client.get(f"/clones/{gid}/{cid}"), "<nav", 'role="status"')
    labelled(html)
    assert f'data-clone-id="{cid}"' in html and f'data-clone-version="{clone["version"]}"' in html
    assert "<b>Ada</b>" not in html
    assert 'id="train-button"' in html and ">Train</button>" in html
    assert 'aria-live="polite"' in html and 'role="log"' in html
    assert 'id="source-list"' in html and "Courses" in html and "cm-state-new" in html
    for form in ("text-source-form", "file-source-form", "chat-form", "clone-settings"):
        assert f'id="{form}"' in html, form
    assert 'id="page-source-form"' not in html  # no website plugin here
    assert 'id="delete-dialog"' in html and '<label for="delete-confirm">' in html
    assert 'id="analytics"' in html
    snippet = (
        f"&lt;script src=&#34;http://testserver.local/clone/embed.js&#34; "
        f"data-clone=&#34;{cid}&#34; data-color=&#34;#4f46e5&#34; async&gt;&lt;/script&gt;"
    )
    assert snippet in html
    # the snippet carries the saved look: its colour
    r = await client.patch(
        f"/api/v1/clone/groups/{gid}/clones/{cid}",
        json={"widget_theme": {"accent": "#aa3300"}},
        headers={"X-CSRF-Token": csrf},
    )
    assert r.status_code == 200, r.text
    saved = assert_page(await client.get(f"/clones/{gid}/{cid}"))
    assert "data-color=&#34;#aa3300&#34; async" in saved
    # a source's own page, where the preview's citations of pasted text open
    page = assert_page(await client.get(f"/clones/{gid}/{cid}/sources/{source['id']}"), "<nav")
    assert "<h1>Courses</h1>" in page and "Three courses." in page
    assert f'href="/clones/{gid}/{cid}"' in page
    r = await client.get(f"/clones/{gid}/{cid}/sources/{uuid.uuid4()}")
    assert r.status_code == 404
    assert clone["system_prompt"].split()[0] in html  # the generated prompt, to edit
    assert '<option value="offline" selected>' in html

    for asset in ("/static/clone/manage.js", "/static/clone/manage.css"):
        assert (await client.get(asset)).status_code == 200, asset


async def test_the_pages_work_with_an_api_token_and_after_training_show_it(
    creator_platform: CreatorPlatform,
) -> None:
    owner = await creator_platform.tenant(name="Studio Nova")
    cid, _ = await clone_with_source(owner)
    # Without a worker the job stays queued: the page shows the training in progress.
    r = await owner.client.post(f"/api/v1/clone/groups/{owner.group.id}/clones/{cid}/train")
    assert r.status_code == 202, r.text
    job_id = r.json()["job_id"]
    html = assert_page(await owner.client.get(f"/clones/{owner.group.id}/{cid}"))
    assert f'data-training-job="{job_id}"' in html
    assert 'data-clone-status="training"' in html and "Training…" in html


async def test_another_groups_clone_is_404(creator_platform: CreatorPlatform) -> None:
    owner = await creator_platform.tenant(name="Owner studio")
    cid, _ = await clone_with_source(owner, "Secret helper")
    intruder = await creator_platform.tenant(name="Intruder studio")

    for path in (f"/clones/{owner.group.id}", f"/clones/{owner.group.id}/{cid}"):
        r = await intruder.client.get(path)
        assert r.status_code == 404, (path, r.status_code)
        assert r.headers["content-type"].startswith("text/html")
        assert "content-security-policy" in r.headers
        assert "Secret" not in r.text and "Owner studio" not in r.text and cid not in r.text

    # Their own workspace with the owner's clone id in the URL: also 404.
    r = await intruder.client.get(f"/clones/{intruder.group.id}/{cid}")
    assert r.status_code == 404
    assert "Secret" not in r.text
    # An unknown clone in one's own workspace: 404 too; a malformed id is no page at all.
    r = await owner.client.get(f"/clones/{owner.group.id}/{uuid.uuid4()}")
    assert r.status_code == 404
    r = await owner.client.get(f"/clones/{owner.group.id}/not-a-uuid")
    assert r.status_code == 404


async def test_a_customer_may_not_manage_clones(creator_platform: CreatorPlatform) -> None:
    owner = await creator_platform.tenant()
    cid, _ = await clone_with_source(owner, "Helper")
    customer = await creator_platform.member(owner, "customer")
    for path in (f"/clones/{owner.group.id}", f"/clones/{owner.group.id}/{cid}"):
        r = await customer.client.get(path)
        assert r.status_code == 403, (path, r.status_code)
        assert r.headers["content-type"].startswith("text/html")
        assert "Refund" not in r.text


async def test_an_org_user_sees_the_forms(creator_platform: CreatorPlatform) -> None:
    owner = await creator_platform.tenant()
    cid, _ = await clone_with_source(owner, "Helper")
    colleague = await creator_platform.member(owner, "org_user")
    html = assert_page(await colleague.client.get(f"/clones/{owner.group.id}/{cid}"))
    assert 'id="train-button"' in html and 'id="delete-button"' in html


@pytest.mark.creator_plugins("clone", "website")
async def test_with_the_website_plugin_a_page_can_be_added(
    creator_platform: CreatorPlatform,
) -> None:
    owner = await creator_platform.tenant()
    cid, _ = await clone_with_source(owner)
    html = assert_page(await owner.client.get(f"/clones/{owner.group.id}/{cid}"))
    assert 'id="page-source-form"' in html and '<label for="page-source-page">' in html
    assert 'data-pages-enabled="true"' in html

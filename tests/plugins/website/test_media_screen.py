"""The media library screen (plugins/website/media/screen.py): the grid with each file's
details and where it is used, who may upload, tenancy, and the navigation entry."""

from __future__ import annotations

import io
import json
from html import unescape
from typing import Any

import pytest
from PIL import Image

from sdk.testing import CreatorPlatform, assert_login_redirect, assert_ui_page

pytestmark = pytest.mark.creator_plugins("website")


def png(size: tuple[int, int] = (64, 48)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 120, 90)).save(out, "PNG")
    return out.getvalue()


async def upload(t: Any, name: str, data: bytes) -> dict[str, Any]:
    r = await t.client.post(
        f"/api/v1/website/groups/{t.group.id}/media",
        files={"file": (name, data, "image/png")},
        data={"alt": "A terracotta pot"},
    )
    assert r.status_code == 201, r.text
    view: dict[str, Any] = r.json()
    return view


async def test_the_library_lists_files_with_details_and_where_used(
    creator_platform: CreatorPlatform, web_for: Any
) -> None:
    owner = await creator_platform.tenant(session=True)
    web = web_for(owner)
    pot = await upload(owner, "pot.png", png())
    await upload(owner, "unused.png", png((10, 10)))
    site = await web.site(slug=f"pots-{owner.group.id.hex[:6]}")
    page = await web.page(site["id"], "about", "About us")
    await web.add(site["id"], page["id"], "image", props={"asset_id": pot["id"], "alt": "Pot"})

    gid = owner.group.id
    html = assert_ui_page(await owner.client.get(f"/builder/{gid}/media"), "Media")
    assert (
        "Upload files" in html
        and "Drag them here" in html
        and 'src="/static/website/media.js"' in html
    )
    assert f'data-media-id="{pot["id"]}"' in html and "unused.png" in html
    assert 'width="64" height="48"' in html and "used on 1 page" in html
    used = html.split(f'data-media-id="{pot["id"]}"', 1)[1].split('data-used="', 1)[1]
    [where] = json.loads(unescape(used.split('"', 1)[0]))
    assert where == {
        "title": "About us",
        "href": f"/builder/{gid}/sites/{site['id']}/pages/{page['id']}",
    }
    # the navigation's Media entry is the current one
    assert f'<a class="ui-navlink" href="/builder/{gid}/media" aria-current="page">' in html


async def test_the_empty_library_says_so(creator_platform: CreatorPlatform) -> None:
    owner = await creator_platform.tenant(session=True)
    html = assert_ui_page(await owner.client.get(f"/builder/{owner.group.id}/media"))
    assert 'id="media-empty">' in html and "No files yet" in html


async def test_a_customer_cannot_open_the_library(creator_platform: CreatorPlatform) -> None:
    owner = await creator_platform.tenant(session=True)
    customer = await creator_platform.member(owner, "customer", session=True)
    r = await customer.client.get(f"/builder/{owner.group.id}/media")
    assert r.status_code == 403 and r.headers["content-type"].startswith("text/html")
    html = assert_ui_page(await customer.client.get(f"/app/{owner.group.id}"))
    assert f'href="/builder/{owner.group.id}/media"' not in html


async def test_another_groups_library_is_a_404_page(creator_platform: CreatorPlatform) -> None:
    owner = await creator_platform.tenant(session=True)
    await upload(owner, "secret-plan.png", png())
    stranger = await creator_platform.tenant(session=True)
    r = await stranger.client.get(f"/builder/{owner.group.id}/media")
    assert r.status_code == 404 and r.headers["content-type"].startswith("text/html")
    assert "secret-plan.png" not in r.text


async def test_the_library_needs_a_session(creator_platform: CreatorPlatform) -> None:
    path = f"/builder/{(await creator_platform.tenant()).group.id}/media"
    assert_login_redirect(await creator_platform.client.get(path), path)

"""The website's part of the shell: its navigation entry and its dashboard card, which
counts the workspace's own sites and pages only."""

from __future__ import annotations

import uuid

import pytest

from sdk.testing import CreatorPlatform, Tenant, assert_ui_page

pytestmark = pytest.mark.creator_plugins("website")


async def _site_with_pages(tenant: Tenant, published: int, drafts: int) -> None:
    base = f"/api/v1/website/groups/{tenant.group.id}/sites"
    r = await tenant.client.post(base, json={"name": "S", "slug": f"s-{uuid.uuid4().hex[:8]}"})
    pages = f"{base}/{r.json()['id']}/pages"
    for n in range(published + drafts):
        page = (await tenant.client.post(pages, json={"title": "P", "slug": f"p{n}"})).json()
        if n < published:
            r = await tenant.client.post(f"{pages}/{page['id']}/publish", json={})
            assert r.status_code == 200, r.text


async def test_the_websites_card_counts_this_workspace_only(
    creator_platform: CreatorPlatform,
) -> None:
    owner = await creator_platform.tenant(session=True)
    other = await creator_platform.tenant()
    await _site_with_pages(owner, published=2, drafts=1)
    await _site_with_pages(other, published=3, drafts=4)
    html = assert_ui_page(await owner.client.get(f"/app/{owner.group.id}"), "Websites")
    card = html[html.index('data-widget="website.pages"') :]
    assert '<span class="ui-stat-value">2</span>' in card
    assert "<dt>Websites</dt><dd>1</dd>" in card and "<dt>Pages in draft</dt><dd>1</dd>" in card
    assert f'href="/builder/{owner.group.id}"' in card and "Open the builder" in card

"""The clone plugin's part of the shell: its navigation entry and its dashboard card,
which counts the workspace's own clones and questions only."""

from __future__ import annotations

import pytest

from sdk.testing import CreatorPlatform, assert_ui_page

pytestmark = pytest.mark.creator_plugins("clone")


async def test_the_clone_questions_card_counts_this_workspace_only(
    creator_platform: CreatorPlatform,
) -> None:
    owner = await creator_platform.tenant(session=True)
    other = await creator_platform.tenant()
    r = await other.client.post(
        f"/api/v1/clone/groups/{other.group.id}/clones", json={"name": "Theirs"}
    )
    assert r.status_code == 201, r.text
    html = assert_ui_page(await owner.client.get(f"/app/{owner.group.id}"), "Clone questions")
    card = html[html.index('data-widget="clone.questions"') :]
    assert '<span class="ui-stat-value">0</span>' in card
    assert "<dt>Clones</dt><dd>None yet</dd>" in card and "Create your first clone" in card
    assert f'<a class="ui-navlink" href="/clones/{owner.group.id}"' in html

    r = await owner.client.post(
        f"/api/v1/clone/groups/{owner.group.id}/clones", json={"name": "Mine"}
    )
    assert r.status_code == 201, r.text
    html = assert_ui_page(await owner.client.get(f"/app/{owner.group.id}"))
    card = html[html.index('data-widget="clone.questions"') :]
    assert "<dt>Clones trained</dt><dd>0 of 1</dd>" in card and "Open your clones" in card

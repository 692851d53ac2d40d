"""The clones' "Voice and video" screen (plugins/clone/voice/screen.py): an honest "not
configured" state without providers, the uploads once a provider is on, the settings
entry, and tenancy."""

from __future__ import annotations

from typing import Any

import pytest

from sdk.testing import CreatorPlatform, assert_login_redirect, assert_ui_page

pytestmark = pytest.mark.creator_plugins("clone")


async def test_without_providers_it_says_what_to_configure(
    creator_platform: CreatorPlatform, api_for: Any
) -> None:
    owner = await creator_platform.tenant(name="Studio Nova", session=True)
    clone = await api_for(owner).clone("Nova")
    gid = owner.group.id
    html = assert_ui_page(await owner.client.get(f"/clones/{gid}/voice"), "Voice and video")
    assert "Not configured" in html and "ELEVENLABS_API_KEY" in html and "DID_API_KEY" in html
    assert "Nova" in html and f'data-clone-id="{clone["id"]}"' in html
    assert "Needs a voice service" in html and 'data-upload="voice"' not in html
    # the workspace's settings link to it
    html = assert_ui_page(await owner.client.get(f"/app/{gid}/settings"))
    assert f'href="/clones/{gid}/voice"' in html


async def test_with_providers_it_offers_the_uploads(
    creator_platform_factory: Any, api_for: Any
) -> None:
    platform: CreatorPlatform = await creator_platform_factory(
        plugins=["clone"],
        plugin_settings={
            "clone": {
                "elevenlabs_api_key": "test-key",
                "elevenlabs_base_url": "http://127.0.0.1:9",
                "did_api_key": "test-key",
                "did_base_url": "http://127.0.0.1:9",
            }
        },
    )
    owner = await platform.tenant(session=True)
    await api_for(owner).clone("Nova")
    html = assert_ui_page(await owner.client.get(f"/clones/{owner.group.id}/voice"))
    assert "Connected" in html and "Not configured" not in html
    assert 'data-upload="voice"' in html and 'data-upload="appearance"' in html
    assert "Not made yet" in html and 'src="/static/clone/voice.js"' in html
    # someone who may only read sees the states, not the uploads
    user = await platform.member(owner, "customer", session=True)
    r = await user.client.get(f"/clones/{owner.group.id}/voice")
    assert 'data-upload="voice"' not in r.text


async def test_another_groups_screen_is_a_404_page(
    creator_platform: CreatorPlatform, api_for: Any
) -> None:
    owner = await creator_platform.tenant(session=True)
    await api_for(owner).clone("Secret Clone")
    stranger = await creator_platform.tenant(session=True)
    r = await stranger.client.get(f"/clones/{owner.group.id}/voice")
    assert r.status_code == 404 and r.headers["content-type"].startswith("text/html")
    assert "Secret Clone" not in r.text
    path = f"/clones/{owner.group.id}/voice"
    assert_login_redirect(await creator_platform.client.get(path), path)

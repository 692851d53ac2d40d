"""The workspace screens (core/workspace_pages.py): members and invitations, the page
where an invitee accepts, plan and usage, and API tokens on the account page; their
permissions and tenancy over HTTP."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sdk.testing import CreatorPlatform, assert_login_redirect, assert_ui_page


async def _invite(owner, email: str, role: str = "org_user") -> str:  # type: ignore[no-untyped-def]
    r = await owner.client.post(
        f"/api/v1/groups/{owner.group.id}/invitations", json={"email": email, "role": role}
    )
    assert r.status_code == 201, r.text
    token: str = r.json()["token"]
    return token


async def test_the_screens_need_a_session(creator_platform: CreatorPlatform) -> None:
    gid = uuid.uuid4()
    for path in (f"/app/{gid}/settings/members", f"/app/{gid}/settings/plan", "/invite/cpi_x"):
        assert_login_redirect(await creator_platform.client.get(path), path)


async def test_members_page_lists_members_and_invitations_for_an_owner(
    creator_platform: CreatorPlatform,
) -> None:
    owner = await creator_platform.tenant(name="Studio North", session=True)
    user = await creator_platform.member(owner, "org_user", session=True)
    await _invite(owner, "guest@example.com", "customer")
    gid = owner.group.id
    html = assert_ui_page(
        await owner.client.get(f"/app/{gid}/settings/members"), "Members", "Invite someone"
    )
    assert owner.person.email in html and user.person.email in html
    assert "guest@example.com" in html and "Pending invitations" in html
    assert f'data-role-of="{user.person.id}"' in html and "(you)" in html
    # the only owner cannot remove themselves (the API would refuse it too)
    assert f'data-remove="{owner.person.id}"' not in html and "The only owner" in html
    # the settings page links to it, to the plan and to API tokens
    html = assert_ui_page(await owner.client.get(f"/app/{gid}/settings"))
    for href in (f"/app/{gid}/settings/members", f"/app/{gid}/settings/plan", "/account#tokens"):
        assert f'href="{href}"' in html


async def test_a_member_sees_the_members_but_cannot_manage_them(
    creator_platform: CreatorPlatform,
) -> None:
    owner = await creator_platform.tenant(session=True)
    user = await creator_platform.member(owner, "org_user", session=True)
    await _invite(owner, "secret-invitee@example.com")
    html = assert_ui_page(
        await user.client.get(f"/app/{owner.group.id}/settings/members"), "Members"
    )
    assert owner.person.email in html
    assert "Invite someone" not in html and "secret-invitee@example.com" not in html
    assert "data-role-of" not in html and "Leave" in html


async def test_a_customer_cannot_open_the_members_page(creator_platform: CreatorPlatform) -> None:
    owner = await creator_platform.tenant(session=True)
    customer = await creator_platform.member(owner, "customer", session=True)
    r = await customer.client.get(f"/app/{owner.group.id}/settings/members")
    assert r.status_code == 403 and "Not allowed" in r.text
    assert owner.person.email not in r.text
    html = assert_ui_page(await customer.client.get(f"/app/{owner.group.id}/settings"))
    assert "/members" not in html


async def test_another_groups_screens_are_a_404_page(creator_platform: CreatorPlatform) -> None:
    owner = await creator_platform.tenant(name="Secret Studio", session=True)
    stranger = await creator_platform.tenant(session=True)
    for screen in ("members", "plan"):
        r = await stranger.client.get(f"/app/{owner.group.id}/settings/{screen}")
        assert r.status_code == 404 and r.headers["content-type"].startswith("text/html")
        assert "Secret Studio" not in r.text and owner.person.email not in r.text


async def test_plan_page_shows_quotas_and_hosted_usage_as_meters(
    creator_platform_factory,  # type: ignore[no-untyped-def]
) -> None:
    platform: CreatorPlatform = await creator_platform_factory(plugins=["website"])
    owner = await platform.tenant(session=True)
    html = assert_ui_page(
        await owner.client.get(f"/app/{owner.group.id}/settings/plan"),
        "Plan and usage",
        "What your plan allows",
        "Hosted AI this month",
    )
    assert 'role="meter"' in html and "AI answer tokens" in html


async def test_invite_page_states(creator_platform: CreatorPlatform) -> None:
    owner = await creator_platform.tenant(name="Studio North", session=True)
    invitee = await creator_platform.tenant(session=True)
    other = await creator_platform.tenant(session=True)
    token = await _invite(owner, invitee.person.email, "org_user")

    html = assert_ui_page(await invitee.client.get(f"/invite/{token}"), "Join Studio North")
    assert "Accept and join" in html and 'src="/static/core/workspace.js"' in html
    # someone else's account: told so, nothing to accept
    r = await other.client.get(f"/invite/{token}")
    assert "for someone else" in r.text and "Accept and join" not in r.text
    assert f'data-next="/invite/{token}"' in r.text  # log out, then back here
    # unknown
    r = await invitee.client.get("/invite/cpi_nothing")
    assert r.status_code == 404 and "not valid" in r.text and "Studio North" not in r.text

    r = await invitee.client.post("/api/v1/invitations/accept", json={"token": token})
    assert r.status_code == 201, r.text
    r = await invitee.client.get(f"/invite/{token}")
    assert r.status_code == 410 and "already been used" in r.text

    # expired
    token = await _invite(owner, "late@example.com")
    async with creator_platform.platform.db.pool.acquire() as conn:
        await conn.execute(
            "UPDATE invitations SET expires_at = $1 WHERE email = 'late@example.com'",
            datetime.now(UTC) - timedelta(days=1),
        )
    r = await invitee.client.get(f"/invite/{token}")
    assert r.status_code == 410 and "has expired" in r.text
    # a member already: a link to the workspace
    token = await _invite(owner, invitee.person.email)
    r = await invitee.client.get(f"/invite/{token}")
    assert "already in Studio North" in r.text and f'href="/app/{owner.group.id}"' in r.text


async def test_invite_is_reserved(creator_platform: CreatorPlatform) -> None:
    assert "invite" in creator_platform.platform.shell.reserved


async def test_account_page_lists_live_api_tokens(creator_platform: CreatorPlatform) -> None:
    owner = await creator_platform.tenant(session=True)
    made = await owner.client.post(
        "/api/v1/me/tokens", json={"name": "Deploy script", "expires_in_days": 30}
    )
    gone = await owner.client.post("/api/v1/me/tokens", json={"name": "Old laptop"})
    await owner.client.delete(f"/api/v1/me/tokens/{gone.json()['id']}")
    html = assert_ui_page(await owner.client.get("/account"), "API tokens", "Create token")
    assert "Deploy script" in html and f'data-revoke-token="{made.json()["id"]}"' in html
    assert "Old laptop" not in html
    assert made.json()["token"] not in html

"""The creator app's shell (core/shell.py, core/shell_pages.py): the hooks plugins fill it
through, its pages over HTTP (tenancy included), and reserved admin paths that answer
HTML 404 pages."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from litestar import Litestar

import sdk
from core.shell import CORE_RESERVED, Shell
from sdk import hookimpl
from sdk.testing import CreatorPlatform, assert_login_redirect, assert_problem, assert_ui_page


async def _memo_card(app: Litestar, group: sdk.GroupContext) -> dict[str, Any]:
    [row] = await group.stores.things.aggregate([sdk.Metric.count(name="n")], type="memo")
    return {"value": row.values["n"], "label": "memos", "href": "/memos", "link_label": "All"}


async def _broken_card(app: Litestar, group: sdk.GroupContext) -> dict[str, Any]:
    raise RuntimeError("the widget's own bug")


class MemoPlugin:
    @hookimpl
    def register_thing_types(self) -> list[sdk.ThingType]:
        return [sdk.ThingType("memo")]

    @hookimpl
    def register_nav(self) -> list[sdk.NavItem]:
        return [
            sdk.NavItem("Memos", "/memos/{group_id}", icon="page", order=50),
            sdk.NavItem("Members", "/people/{group_id}", icon="users", permission="members.manage"),
        ]

    @hookimpl
    def register_dashboard_widgets(self) -> list[sdk.DashboardWidget]:
        return [
            sdk.DashboardWidget("memo.count", "Memos", _memo_card, order=1),
            sdk.DashboardWidget("memo.broken", "Broken card", _broken_card, order=2),
        ]

    @hookimpl
    def register_settings_pages(self) -> list[sdk.SettingsPage]:
        return [
            sdk.SettingsPage("Memo archive", "/memos/{group_id}/archive", "Old memos kept."),
            sdk.SettingsPage(
                "Memo admins", "/memos/{group_id}/admins", permission="members.manage"
            ),
        ]


@pytest.fixture
async def memo_platform(creator_platform_factory) -> CreatorPlatform:
    return await creator_platform_factory(plugins=["memo"], extra_plugins={"memo": MemoPlugin()})


async def test_hook_register_nav(memo_platform: CreatorPlatform) -> None:
    owner = await memo_platform.tenant(session=True)
    gid = owner.group.id
    html = assert_ui_page(await owner.client.get(f"/app/{gid}"), 'aria-label="Main"')
    # core's Home first, then the plugin's entries by order, Settings last
    home, memos, members, settings = (
        html.index(f'href="/app/{gid}"'),
        html.index(f'href="/memos/{gid}"'),
        html.index(f'href="/people/{gid}"'),
        html.index(f'href="/app/{gid}/settings"'),
    )
    assert home < memos < members < settings
    assert f'<a class="ui-navlink" href="/app/{gid}" aria-current="page">' in html
    # an entry with a permission shows only to those allowed it
    user = await memo_platform.member(owner, "org_user", session=True)
    html = assert_ui_page(await user.client.get(f"/app/{gid}"))
    assert f'href="/memos/{gid}"' in html and f'href="/people/{gid}"' not in html
    # the first segments are reserved
    assert {"memos", "people"} <= memo_platform.platform.shell.reserved


async def test_hook_register_dashboard_widgets(memo_platform: CreatorPlatform) -> None:
    owner = await memo_platform.tenant(session=True)
    other = await memo_platform.tenant(session=True)
    await memo_platform.ontology(owner).things.create("memo", name="a")
    await memo_platform.ontology(owner).things.create("memo", name="b")
    await memo_platform.ontology(other).things.create("memo", name="theirs")
    html = assert_ui_page(await owner.client.get(f"/app/{owner.group.id}"), "Memos")
    assert '<span class="ui-stat-value">2</span>' in html  # only this group's memos
    assert "This card could not load" in html  # the broken card, and the page still shows
    assert html.index("Memos") < html.index("Broken card")
    # another group's dashboard is the 404 page that names nothing
    r = await owner.client.get(f"/app/{other.group.id}")
    assert r.status_code == 404 and r.headers["content-type"].startswith("text/html")
    assert other.group.name not in r.text and "theirs" not in r.text
    assert "Not found" in r.text and "Account menu" in r.text
    r = await owner.client.get(f"/app/{other.group.id}/settings")
    assert r.status_code == 404 and other.group.name not in r.text


async def test_hook_register_settings_pages(memo_platform: CreatorPlatform) -> None:
    owner = await memo_platform.tenant(session=True)
    gid = owner.group.id
    html = assert_ui_page(await owner.client.get(f"/app/{gid}/settings"), "Settings")
    assert f'href="/memos/{gid}/archive"' in html and "Old memos kept." in html
    assert f'href="/memos/{gid}/admins"' in html and 'href="/account"' in html
    user = await memo_platform.member(owner, "org_user", session=True)
    html = assert_ui_page(await user.client.get(f"/app/{gid}/settings"))
    assert f'href="/memos/{gid}/archive"' in html and "/admins" not in html


def test_a_hook_returning_the_wrong_kind_or_a_machine_path_stops_start_up() -> None:
    class Wrong:
        @hookimpl
        def register_nav(self) -> list[Any]:
            return [{"label": "Oops", "path": "/oops"}]

    class MachinePath:
        @hookimpl
        def register_nav(self) -> list[sdk.NavItem]:
            return [sdk.NavItem("API", "/api/v1/things")]

    for plugin, error in ((Wrong(), TypeError), (MachinePath(), ValueError)):
        manager = sdk.PluginManager(["x"], extra={"x": plugin})
        with pytest.raises(error):
            Shell(manager)


async def test_shell_pages_need_a_session(creator_platform: CreatorPlatform) -> None:
    client = creator_platform.client
    for path in ("/app", f"/app/{uuid.uuid4()}", "/account", "/settings"):
        assert_login_redirect(await client.get(path), path)


async def test_the_shell_frames_the_pages_with_switcher_and_account_menu(
    creator_platform: CreatorPlatform,
) -> None:
    owner = await creator_platform.tenant(name="Studio North", session=True)
    second = await creator_platform.platform.directory.create_group(
        owner.person, slug=f"south-{uuid.uuid4().hex[:6]}", name="Studio South"
    )
    gid = owner.group.id
    html = assert_ui_page(await owner.client.get(f"/builder/{gid}"), 'aria-label="Main"')
    assert f'<a class="ui-navlink" href="/builder/{gid}" aria-current="page">' in html
    assert f'href="/clones/{gid}"' in html
    # the switcher leads to the same feature in the other workspace
    assert f'href="/builder/{second.id}"' in html and "Studio South" in html
    assert "Account menu" in html and "data-logout" in html and owner.person.email in html
    # the dashboard shows both plugins' cards
    html = assert_ui_page(await owner.client.get(f"/app/{gid}"), "Websites", "Clone questions")
    assert "pages published" in html and "questions in the last 30 days" in html


async def test_workspaces_account_and_settings_pages(creator_platform: CreatorPlatform) -> None:
    owner = await creator_platform.tenant(session=True)
    r = await owner.client.get("/app")
    assert r.status_code == 302 and r.headers["location"] == f"/app/{owner.group.id}"
    assert_ui_page(await owner.client.get("/app?all=1"), "Your workspaces", "workspace-form")
    r = await owner.client.get("/settings")
    assert r.status_code == 302 and r.headers["location"] == f"/app/{owner.group.id}/settings"
    html = assert_ui_page(await owner.client.get("/account"), "Your account")
    assert owner.person.email in html


@pytest.mark.parametrize(
    "path",
    ["/settings/x", "/account/nothing", "/app/not-a-uuid", "/builder/x/y/z", "/clones/a/b/c"],
)
async def test_an_unknown_admin_path_is_an_html_404_page(
    creator_platform: CreatorPlatform, path: str
) -> None:
    owner = await creator_platform.tenant(session=True)
    r = await owner.client.get(path)
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("text/html"), r.text[:200]
    assert "Not found" in r.text and 'href="/app?all=1"' in r.text


async def test_machine_paths_keep_their_problem_json_404(creator_platform: CreatorPlatform) -> None:
    owner = await creator_platform.tenant(session=True)
    for path in ("/api/v1/nothing", "/static/core/nothing.css"):
        r = await owner.client.get(path)
        assert r.status_code == 404
        assert r.headers["content-type"].startswith("application/problem+json"), path


async def test_settings_and_account_are_never_a_site_page(
    creator_platform: CreatorPlatform,
) -> None:
    """The review saw ``/settings`` answer ``no route /settings`` (the website's
    ``/{page}`` route); both are screens now, and a site page may not take their slug."""
    client = creator_platform.client
    for path in ("/settings", "/account"):
        r = await client.get(path)
        assert r.status_code == 302 and r.headers["location"].startswith("/account/login")
    owner = await creator_platform.tenant(session=True)
    site = (
        await owner.client.post(
            f"/api/v1/website/groups/{owner.group.id}/sites",
            json={"name": "Site", "slug": f"site-{uuid.uuid4().hex[:8]}"},
        )
    ).json()
    pages = f"/api/v1/website/groups/{owner.group.id}/sites/{site['id']}/pages"
    for slug in ("settings", "account", "app", "builder", "clones"):
        r = await owner.client.post(pages, json={"title": "T", "slug": slug})
        assert_problem(r, 422, "validation_failed", field="slug")
    r = await owner.client.post(pages, json={"title": "About", "slug": "about"})
    assert r.status_code == 201, r.text


def test_core_reserves_its_own_paths() -> None:
    assert {"app", "account", "settings", "api", "static", "sites"} <= CORE_RESERVED

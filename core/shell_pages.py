"""The shell's own pages: ``/app`` (the person's workspaces), ``/app/{group_id}`` (a
workspace's home dashboard of plugin widgets), ``/app/{group_id}/settings`` (the settings
pages plugins register), ``/account`` (who is logged in, their API tokens, log-out) and
``/settings`` (straight to a workspace's settings), plus the HTML 404 page of an unknown admin path
(:func:`not_found_page`, used by ``core/api/problems.py``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from litestar import Request, get
from litestar.params import FromPath
from litestar.response import Redirect, Template

from core.account_ui import ui_headers
from core.api.deps import provide_actor
from core.shell import APP_HOME, NavItem, SettingsPage, load_widgets, settings_links, shell_view
from core.ui import PluginPages, crumbs

PAGES = PluginPages(
    templates="core",
    layout="core/shell_layout.html",
    home=APP_HOME,
    holds="websites, AI clones and everything else you make",
)

#: Core's entries of the navigation: the dashboard first, settings last.
CORE_NAV = [
    NavItem("Home", f"{APP_HOME}/{{group_id}}", icon="home", order=0),
    NavItem("Settings", f"{APP_HOME}/{{group_id}}/settings", icon="settings", order=1000),
]
CORE_SETTINGS = [
    SettingsPage(
        "Your account",
        "/account",
        "Your name and email, the colour theme, and logging out.",
        icon="user",
        order=0,
    ),
]


@get(APP_HOME, name="shell:home", **PAGES.route_options)
async def app_home(request: Request[Any, Any, Any]) -> Template | Redirect:
    return await PAGES.workspaces(request)


@get(f"{APP_HOME}/{{group_id:uuid}}", name="shell:dashboard", **PAGES.route_options)
async def dashboard(request: Request[Any, Any, Any], group_id: FromPath[UUID]) -> Template:
    group, record = await PAGES.group(request, group_id)
    widgets = await load_widgets(request.app, group)
    return PAGES.render(
        "dashboard.html",
        title=record.name,
        view="dashboard",
        group=record,
        widgets=widgets,
        crumbs=[],
    )


@get(f"{APP_HOME}/{{group_id:uuid}}/settings", name="shell:settings", **PAGES.route_options)
async def settings(request: Request[Any, Any, Any], group_id: FromPath[UUID]) -> Template:
    group, record = await PAGES.group(request, group_id)
    return PAGES.render(
        "settings.html",
        title=f"Settings · {record.name}",
        view="settings",
        group=record,
        pages=settings_links(group),
        crumbs=[],
    )


@get("/settings", name="shell:settings-any", **PAGES.route_options)
async def settings_any(request: Request[Any, Any, Any]) -> Redirect:
    """The settings of the person's one workspace; with several, the list to pick from."""
    view = await shell_view(request, await provide_actor(request))
    if len(view.groups) == 1:
        return Redirect(f"{APP_HOME}/{view.groups[0].id}/settings", status_code=302)
    return Redirect(f"{APP_HOME}?all=1", status_code=302)


@get("/account", name="shell:account", **PAGES.route_options)
async def account(request: Request[Any, Any, Any]) -> Template:
    person = await provide_actor(request)
    view = await shell_view(request, person)
    now = datetime.now(UTC)
    tokens = [
        t
        for t in await request.app.state.platform.directory.tokens_of(person.id)
        if t.revoked_at is None and (t.expires_at is None or t.expires_at > now)
    ]
    return PAGES.render(
        "account.html",
        title="Your account",
        view="account",
        person=person,
        groups=view.groups,
        tokens=tokens,
        crumbs=crumbs(("Workspaces", f"{APP_HOME}?all=1"), ("Your account", None)),
    )


SHELL_ROUTES = [app_home, dashboard, settings, settings_any, account]


def not_found_page(request: Request[Any, Any, Any]) -> Template:
    """The 404 of a path under an admin prefix with no screen there, as a page in the
    shell (without the account menu: the exception handler cannot look the person up)."""
    return Template(
        template_name="core/error.html",
        context={
            "layout": "core/shell_layout.html",
            "home": APP_HOME,
            "title": "Not found",
            "status_code": 404,
            "view": "error",
            "crumbs": [],
        },
        status_code=404,
        headers=ui_headers(),
    )

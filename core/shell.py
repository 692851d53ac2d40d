"""The creator app's shell: the one frame every plugin's screens sit in.

Plugins contribute to it through three hooks (``core/hookspecs.py``):
``register_nav`` (:class:`NavItem`: the navigation across features),
``register_dashboard_widgets`` (:class:`DashboardWidget`: the cards of a workspace's home
dashboard) and ``register_settings_pages`` (:class:`SettingsPage`: the entries of the
settings page). :class:`Shell` collects them once per app; :func:`shell_view` works out,
for one request in one workspace, what the shell shows (the entries the person may use,
the workspace switcher, the account menu) and leaves it on ``request.state`` where
``core/app.html`` reads it, so a plugin's handlers need not pass it along.

The shell's own pages live under ``/app`` (workspaces, a workspace's dashboard and
settings), plus ``/account`` and ``/settings``. Admin paths are reserved: core's list
(:data:`CORE_RESERVED`) and the first segment of every navigation entry and settings
page. A public site's page may not take a reserved slug (the website refuses it), so a
site page never hides an admin screen, nor the reverse; an unknown path under a reserved
prefix answers an HTML 404 page rather than problem+json (``core/api/problems.py``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from uuid import UUID

if TYPE_CHECKING:
    from litestar import Litestar, Request

    from core.api.deps import GroupContext
    from core.auth.tokens import Actor
    from core.ontology.records import Group
    from core.plugins import PluginManager

log = logging.getLogger("creator.shell")

#: First path segments that belong to the platform, whatever plugins add: the shell's
#: pages, the account pages, the API and its schema, probes, static files, and the paths
#: where tenants' content is served.
CORE_RESERVED = frozenset(
    {
        "account",
        "api",
        "app",
        "health",
        "invite",
        "media",
        "metrics",
        "ready",
        "schema",
        "settings",
        "sites",
        "static",
        "swagger",
    }
)

#: First path segments that are not screens (machine paths): their 404s stay problem+json.
MACHINE_PREFIXES = frozenset(
    {"api", "health", "media", "metrics", "ready", "schema", "sites", "static", "swagger"}
)

#: Where the shell's own pages are.
APP_HOME = "/app"


@dataclass(frozen=True)
class NavItem:
    """An entry of the shell's navigation.

    ``path`` is where it leads; ``{group_id}`` in it is filled with the current workspace's
    id (``"/builder/{group_id}"``). ``icon`` names one of core's inline SVG icons
    (``docs/ui.md`` lists them; an unknown name draws a dot). Entries are ordered by
    ``order``, then label; core's own use 0 (Home) and 1000 (Settings). With
    ``permission`` (an action such as ``"website.manage"``) the entry shows only to those
    the group's permissions allow it."""

    label: str
    path: str
    icon: str = "dot"
    order: int = 100
    permission: str | None = None


#: A widget's loader: given the app and the caller in the workspace, the data its
#: template shows. Keep it cheap (a count, a few rows): the dashboard awaits every widget.
WidgetLoader = Callable[["Litestar", "GroupContext"], Awaitable[Mapping[str, Any]]]


@dataclass(frozen=True)
class DashboardWidget:
    """A card on a workspace's home dashboard.

    ``load(app, group)`` returns the data the card shows, read through ``group`` (the
    caller's scope: only the workspace's own data). The default ``template``,
    ``core/widgets/stat.html``, shows ``value`` large with ``label`` under it, an optional
    ``rows`` list of ``{"label", "value"}`` rows, and a link ``href`` named
    ``link_label``; a plugin may name a template of its own, given ``widget`` and
    ``data``. A loader that raises is logged and its card says it could not load; the
    other cards still show."""

    name: str
    title: str
    load: WidgetLoader
    template: str = "core/widgets/stat.html"
    order: int = 100
    permission: str | None = None


@dataclass(frozen=True)
class SettingsPage:
    """An entry of a workspace's settings page (``/app/{group_id}/settings``): a link to a
    settings screen of the plugin's. ``path`` may hold ``{group_id}`` as in
    :class:`NavItem`; ``description`` says in a sentence what is set there."""

    label: str
    path: str
    description: str = ""
    icon: str = "settings"
    order: int = 100
    permission: str | None = None


def first_segment(path: str) -> str:
    """``"/builder/x/y"`` → ``"builder"``."""
    return path.lstrip("/").split("/", 1)[0].lower()


def _fill(path: str, group_id: UUID | None) -> str | None:
    if "{group_id}" not in path:
        return path
    return path.replace("{group_id}", str(group_id)) if group_id is not None else None


class Shell:
    """What every enabled plugin contributes to the shell, collected once per app."""

    def __init__(self, plugins: PluginManager) -> None:
        self.nav: list[NavItem] = _collect(plugins, "register_nav", NavItem)
        self.widgets: list[DashboardWidget] = _collect(
            plugins, "register_dashboard_widgets", DashboardWidget
        )
        self.settings_pages: list[SettingsPage] = _collect(
            plugins, "register_settings_pages", SettingsPage
        )
        paths = [e.path for e in self.nav] + [e.path for e in self.settings_pages]
        for path in paths:
            if not path.startswith("/") or first_segment(path) in MACHINE_PREFIXES:
                raise ValueError(f"navigation or settings path {path!r} is not a screen path")
        names = [w.name for w in self.widgets]
        if len(names) != len(set(names)):
            raise ValueError(f"dashboard widget names must be unique: {sorted(names)}")
        #: Admin first segments: core's and those of every nav entry and settings page.
        self.reserved: frozenset[str] = CORE_RESERVED | {first_segment(path) for path in paths}

    def is_reserved(self, path: str) -> bool:
        """Whether ``path`` (``/settings``, ``/builder/x``) is under an admin prefix."""
        return first_segment(path) in self.reserved

    def is_screen(self, path: str) -> bool:
        """Whether ``path`` is under an admin prefix of screens (not the API, static
        files or published content): its 404 is a page."""
        segment = first_segment(path)
        return segment in self.reserved and segment not in MACHINE_PREFIXES


def _collect(plugins: PluginManager, hook: str, kind: type[Any]) -> list[Any]:
    entries: list[Any] = []
    for plugin, entry in plugins.collect(hook):
        if not isinstance(entry, kind):
            raise TypeError(f"{plugin}: {hook} must return {kind.__name__} objects, not {entry!r}")
        entries.append(entry)
    entries.sort(key=lambda e: (e.order, getattr(e, "label", getattr(e, "title", ""))))
    return entries


def shell_of(app: Litestar) -> Shell:
    """The app's shell (``platform.shell``)."""
    shell: Shell = app.state.platform.shell
    return shell


@dataclass(frozen=True)
class Link:
    """A resolved entry as the templates show it."""

    label: str
    href: str
    icon: str
    current: bool = False
    description: str = ""


@dataclass
class ShellView:
    """What the shell shows on one page: the person, the workspace and its siblings, the
    navigation entries they may use (the current one marked)."""

    person: Actor
    group: Group | None = None
    groups: list[Group] = field(default_factory=list)
    nav: list[Link] = field(default_factory=list)
    #: Each other workspace with a link to the same feature there.
    switch: list[Link] = field(default_factory=list)


def _allowed(group: GroupContext, permission: str | None) -> bool:
    return permission is None or group.permissions.can(group.scope, permission, group.resource())


async def shell_view(request: Request[Any, Any, Any], person: Actor) -> ShellView:
    """The shell of this page for ``person`` (the account menu, their workspaces), left on
    ``request.state.shell`` for ``core/app.html``; :func:`enter_group` adds the
    workspace's navigation once the person is known to be a member."""
    platform = request.app.state.platform
    found = await platform.directory.groups_of(person.id, limit=100)
    view = ShellView(person=person, groups=list(found.items))
    request.state.shell = view
    return view


def enter_group(
    request: Request[Any, Any, Any], view: ShellView, group: GroupContext, record: Group
) -> None:
    """Fill ``view`` for a page in ``record``: the navigation entries the caller may use
    (the one whose path is the longest prefix of this page's marked current) and the
    workspace switcher, whose links lead to the same feature in the other workspaces."""
    shell = shell_of(request.app)
    path = request.url.path.rstrip("/") or "/"
    view.group = record
    best = ""
    entries: list[tuple[NavItem, str]] = []
    for item in shell.nav:
        href = _fill(item.path, record.id)
        if href is None or not _allowed(group, item.permission):
            continue
        entries.append((item, href))
        if (path == href or path.startswith(href + "/")) and len(href) > len(best):
            best = href
    view.nav = [Link(i.label, href, i.icon, current=href == best) for i, href in entries]
    section = next((i for i, href in entries if href == best), None)
    view.switch = []
    for other in view.groups:
        target = _fill(section.path, other.id) if section is not None else None
        view.switch.append(
            Link(other.name, target or f"{APP_HOME}/{other.id}", "dot", other.id == record.id)
        )


def settings_links(group: GroupContext) -> list[Link]:
    """The settings pages the caller may open in ``group``."""
    shell: Shell = group.platform.shell
    links = []
    for page in shell.settings_pages:
        href = _fill(page.path, group.group_id)
        if href is not None and _allowed(group, page.permission):
            links.append(Link(page.label, href, page.icon, description=page.description))
    return links


@dataclass(frozen=True)
class LoadedWidget:
    """A widget with its data, or ``failed`` when its loader raised."""

    widget: DashboardWidget
    data: Mapping[str, Any]
    failed: bool = False


async def load_widgets(app: Litestar, group: GroupContext) -> list[LoadedWidget]:
    """Every widget the caller may see in ``group``, loaded concurrently."""
    widgets = [w for w in shell_of(app).widgets if _allowed(group, w.permission)]

    async def one(widget: DashboardWidget) -> LoadedWidget:
        try:
            return LoadedWidget(widget, await widget.load(app, group))
        except Exception:
            log.exception("dashboard widget %s failed to load", widget.name)
            return LoadedWidget(widget, {}, failed=True)

    return list(await asyncio.gather(*(one(w) for w in widgets)))

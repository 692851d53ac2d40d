"""THE contract between the kernel and plugins: every hook, each documented here.

Plugins implement hooks with ``sdk.hookimpl`` (``@hookimpl def register_thing_types(): ...``).
Every hook is optional. ``docs/plugin-hooks.md`` is checked against these docstrings by the
test suite, and every hook has a test that exercises it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from uuid import UUID

    import click
    from litestar import Litestar
    from piccolo.conf.apps import AppConfig

    from core.auth.permissions import Resource
    from core.events import EventHandler
    from core.jobs import Job
    from core.knowledge.providers import EmbeddingProvider
    from core.ontology.scope import Scope
    from core.ontology.types import ConnectionType, EventType, ThingType
    from core.plugins import PluginManager
    from core.quotas import Quota
    from core.shell import DashboardWidget, NavItem, SettingsPage
    from core.ui import StaticFiles

PROJECT_NAME = "creator"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def register_hookspecs(plugin_manager: PluginManager) -> None:
    """Add hook specifications of your own so other plugins can extend yours.

    Call ``plugin_manager.add_hookspecs(module_or_class)`` with a module of functions
    decorated with ``sdk.hookspec``. Called once, after every enabled plugin is registered;
    other plugins' implementations of your hooks are checked against your specs then.
    Call your hooks through ``plugin_manager.hook.<name>(...)``. The specs are recorded
    as yours (``plugin_manager.hookspec_sources()``): ``docs/plugin-hooks.md`` shows them
    with their docstrings, and each needs a test named ``test_hook_<name>``.
    """


@hookspec
def register_thing_types() -> list[ThingType]:
    """Return the :class:`~sdk.ThingType` declarations this plugin adds.

    Each name must be unique across enabled plugins; a clash stops start-up with an error
    naming both plugins. Writes of a thing's ``properties`` are validated against the
    type's msgspec struct (unknown fields refused, defaults filled in).
    """


@hookspec
def register_connection_types() -> list[ConnectionType]:
    """Return the :class:`~sdk.ConnectionType` declarations this plugin adds.

    ``from_types`` / ``to_types`` restrict which thing types a connection may join
    (empty: any thing); ``sdk.PERSON`` among them admits a person with a role in the
    group (a membership there or in a group above it) at that end, e.g. a creator, or a
    customer who bought a course. ``metadata`` is the struct its metadata must satisfy;
    ``unique`` allows one live connection of the type per (from, to) pair, and
    ``connections.replace`` swaps it for one with new metadata (the old one ends, so its
    history stays readable). No thing type may be named ``person``.
    """


@hookspec
def register_event_types() -> list[EventType]:
    """Return the :class:`~sdk.EventType` declarations this plugin adds.

    ``events.emit(name, payload)`` refuses unregistered names and payloads that do not
    satisfy the type's struct.
    """


@hookspec
def register_routes() -> list[Any]:
    """Return Litestar route handlers, controllers or routers to mount in the app.

    Paths are taken as given. By convention a plugin's API lives under
    ``/api/v1/<plugin>/`` (``sdk.api_router("<plugin>", [...])`` builds that router) and
    its pages under a path of its own. Handlers receive dependencies by name
    (``litestar.di.NamedDependency``): for paths with a ``{group_id:uuid}`` parameter,
    ``group`` (a :class:`~sdk.GroupContext`: the caller's scope, stores bound to it and
    ``group.require(action)``; a caller outside the group gets 404) or just
    ``group_scope``; and ``actor``, ``ontology``, ``permissions``, ``platform``,
    ``directory``. Prefer the single ``group`` to several: Litestar resolves a handler's
    dependencies concurrently, which costs a task group per request. The same method and
    path registered by two plugins stops start-up with an error naming both.
    """


@hookspec
def register_event_handlers() -> list[EventHandler]:
    """Return :class:`~sdk.EventHandler` objects: which event type runs which coroutine.

    A handler is ``async def handler(event, ctx)``; it runs after the transaction that
    emitted the event commits. ``ctx.ontology`` gives stores scoped to the event's group
    as the system. A handler that raises is logged and does not stop other handlers.
    Use ``event_type="*"`` to receive every event.

    In-process handlers (the default) run in the emitting process right after the commit.
    ``EventHandler(..., durable=True)`` runs the handler as an arq job in a worker, retried
    with exponential backoff; after its last try the event is recorded as failed
    (``GET /api/v1/groups/{group_id}/events/failed``, ``creator events failed``). Delivery
    is at-least-once (a crash between commit and delivery is recovered from the outbox),
    so write handlers to be idempotent: ``ctx.idempotency_key`` is the same on every
    delivery of one event to one handler.
    """


@hookspec
def register_jobs() -> list[Job]:
    """Return :class:`~sdk.Job` objects: background functions (and cron schedules) that
    the job worker runs.

    Names must be unique across enabled plugins; a clash stops start-up with an error
    naming both plugins. A job is ``async def function(ctx, *args, **kwargs)``; services
    enqueue it with ``await platform.jobs.enqueue(name, *args, group_id=...)`` (which
    returns the job id, whose status ``GET /api/v1/groups/{group_id}/jobs/{job_id}``
    answers). ``ctx`` carries ``group_id``, ``ontology`` (stores scoped to that group as
    the system) and ``progress`` (``await ctx["progress"](done, total)``). A job that
    raises, or runs longer than its ``timeout_seconds`` (unset: the
    ``job_timeout_seconds`` setting), is retried with exponential backoff up to its
    ``max_tries``.
    """


@hookspec
def register_migrations() -> list[AppConfig]:
    """Return Piccolo ``AppConfig`` objects whose migrations create this plugin's tables.

    Only for a dedicated table, when the six dimensions cannot hold the data well (a
    measured need); most plugins add types, not tables. Migrations run in plugin order,
    core's first, on ``creator migrate`` and at start-up.
    """


@hookspec
def register_commands(cli: click.Group) -> None:
    """Add subcommands to the ``creator`` command line.

    ``cli`` is the root ``click.Group``: decorate functions with ``@cli.command()`` or
    add a group with ``@cli.group()``. A command that needs the platform (its stores,
    jobs, Redis) is an ``async def`` taking the platform first, under
    :func:`~sdk.with_platform`: settings load as for ``creator serve`` (``--config``,
    ``CREATOR_*``), embedded servers start when no URLs are set, and the platform is
    started before the command runs and stopped after. The command gets a ``--data-dir``
    option; a :class:`~sdk.PlatformError` it raises is printed as an error (exit 1). The
    example plugin, ``creator-hello``, adds ``creator hello count GROUP_ID`` this way.
    """


@hookspec
def register_static() -> list[StaticFiles]:
    """Return :class:`~sdk.StaticFiles` entries: a URL path and the directory it serves."""


@hookspec
def register_templates() -> list[str]:
    """Return directories of Jinja templates for this plugin's pages.

    All enabled plugins' directories form one search path (in plugin order), so name
    templates under a folder of your plugin's name to avoid clashes.
    """


@hookspec
def register_nav() -> list[NavItem]:
    """Return :class:`~sdk.NavItem` entries for the creator app's navigation.

    Every screen sits in one shell (``core/app.html``): navigation across features, a
    workspace switcher, an account menu. An entry is a label, a ``path`` (``{group_id}``
    in it is filled with the current workspace: ``"/builder/{group_id}"``), an ``icon``
    (a name from ``docs/ui.md``), an ``order`` (core's Home is 0, Settings 1000) and an
    optional ``permission``: an action the person must be allowed in the workspace for the
    entry to show. The entry whose path is the longest prefix of the page's is marked
    current, and the workspace switcher leads to the same feature in another workspace.
    The first segment of the path becomes reserved: no public site page may take it.
    """


@hookspec
def register_dashboard_widgets() -> list[DashboardWidget]:
    """Return :class:`~sdk.DashboardWidget` cards for a workspace's home dashboard
    (``/app/{group_id}``).

    ``load(app, group)`` is a coroutine giving the card's data for the workspace, read
    through ``group`` (a :class:`~sdk.GroupContext`: only that workspace's data); keep it
    cheap, a count or a few rows, since the dashboard awaits every card (concurrently).
    The default template, ``core/widgets/stat.html``, shows ``value``, ``label``, optional
    ``rows`` (``[{"label", "value"}]``) and a link (``href``, ``link_label``); name your
    own ``template`` for anything else (it gets ``widget`` and ``data``). Cards are ordered
    by ``order`` then title; ``permission`` hides a card from those not allowed it. A
    loader that raises is logged, its card says so, and the other cards still show.
    Names must be unique.
    """


@hookspec
def register_settings_pages() -> list[SettingsPage]:
    """Return :class:`~sdk.SettingsPage` entries listed on a workspace's settings page
    (``/app/{group_id}/settings``).

    Each is a label, a ``path`` to a settings screen of your plugin (``{group_id}`` filled
    as in ``register_nav``), a one-sentence ``description``, an ``icon``, an ``order`` and
    an optional ``permission``. Like navigation paths, the path's first segment becomes
    reserved. Render the screen itself with :class:`~sdk.PluginPages` so it sits in the
    shell.
    """


@hookspec
def permission_allowed(scope: Scope, action: str, resource: Resource | None) -> bool | None:
    """Decide whether ``scope`` may perform ``action`` on ``resource``.

    Return ``True`` to allow, ``False`` to deny, ``None`` to have no opinion. Any
    ``False`` denies; otherwise any ``True`` allows; if every plugin abstains, access is
    denied. Actions are strings such as ``"thing.create"``; ``resource`` carries the
    group and, where one exists, the thing or its type.
    """


@hookspec
def register_quotas() -> list[Quota]:
    """Return :class:`~sdk.Quota` declarations: per-plan limits on what a group may have or
    do (websites per creator, uploads per month).

    A service checks a quota in the transaction that creates the thing, so two
    concurrent creates cannot both take the last slot::

        async with platform.ontology.transaction(scope) as o:
            await platform.quotas.check(scope, "websites", within=o)
            await o.things.create("website", ...)

    Over the limit the request answers 429
    problem+json with code ``quota_exceeded``, naming the quota, the limit and the plan.
    A group's plan is its ``settings["plan"]`` (default ``free``). Names must be unique
    across enabled plugins. A quota is counted at the root organisation (the root group
    and every sub-group, against the root's plan) unless it says ``counted_at="group"``.
    """


@hookspec
def register_embedding_providers() -> list[EmbeddingProvider]:
    """Return :class:`~sdk.EmbeddingProvider` objects that turn text into vectors.

    Knowledge ingest and search use the provider named by the ``embedding_provider``
    setting (default ``local``, which works offline with no download). Each provider has a
    ``name``, the ``model`` and ``dimension`` recorded with every vector it makes, and an
    async ``embed(texts)`` returning one vector per text. Names must be unique.
    """


@hookspec(firstresult=True)
def public_url_group(app: Litestar, url: str) -> UUID | None:
    """Say which group's public pages this plugin serves at ``url``, if any.

    ``url`` is absolute: a page (a ``Referer``) or just an origin (an ``Origin``). The
    website plugin answers with the group of the site at ``/sites/{slug}/...`` on the
    platform's own address or ``public_sites_origin``, or of the site whose verified
    custom domain is the URL's host;
    a deleted site, a pending domain, an unknown name or another path is ``None``: answer
    only for names whose holder has shown they control them, since other plugins trust
    the answer (the clone's widget lets a group's domains call its clones). Plugins ask
    through ``await sdk.group_serving_url(app, url)``, which calls the implementations in
    plugin order, awaiting coroutines, and returns the first answer that is not ``None``
    (the clone's widget: which group's page frames it, which custom domains are its
    group's).

    May be a coroutine function. It runs on public requests with any URL a browser
    sends: keep it cheap (cache lookups). Answer for every name the plugin serves under,
    published pages or not (the website answers for a site with no page published yet):
    the question is who owns the address, not what it shows. An answer that is not a
    ``UUID``, or an implementation that raises, is logged and skipped.
    """


@hookspec(firstresult=True)
def resolve_txt(name: str) -> list[str] | None:
    """Answer a DNS TXT look-up of ``name`` yourself: the strings published there (``[]``:
    none), or ``None`` to leave it to the next plugin and finally to core.

    The platform asks through ``await platform.resolve_txt(name)`` (a website's custom
    domain is verified by a TXT record carrying its token); implementations are called in
    plugin order, awaiting coroutines, and the first list of strings wins. When none
    answers, core asks DNS with dnspython, at the ``dns_nameservers`` setting's servers
    (unset: the system's), within ``dns_timeout_seconds``. Implement it to resolve another
    way (DNS over HTTPS, a split-horizon resolver). ``name`` comes lower-cased, without a
    trailing dot. May be a coroutine function; one that raises is logged and skipped.
    """


@hookspec
def startup(app: Litestar) -> Any:
    """Called once when the app starts, after migrations and the database pool are ready.

    May be a coroutine function. ``app.state.platform`` is the running platform. Plugins
    are called in plugin order; one that raises stops start-up with an error naming it.
    """


@hookspec
def shutdown(app: Litestar) -> Any:
    """Called once when the app stops, before the database pool closes.

    May be a coroutine function. One that raises is logged; the other plugins' ``shutdown``
    still runs.
    """

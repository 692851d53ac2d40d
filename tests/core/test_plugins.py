"""The plugin system: one ``test_hook_<name>`` per hook in ``core/hookspecs.py`` (required
by ``test_hookspecs.py``), plus discovery, the enable list and start-up errors.

Plugins here are small classes with ``@hookimpl`` methods, passed to the platform as
extra plugins; discovery is tested with fake distributions (a ``*.dist-info`` directory
put on ``sys.path``).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import msgspec
import pytest
from click.testing import CliRunner
from litestar import get
from litestar.di import NamedDependency
from litestar.params import FromQuery
from litestar.response import Template
from piccolo.conf.apps import AppConfig

from core import hookspecs
from core.app import create_app
from core.auth.permissions import Permissions, Resource
from core.jobs import DuplicateJobError
from core.ontology.types import DuplicateTypeError
from core.platform import Platform
from core.plugins import PluginError, PluginManager
from core.settings import load_settings
from sdk import (
    Actor,
    ConnectionType,
    EventHandler,
    EventType,
    Job,
    Scope,
    StaticFiles,
    ThingType,
    hookimpl,
    hookspec,
    uuid7,
)
from sdk.testing import database_url

MIGRATIONS = Path(__file__).parent / "plugin_migrations"


def settings(tmp_path: Path, plugins: list[str]) -> Any:
    """Settings for building (not starting) a platform: no servers are touched."""
    return load_settings(environ={}, data_dir=tmp_path, plugins=plugins)


def fake_distribution(root: Path, name: str, entry_points: dict[str, str]) -> None:
    """An installed distribution with ``creator.plugins`` entry points, under ``root``."""
    dist = root / f"{name}-0.1.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
    lines = "".join(f"{key} = {value}\n" for key, value in entry_points.items())
    (dist / "entry_points.txt").write_text(f"[creator.plugins]\n{lines}")


# -- register_hookspecs -------------------------------------------------------------------


class GreetingSpecs:
    """Hook specifications a plugin adds for others to implement."""

    @hookspec
    def plugintest_greetings(self, name: str) -> list[str]:  # type: ignore[empty-body]
        """Return greetings for ``name``."""


class SpecOwner:
    @hookimpl
    def register_hookspecs(self, plugin_manager: PluginManager) -> None:
        plugin_manager.add_hookspecs(GreetingSpecs)


class SpecImplementer:
    @hookimpl
    def plugintest_greetings(self, name: str) -> list[str]:
        return [f"hello {name}"]


class UnknownHookImplementer:
    @hookimpl
    def plugintest_no_such_hook(self) -> None:
        pass


class BadArgsImplementer:
    @hookimpl
    def plugintest_greetings(self, name: str, mood: str) -> list[str]:
        return []


def test_hook_register_hookspecs() -> None:
    # the implementer is registered before the spec exists: checked once specs are in
    pm = PluginManager([], extra={"impl": SpecImplementer(), "owner": SpecOwner()})
    assert pm.hook.plugintest_greetings(name="Ada") == [["hello Ada"]]
    assert "impl" in pm.implementers("plugintest_greetings")


def test_hookspec_sources_name_who_declared_each_spec() -> None:
    pm = PluginManager([], extra={"owner": SpecOwner(), "impl": SpecImplementer()})
    sources = pm.hookspec_sources()
    assert list(sources) == ["core", "owner"]  # core's own first
    assert sources["core"] == [hookspecs]
    assert sources["owner"] == [GreetingSpecs]
    # a copy: callers cannot change what the manager recorded
    sources["owner"].clear()
    assert pm.hookspec_sources()["owner"] == [GreetingSpecs]


def test_add_hookspecs_outside_register_hookspecs_names_the_plugin() -> None:
    pm = PluginManager([])
    with pytest.raises(PluginError, match="plugin="):
        pm.add_hookspecs(GreetingSpecs)
    pm.add_hookspecs(GreetingSpecs, plugin="embedder")
    assert pm.hookspec_sources()["embedder"] == [GreetingSpecs]
    assert pm.hook.plugintest_greetings(name="Ada") == []


def test_register_hookspecs_unknown_hook_names_the_plugin() -> None:
    with pytest.raises(PluginError) as err:
        PluginManager([], extra={"owner": SpecOwner(), "stray": UnknownHookImplementer()})
    assert "'stray'" in str(err.value)
    assert "plugintest_no_such_hook" in str(err.value)
    # without the plugin that adds the spec, an implementation of it is unknown too
    with pytest.raises(PluginError, match=r"'impl'.*plugintest_greetings"):
        PluginManager([], extra={"impl": SpecImplementer()})


def test_register_hookspecs_mismatched_arguments_name_both_plugins() -> None:
    with pytest.raises(PluginError) as err:
        PluginManager([], extra={"bad": BadArgsImplementer(), "owner": SpecOwner()})
    assert "'bad'" in str(err.value) and "'owner'" in str(err.value)
    assert "mood" in str(err.value)


# -- collect_unique -----------------------------------------------------------------------


class PoliteImplementer:
    @hookimpl
    def plugintest_greetings(self, name: str) -> list[str]:
        return [f"good day {name}", f"farewell {name}"]


class NamelessImplementer:
    @hookimpl
    def plugintest_greetings(self, name: str) -> list[str]:
        return [" "]


def _first_word(greeting: str) -> str:
    return greeting.split(" ")[0]


def test_collect_unique_keys_items_by_name_and_names_both_plugins_in_a_clash() -> None:
    pm = PluginManager(
        [], extra={"owner": SpecOwner(), "impl": SpecImplementer(), "polite": PoliteImplementer()}
    )
    found = pm.collect_unique("plugintest_greetings", key=_first_word, what="greeting", name="Ada")
    assert found == {"hello": "hello Ada", "good": "good day Ada", "farewell": "farewell Ada"}
    assert list(found) == ["hello", "good", "farewell"]  # plugin order
    assert found.owner("hello") == "impl" and found.owner("farewell") == "polite"

    def no_farewells(plugin: str, greeting: str) -> None:
        if greeting.startswith("farewell"):
            raise LookupError(f"plugin {plugin!r} says farewell")

    with pytest.raises(LookupError, match="plugin 'polite' says farewell"):
        pm.collect_unique(
            "plugintest_greetings", key=_first_word, what="greeting", check=no_farewells, name="Ada"
        )

    twice = PluginManager(
        [], extra={"owner": SpecOwner(), "one": SpecImplementer(), "two": SpecImplementer()}
    )
    with pytest.raises(ValueError) as err:
        twice.collect_unique(
            "plugintest_greetings", key=_first_word, what="greeting", error=ValueError, name="Ada"
        )
    assert str(err.value) == "greeting 'hello' is registered by both plugin 'one' and plugin 'two'"

    nameless = PluginManager([], extra={"owner": SpecOwner(), "blank": NamelessImplementer()})
    with pytest.raises(PluginError) as err:
        nameless.collect_unique("plugintest_greetings", key=str.strip, what="greeting", name="Ada")
    assert str(err.value) == "plugin 'blank': plugintest_greetings returned a greeting with no name"


# -- types --------------------------------------------------------------------------------


class MemoProps(msgspec.Struct, forbid_unknown_fields=True):
    text: str
    pinned: bool = False


class LinkMeta(msgspec.Struct, forbid_unknown_fields=True):
    weight: int = 1


class PingPayload(msgspec.Struct, forbid_unknown_fields=True):
    n: int


class TypesPlugin:
    @hookimpl
    def register_thing_types(self) -> list[ThingType]:
        return [ThingType("memo", MemoProps), ThingType("folder")]

    @hookimpl
    def register_connection_types(self) -> list[ConnectionType]:
        return [
            ConnectionType("files", from_types=("folder",), to_types=("memo",), metadata=LinkMeta)
        ]

    @hookimpl
    def register_event_types(self) -> list[EventType]:
        return [EventType("ping", PingPayload, "Pinged")]


async def test_hook_register_thing_types(creator_platform_factory) -> None:
    cp = await creator_platform_factory(plugins=["types"], extra_plugins={"types": TypesPlugin()})
    assert cp.platform.registry.things["memo"].plugin == "types"
    tenant = await cp.tenant()
    memo = await cp.ontology(tenant).things.create("memo", name="m", properties={"text": "hi"})
    assert memo.properties == {"text": "hi", "pinned": False}
    r = await tenant.client.post(
        tenant.url("/things"), json={"type": "memo", "name": "m", "properties": {"txt": "typo"}}
    )
    assert r.status_code == 422, r.text


async def test_hook_register_connection_types(creator_platform_factory) -> None:
    cp = await creator_platform_factory(plugins=["types"], extra_plugins={"types": TypesPlugin()})
    tenant = await cp.tenant()
    o = cp.ontology(tenant)
    folder = await o.things.create("folder", name="f")
    memo = await o.things.create("memo", name="m", properties={"text": "x"})
    link = await o.connections.create("files", folder.id, memo.id, metadata={"weight": 3})
    assert (link.type, link.metadata) == ("files", {"weight": 3})
    assert cp.platform.registry.connections["files"].plugin == "types"


async def test_hook_register_event_types(creator_platform_factory) -> None:
    cp = await creator_platform_factory(plugins=["types"], extra_plugins={"types": TypesPlugin()})
    tenant = await cp.tenant()
    event = await cp.ontology(tenant).events.emit("ping", {"n": 1})
    assert (event.type, event.payload) == ("ping", {"n": 1})
    assert cp.platform.registry.events["ping"].plugin == "types"


class OnlyThing:
    @hookimpl
    def register_thing_types(self) -> list[ThingType]:
        return [ThingType("memo")]


class OnlyConnection:
    @hookimpl
    def register_connection_types(self) -> list[ConnectionType]:
        return [ConnectionType("files")]


class OnlyEvent:
    @hookimpl
    def register_event_types(self) -> list[EventType]:
        return [EventType("ping")]


@pytest.mark.parametrize(
    ("plugin", "clash"),
    [
        (OnlyThing, "thing type 'memo'"),
        (OnlyConnection, "connection type 'files'"),
        (OnlyEvent, "event type 'ping'"),
    ],
)
def test_duplicate_types_across_plugins_name_both(tmp_path, plugin, clash) -> None:
    with pytest.raises(DuplicateTypeError) as err:
        create_app(settings(tmp_path, []), extra_plugins={"first": plugin(), "second": plugin()})
    assert str(err.value) == f"{clash} is registered by both plugin 'first' and plugin 'second'"


# -- routes, static files, templates ------------------------------------------------------


@get("/api/v1/plugintest/groups/{group_id:uuid}/whoami")
async def whoami(
    group_scope: NamedDependency[Scope],
    actor: NamedDependency[Actor],
    platform: NamedDependency[Platform],
) -> dict[str, Any]:
    return {
        "person": str(actor.id),
        "role": group_scope.role,
        "plugins": platform.plugins.enabled_names(),
    }


@get("/plugintest/hello")
async def hello_page(name: FromQuery[str] = "world") -> Template:
    return Template(template_name="plugintest/hello.html", context={"name": name})


@get("/health")
async def health_again() -> str:
    return "mine"


class RoutesPlugin:
    @hookimpl
    def register_routes(self) -> list[Any]:
        return [whoami]


class ClashingRoutesPlugin:
    @hookimpl
    def register_routes(self) -> list[Any]:
        return [health_again]


class UIPlugin:
    def __init__(self, root: Path) -> None:
        self.root = root

    @hookimpl
    def register_routes(self) -> list[Any]:
        return [hello_page]

    @hookimpl
    def register_static(self) -> list[StaticFiles]:
        return [StaticFiles("/static/plugintest", self.root / "static")]

    @hookimpl
    def register_templates(self) -> list[str]:
        return [str(self.root / "templates")]


def ui_plugin(tmp_path: Path) -> UIPlugin:
    (tmp_path / "static").mkdir()
    (tmp_path / "static" / "style.css").write_text("body { color: teal }\n")
    (tmp_path / "templates" / "plugintest").mkdir(parents=True)
    (tmp_path / "templates" / "plugintest" / "hello.html").write_text("<h1>Hello {{ name }}</h1>\n")
    return UIPlugin(tmp_path)


async def test_hook_register_routes(creator_platform_factory) -> None:
    cp = await creator_platform_factory(plugins=[], extra_plugins={"routes": RoutesPlugin()})
    tenant = await cp.tenant()
    url = f"/api/v1/plugintest/groups/{tenant.group.id}/whoami"
    r = await tenant.client.get(url)
    assert r.status_code == 200, r.text
    plugins = ["core", "core.permissions", "routes"]
    assert r.json() == {"person": str(tenant.person.id), "role": "org_owner", "plugins": plugins}
    assert (await cp.client.get(url)).status_code == 401
    other = await cp.tenant()
    assert (await other.client.get(url)).status_code == 404


def test_route_clash_between_plugins_names_both(tmp_path) -> None:
    with pytest.raises(PluginError) as err:
        create_app(settings(tmp_path, []), extra_plugins={"clash": ClashingRoutesPlugin()})
    assert str(err.value) == (
        "route GET /health is registered by both plugin 'core' and plugin 'clash'"
    )


async def test_hook_register_static(creator_platform_factory, tmp_path) -> None:
    cp = await creator_platform_factory(plugins=["ui"], extra_plugins={"ui": ui_plugin(tmp_path)})
    r = await cp.client.get("/static/plugintest/style.css")
    assert r.status_code == 200, r.text
    assert r.text == "body { color: teal }\n"
    assert r.headers["content-type"].startswith("text/css")
    assert (await cp.client.get("/static/plugintest/missing.css")).status_code == 404


async def test_hook_register_templates(creator_platform_factory, tmp_path) -> None:
    cp = await creator_platform_factory(plugins=["ui"], extra_plugins={"ui": ui_plugin(tmp_path)})
    r = await cp.client.get("/plugintest/hello", params={"name": "<Ada>"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/html")
    assert r.text.strip() == "<h1>Hello &lt;Ada&gt;</h1>"  # autoescaped


# -- event handlers -----------------------------------------------------------------------


class HandlersPlugin(TypesPlugin):
    def __init__(self) -> None:
        self.seen: list[tuple[str, Any]] = []

    async def record(self, event: Any, ctx: Any) -> None:
        # runs after commit: the event is readable through the handler's own stores
        stored = await ctx.ontology.events.get(event.id)
        self.seen.append((ctx.plugin, stored.payload["n"]))

    async def fail(self, event: Any, ctx: Any) -> None:
        raise RuntimeError("handler broke")

    async def everything(self, event: Any, ctx: Any) -> None:
        self.seen.append(("*", event.type))

    @hookimpl
    def register_event_handlers(self) -> list[EventHandler]:
        return [
            EventHandler("ping", self.fail, name="fail"),
            EventHandler("ping", self.record, name="record"),
            EventHandler("*", self.everything, name="everything"),
        ]


async def test_hook_register_event_handlers(creator_platform_factory) -> None:
    plugin = HandlersPlugin()
    cp = await creator_platform_factory(plugins=["h"], extra_plugins={"h": plugin})
    tenant = await cp.tenant()
    plugin.seen.clear()  # creating the tenant emitted nothing, but be sure

    async with cp.platform.ontology.transaction(tenant.scope) as o:
        await o.events.emit("ping", {"n": 1})
        assert plugin.seen == []  # not before the commit
    # the failing handler ran first and did not stop the others
    assert plugin.seen == [("h", 1), ("*", "ping")]
    assert cp.platform.bus.failures == 1

    plugin.seen.clear()
    with pytest.raises(RuntimeError, match="roll back"):
        async with cp.platform.ontology.transaction(tenant.scope) as o:
            await o.events.emit("ping", {"n": 2})
            raise RuntimeError("roll back")
    assert plugin.seen == []  # a rolled-back event reaches no handler

    await cp.ontology(tenant).things.create("folder", name="f")
    assert plugin.seen == [("*", "thing_created")]
    handlers = ["* -> everything", "ping -> fail", "ping -> record"]
    assert cp.platform.bus.by_plugin("h") == handlers


# -- jobs ---------------------------------------------------------------------------------


async def send_digest(ctx: dict[str, Any]) -> str:
    return "sent"


class JobsPlugin:
    @hookimpl
    def register_jobs(self) -> list[Job]:
        return [Job(send_digest, cron={"minute": 0}), Job(send_digest, name="digest_now")]


def test_hook_register_jobs(tmp_path) -> None:
    platform = Platform.load(settings(tmp_path, ["jobs"]), extra_plugins={"jobs": JobsPlugin()})
    assert platform.jobs.by_plugin("jobs") == ["digest_now", "send_digest"]
    owner, job = platform.jobs.jobs["send_digest"]
    assert owner == "jobs" and job.cron == {"minute": 0} and job.function is send_digest

    with pytest.raises(DuplicateJobError) as err:
        two = {"one": JobsPlugin(), "two": JobsPlugin()}
        Platform.load(settings(tmp_path, []), extra_plugins=two)
    assert str(err.value) == (
        "job 'send_digest' is registered by both plugin 'one' and plugin 'two'"
    )


# -- migrations ---------------------------------------------------------------------------


class MigrationsPlugin:
    @hookimpl
    def register_migrations(self) -> list[AppConfig]:
        return [AppConfig(app_name="plugintest", migrations_folder_path=str(MIGRATIONS))]


async def test_hook_register_migrations(creator_platform_factory) -> None:
    cp = await creator_platform_factory(
        plugins=["migrations"], extra_plugins={"migrations": MigrationsPlugin()}
    )
    apps = [app.app_name for app in cp.platform.migration_apps()]
    assert apps == ["ontology", "plugintest"]  # core's first
    pool = cp.platform.db.pool
    assert await pool.fetchval("SELECT to_regclass('plugintest_counters')::text") == (
        "plugintest_counters"
    )
    ran = await pool.fetch("SELECT name FROM migration WHERE app_name = 'plugintest'")
    assert [row["name"] for row in ran] == ["2026-11-24T12:00:00:000000"]


# -- commands -----------------------------------------------------------------------------


class CommandsPlugin:
    @hookimpl
    def register_commands(self, cli: Any) -> None:
        import click

        @cli.command(name="plugintest-hello")
        @click.argument("name")
        def hello(name: str) -> None:
            """Say hello."""
            click.echo(f"hello {name}")


def test_hook_register_commands() -> None:
    from core.cli import cli

    pm = PluginManager([], extra={"commands": CommandsPlugin()})
    try:
        pm.hook.register_commands(cli=cli)
        result = CliRunner().invoke(cli, ["plugintest-hello", "Ada"])
        assert result.exit_code == 0, result.output
        assert result.output == "hello Ada\n"
        assert "plugintest-hello" in CliRunner().invoke(cli, ["--help"]).output
    finally:
        cli.commands.pop("plugintest-hello", None)


# -- permissions --------------------------------------------------------------------------


class PolicyPlugin(TypesPlugin):
    """Nobody but the system deletes; customers may create memos."""

    @hookimpl
    def permission_allowed(
        self, scope: Scope, action: str, resource: Resource | None
    ) -> bool | None:
        if action == "thing.delete" and not scope.is_system:
            return False
        if scope.role == "customer" and action == "thing.create":
            return bool(resource and resource.type == "memo") or None
        return None


async def test_hook_permission_allowed(creator_platform_factory) -> None:
    cp = await creator_platform_factory(plugins=[], extra_plugins={"policy": PolicyPlugin()})
    owner = await cp.tenant()
    customer = await cp.member(owner, "customer")
    memo = {"type": "memo", "name": "m", "properties": {"text": "hi"}}

    # the defaults alone: owners delete, customers do not create
    defaults = Permissions(PluginManager([]))
    group = owner.group.id
    assert defaults.can(owner.scope, "thing.delete", Resource(group, "memo"))
    assert not defaults.can(customer.scope, "thing.create", Resource(group, "memo"))

    r = await customer.client.post(customer.url("/things"), json=memo)
    assert r.status_code == 201, r.text  # granted by the plugin
    r = await customer.client.post(customer.url("/things"), json={**memo, "type": "folder"})
    assert r.status_code == 403, r.text  # the plugin abstains: silence denies
    thing = (await owner.client.post(owner.url("/things"), json=memo)).json()
    r = await owner.client.delete(owner.url(f"/things/{thing['id']}"))
    assert r.status_code == 403, r.text  # denied by the plugin though the defaults allow
    assert r.json()["code"] == "forbidden"
    assert not cp.platform.permissions.can(owner.scope, "thing.delete", Resource(group))
    assert cp.platform.permissions.can(Scope.system(group), "thing.delete", Resource(group))


# -- startup and shutdown -----------------------------------------------------------------


class LifecyclePlugin:
    def __init__(self, calls: list[str], *, fail_startup: bool = False) -> None:
        self.calls = calls
        self.fail_startup = fail_startup

    @hookimpl
    async def startup(self, app: Any) -> None:
        platform = app.state.platform
        assert await platform.db.ping()  # the pool is ready, migrations done
        if self.fail_startup:
            raise RuntimeError("cannot start")
        self.calls.append("startup")

    @hookimpl
    async def shutdown(self, app: Any) -> None:
        assert await app.state.platform.db.ping()  # before the pool closes
        self.calls.append("shutdown")


class SyncLifecyclePlugin:
    def __init__(self, calls: list[str]) -> None:
        self.calls = calls

    @hookimpl
    def startup(self) -> None:
        self.calls.append("sync startup")

    @hookimpl
    def shutdown(self, app: Any) -> None:
        self.calls.append("sync shutdown")
        raise RuntimeError("shutdown failed")  # logged; other plugins still shut down


@pytest.fixture
async def lifecycle_app(creator_servers):
    """``make(extra_plugins)``: an app (not started) on a fresh database; the test runs its
    lifespan itself, to see what happens after shutdown."""
    name = await creator_servers.create_database()

    def make(extra: dict[str, object]) -> Any:
        config = load_settings(
            environ={},
            data_dir=creator_servers.data_dir,
            database_url=database_url(creator_servers.database_url, name),
            redis_url=creator_servers.redis_url,
            plugins=list(extra),
            migrate_on_start=False,
            db_pool_min_size=1,
        )
        return create_app(config, extra_plugins=extra)

    yield make
    await creator_servers.drop_database(name)


async def test_hook_startup(lifecycle_app) -> None:
    calls: list[str] = []
    app = lifecycle_app({"a": LifecyclePlugin(calls), "b": SyncLifecyclePlugin(calls)})
    async with app.lifespan():
        assert calls == ["startup", "sync startup"]  # in plugin order, async and sync

    calls.clear()
    app = lifecycle_app({"bad": LifecyclePlugin(calls, fail_startup=True)})
    failed = pytest.RaisesExc(PluginError, match=r"startup hook of plugin 'bad' failed: .*cannot")
    with pytest.RaisesGroup(failed, allow_unwrapped=True):  # Litestar may wrap it in a group
        async with app.lifespan():
            pass
    with pytest.raises(RuntimeError, match="has not started"):
        app.state.platform.db  # noqa: B018 - the pool was closed on the failed start


async def test_hook_shutdown(lifecycle_app) -> None:
    calls: list[str] = []
    app = lifecycle_app({"sync": SyncLifecyclePlugin(calls), "async": LifecyclePlugin(calls)})
    async with app.lifespan():
        calls.clear()
    assert calls == ["sync shutdown", "shutdown"]
    with pytest.raises(RuntimeError, match="has not started"):
        app.state.platform.db  # noqa: B018 - stopped after the shutdown hooks


# -- discovery and the enable list --------------------------------------------------------

DISABLED_PLUGIN = """
from litestar import get
from sdk import Job, ThingType, hookimpl

IMPORTED = True


@get("/plugintest-off/ping")
async def ping() -> str:
    return "pong"


async def tidy(ctx):
    return None


@hookimpl
def register_thing_types():
    return [ThingType("offthing")]


@hookimpl
def register_routes():
    return [ping]


@hookimpl
def register_jobs():
    return [Job(tidy, name="plugintest_off_tidy")]
"""


def test_disabled_plugin_contributes_nothing(tmp_path, monkeypatch) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "plugintest_offplugin.py").write_text(DISABLED_PLUGIN)
    fake_distribution(site, "plugintest_off", {"offplugin": "plugintest_offplugin"})
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.delitem(sys.modules, "plugintest_offplugin", raising=False)

    app = create_app(settings(tmp_path, []))
    platform = app.state.platform
    assert "plugintest_offplugin" not in sys.modules  # not even imported
    info = {i.name: i for i in platform.plugins.info()}
    assert info["offplugin"].enabled is False and info["offplugin"].version == "0.1"
    assert "offthing" not in platform.registry.things
    assert "plugintest_off_tidy" not in platform.jobs.jobs
    assert not any(r.path.startswith("/plugintest-off") for r in app.routes)

    # enabled, the same plugin contributes all three
    app = create_app(settings(tmp_path, ["offplugin"]))
    platform = app.state.platform
    assert platform.registry.things["offthing"].plugin == "offplugin"
    assert platform.jobs.by_plugin("offplugin") == ["plugintest_off_tidy"]
    assert any(r.path == "/plugintest-off/ping" for r in app.routes)


def test_plugin_that_fails_to_import_stops_startup(tmp_path, monkeypatch) -> None:
    fake_distribution(tmp_path, "fakebroken", {"broken": "no_such_module_xyz"})
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(PluginError) as err:
        PluginManager(None)
    message = str(err.value)
    assert "'broken'" in message and "no_such_module_xyz" in message
    assert "ModuleNotFoundError" in message
    with pytest.raises(PluginError, match=r"'broken'.*ModuleNotFoundError"):
        create_app(settings(tmp_path, ["broken"]))
    # not enabled, it is never imported, so it cannot break anything
    assert "broken" not in PluginManager([]).enabled_names()


def test_enabling_an_unknown_plugin_is_a_clear_error(tmp_path) -> None:
    with pytest.raises(PluginError) as err:
        create_app(settings(tmp_path, ["no-such-plugin"]))
    message = str(err.value)
    assert "'no-such-plugin'" in message and "not installed" in message
    assert "installed plugins:" in message


def test_plugin_returning_a_non_list_names_the_plugin(tmp_path) -> None:
    class Sloppy:
        @hookimpl
        def register_thing_types(self) -> ThingType:
            return ThingType("lonely")

    with pytest.raises(PluginError, match=r"'sloppy'.*register_thing_types must return a list"):
        Platform.load(settings(tmp_path, []), extra_plugins={"sloppy": Sloppy()})


def test_extra_plugins_are_enabled_without_being_listed(tmp_path) -> None:
    pm = PluginManager([], extra={"types": TypesPlugin()})
    assert pm.enabled_names() == ["core", "core.permissions", "types"]


def test_core_defaults_let_a_visitor_read_published_things_only() -> None:
    """An anonymous visitor (``Scope.visitor``) reads the group's published things and
    nothing else: not the group, not drafts, no writes, never another group."""
    defaults = Permissions(PluginManager([]))
    group, other = uuid7(), uuid7()
    visitor = Scope.visitor(group)
    assert visitor.is_visitor and visitor.person_id is None and not visitor.is_system
    assert defaults.can(visitor, "thing.read", Resource(group, "memo", status="published"))
    assert not defaults.can(visitor, "thing.read", Resource(group, "memo", status="draft"))
    assert not defaults.can(visitor, "thing.read", Resource(group, "memo"))
    assert not defaults.can(visitor, "group.read", Resource(group))
    for action in ("thing.create", "thing.update", "thing.delete", "connection.create"):
        assert not defaults.can(visitor, action, Resource(group, "memo", status="published"))
    assert not defaults.can(visitor, "thing.read", Resource(other, "memo", status="published"))

"""The ``creator`` command line: serve, migrate, plugins, worker, events, people,
new-plugin, version.

Plugins add commands through the ``register_commands(cli)`` hook, on the same footing as
these (:mod:`core.commands`: settings, embedded servers, ``with_platform``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any
from uuid import UUID

import click
import msgspec

from core import __version__
from core.commands import command_settings, embedded_services, load_platform, with_platform
from core.settings import Settings, load_settings

if TYPE_CHECKING:
    from core.platform import Platform


def server_options(settings: Settings) -> dict[str, Any]:
    """uvicorn's options for serving the app with ``settings`` (but the address)."""
    return {
        "log_level": settings.log_level.lower(),
        "lifespan": "on",
        "log_config": None,  # create_app set up logging (core.logs); uvicorn's propagates
        "access_log": False,  # core.observability writes the access log
        # uvicorn rewrites the client address from X-Forwarded-For sent by these proxies
        # (None: its own default, $FORWARDED_ALLOW_IPS else the loopback addresses)
        "proxy_headers": True,
        "forwarded_allow_ips": settings.forwarded_allow_ips,
    }


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="CREATOR_CONFIG",
    help="TOML settings file (default: $CREATOR_CONFIG).",
)
@click.version_option(__version__, "-V", "--version", prog_name="creator")
def cli(config: Path | None) -> None:
    """Creator Platform: run a creator's whole business from one place.

    Settings come from a TOML file (--config), then CREATOR_* environment variables
    (CREATOR_DATA_DIR, CREATOR_DATABASE_URL, CREATOR_REDIS_URL, CREATOR_PLUGINS, ...).
    With no database or Redis URL, embedded servers start under the data directory.
    """


@cli.command()
@click.option("--host", help="Interface to bind (default 127.0.0.1).")
@click.option("--port", type=int, help="Port to listen on (default 8000).")
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where embedded PostgreSQL/Redis keep their data (default: per-user data dir).",
)
@click.option(
    "--with-worker/--no-worker",
    "with_worker",
    default=None,
    help="Run a job worker in this process (default: yes when PostgreSQL and Redis are "
    "embedded, i.e. no URLs are set; otherwise run `creator worker` separately).",
)
@click.pass_context
def serve(
    ctx: click.Context,
    host: str | None,
    port: int | None,
    data_dir: Path | None,
    with_worker: bool | None,
) -> None:
    """Start the platform (API, UI and embedded servers when no URLs are set)."""
    import uvicorn

    from core.app import create_app

    settings = command_settings(ctx, host=host, port=port, data_dir=data_dir, worker=with_worker)
    load_platform(settings)  # fail on a bad plugin before starting any server
    if settings.worker is None:  # decided before the embedded servers fill in the URLs
        embedded = not (settings.database_url and settings.redis_url)
        settings = msgspec.structs.replace(settings, worker=embedded)
    with embedded_services(settings) as running:
        app = create_app(running)
        plugins = ", ".join(app.state.platform.plugins.enabled_names())
        worker_note = "with a job worker" if running.worker else "no job worker"
        click.echo(
            f"Creator Platform {__version__} on http://{running.host}:{running.port} "
            f"(API docs at /schema, {worker_note})\nPlugins: {plugins}\nPress Ctrl-C to stop.",
            err=True,
        )
        uvicorn.run(app, host=running.host, port=running.port, **server_options(running))


@cli.command()
@click.option("--check", is_flag=True, help="Only list pending migrations; exit 1 if any.")
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path))
@click.pass_context
def migrate(ctx: click.Context, check: bool, data_dir: Path | None) -> None:
    """Apply the database migrations of core and the enabled plugins."""
    from core.db import database_logins
    from core.migrations import migrate as run_migrations
    from core.migrations import pending_migrations

    settings = command_settings(ctx, data_dir=data_dir)
    platform = load_platform(settings)
    with embedded_services(settings) as running:
        apps = platform.migration_apps()
        assert running.database_url
        if check:
            pending = asyncio.run(pending_migrations(running.database_url, apps))
            waiting = {app: ids for app, ids in pending.items() if ids}
            for app, ids in waiting.items():
                click.echo(f"{app}: {len(ids)} pending ({', '.join(ids)})")
            if waiting:
                sys.exit(1)
            click.echo("No pending migrations.")
            return
        passwords = database_logins(running).managed
        for report in asyncio.run(
            run_migrations(running.database_url, apps, role_passwords=passwords)
        ):
            state = f"applied {len(report.applied)}" if report.applied else "up to date"
            click.echo(f"{report.app}: {state}")


@cli.group()
def plugins() -> None:
    """Inspect installed and enabled plugins."""


@plugins.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def plugins_list(ctx: click.Context, as_json: bool) -> None:
    """Installed plugins, which are enabled, and what each registers."""
    from core.introspect import describe_plugins

    platform = load_platform(command_settings(ctx))
    described = describe_plugins(platform)
    if as_json:
        click.echo(json.dumps(described, indent=2))
        return
    for item in described:
        state = "enabled" if item["enabled"] else "disabled"
        kind = "built-in" if item["builtin"] else (item["version"] or "")
        click.secho(f"{item['name']}  [{state}] {kind}", bold=True)
        click.echo(f"  module: {item['module']}")
        for label in ("things", "connections", "events", "jobs"):
            if item.get(label):
                click.echo(f"  {label}: {', '.join(item[label])}")
        for label in ("routes", "handlers"):
            if item.get(label):
                click.echo(f"  {label}:")
                for line in item[label]:
                    click.echo(f"    {line}")


@cli.command()
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path))
@click.pass_context
def worker(ctx: click.Context, data_dir: Path | None) -> None:
    """Run a job worker: the enabled plugins' jobs and cron jobs, durable event handlers
    and the outbox relay. Run as many as the load needs; Ctrl-C or SIGTERM stops it after
    the running jobs finish."""
    from core.worker import run_worker

    settings = command_settings(ctx, data_dir=data_dir)
    platform = load_platform(settings)

    async def run(running: Settings) -> None:
        from core.logs import configure_logging

        configure_logging(running)
        platform.settings = running
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        click.echo(
            f"Creator Platform {__version__} worker: {len(platform.jobs.jobs)} job(s), "
            f"plugins: {', '.join(platform.plugins.enabled_names())}. Ctrl-C to stop.",
            err=True,
        )
        await run_worker(platform, stop)

    with embedded_services(settings) as running:
        asyncio.run(run(running))


@cli.group()
def events() -> None:
    """Inspect the event log's delivery."""


def _group_id(ctx: click.Context, param: click.Parameter, value: str | None) -> UUID | None:
    try:
        return UUID(value) if value else None
    except ValueError:
        raise click.BadParameter("not a group id", param_hint="--group") from None


@events.command("failed")
@click.option("--group", "group_id", callback=_group_id, help="Only this group's (a group id).")
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@with_platform
async def events_failed(
    platform: Platform, group_id: UUID | None, limit: int, as_json: bool
) -> None:
    """Events a handler gave up on (after its last retry), newest first."""
    from core.events import list_failures

    async with platform.db.system() as conn:  # an operator's view across groups
        failures = await list_failures(conn, group_id=group_id, limit=limit)
    if as_json:
        click.echo(msgspec.json.format(msgspec.json.encode(failures), indent=2).decode())
        return
    if not failures:
        click.echo("No failed events.")
        return
    for f in failures:
        click.echo(
            f"{f.failed_at:%Y-%m-%d %H:%M:%S}  group {f.group_id}  {f.event_type} {f.event_id}\n"
            f"    handler {f.handler} gave up after {f.attempts} attempt(s): {f.error}"
        )


@cli.group()
def people() -> None:
    """Manage people and their API tokens."""


@people.command("create")
@click.argument("email")
@click.option("--name", default="", help="Display name.")
@click.option("--platform-owner", is_flag=True, help="Grant the platform_owner role.")
@with_platform
async def people_create(platform: Platform, email: str, name: str, platform_owner: bool) -> None:
    """Create a person and print an API token for them (shown once)."""
    person = await platform.directory.create_person(
        email, name, platform_role="platform_owner" if platform_owner else None
    )
    _, token = await platform.directory.issue_token(person.id, "cli")
    click.echo(token)


@cli.command("new-plugin")
@click.argument("name")
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory to write it into (new or empty; default ./creator-NAME).",
)
def new_plugin(name: str, directory: Path | None) -> None:
    """Write a new plugin NAME: an installable distribution in the built-in plugins' layout
    (entry point, hooks, types, service, API, page, settings, migration, tests)."""
    from core.scaffold import ScaffoldError, default_directory, write_plugin

    target = directory if directory is not None else default_directory(name)
    try:
        written = write_plugin(name, target)
    except ScaffoldError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Wrote the plugin {name!r} in {target}:")
    for path in written:
        click.echo(f"  {path}")
    click.echo(
        "\nNext:\n"
        f"  cd {target}\n"
        "  pip install -e '.[test]'   # next to the platform; the plugin is then enabled\n"
        "  python -m pytest           # its tests, on real PostgreSQL and Redis\n"
        "  python -m mypy             # strict type checks\n"
        "  creator plugins list       # what it registers\n"
        f"  creator serve              # then open /{name}\n"
        "See README.md there, and docs/writing-plugins.md."
    )


@cli.command()
def version() -> None:
    """Print the version."""
    click.echo(f"creator-platform {__version__}")


def _config_option(args: list[str]) -> str | None:
    """The root command's ``--config`` in ``args``, read before click parses them (the
    plugins it enables decide which commands exist)."""
    for n, arg in enumerate(args):
        if arg == "--config" and n + 1 < len(args):
            return args[n + 1]
        if arg.startswith("--config="):
            return arg.partition("=")[2]
        if not arg.startswith("-"):
            return None  # the subcommand: its options are its own
    return None


def _add_plugin_commands(args: list[str]) -> None:
    """Let enabled plugins add commands. A broken plugin must not hide --help: its
    error is reported when a command that loads plugins runs."""
    from core.plugins import PluginManager

    with contextlib.suppress(Exception):
        settings = load_settings(config_file=_config_option(args))
        PluginManager(settings.plugins).hook.register_commands(cli=cli)


def main() -> None:
    _add_plugin_commands(sys.argv[1:])
    cli(prog_name="creator")


if __name__ == "__main__":  # pragma: no cover
    main()

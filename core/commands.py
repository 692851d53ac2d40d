"""What a ``creator`` subcommand needs: settings, servers and a started platform.

The ``creator`` command line (:mod:`core.cli`) and every ``register_commands`` hook, core's
and plugins', build on these, so a plugin's command reads settings and starts servers
exactly as ``creator serve`` does:

* :func:`command_settings` loads settings with the root's ``--config`` (else
  ``$CREATOR_CONFIG``) and the ``CREATOR_*`` environment; a bad setting is a clean error.
* :func:`embedded_services` starts embedded PostgreSQL and Redis when no URLs are set, and
  stops them after (on SIGTERM and Ctrl-C too).
* :func:`with_platform` (``sdk.with_platform``) turns ``async def command(platform, ...)``
  into a click command callback that runs with the platform started, all of the above
  done around it.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import signal
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

import click
import msgspec

from core.settings import Settings, SettingsError, load_settings

if TYPE_CHECKING:
    from core.platform import Platform


class _Stop(Exception):
    """SIGTERM: unwind so embedded servers are stopped, not orphaned."""


def _raise_stop(signum: int, frame: FrameType | None) -> None:
    raise _Stop()


def command_settings(ctx: click.Context, **overrides: Any) -> Settings:
    """Settings as the ``creator`` command line loads them (``--config`` of the root
    command, then the environment, then ``overrides`` that are not ``None``)."""
    try:
        return load_settings(config_file=ctx.find_root().params.get("config"), **overrides)
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None


@contextlib.contextmanager
def embedded_services(settings: Settings, *, quiet: bool = False) -> Iterator[Settings]:
    """Settings with database/Redis URLs, starting embedded servers if none are set. A
    SIGTERM or Ctrl-C ends the ``with`` block early (the servers are stopped all the same)."""
    from core.runtime import Runtime, RuntimeStartError

    runtime = Runtime(settings)
    previous = signal.signal(signal.SIGTERM, _raise_stop)
    try:
        if not quiet and not (settings.database_url and settings.redis_url):
            click.echo(
                f"Starting embedded PostgreSQL and Redis in {settings.data_dir} ...", err=True
            )
        try:
            runtime.start()
        except RuntimeStartError as exc:
            raise click.ClickException(str(exc)) from None
        # The handler stays while serving: uvicorn swaps in its own and, after a graceful
        # shutdown, restores ours and re-raises the signal, which lands here.
        yield msgspec.structs.replace(
            settings, database_url=runtime.database_url, redis_url=runtime.redis_url
        )
    except (_Stop, KeyboardInterrupt):
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        embedded = runtime.embedded
        runtime.stop()
        if embedded and not quiet:
            click.echo("Stopped embedded PostgreSQL and Redis.", err=True)


def load_platform(settings: Settings) -> Platform:
    """The platform with the enabled plugins, not started: a bad plugin or a clash of
    types is a clean error before any server starts."""
    from core.ontology.types import DuplicateTypeError
    from core.platform import Platform
    from core.plugins import PluginError

    try:
        return Platform.load(settings)
    except (PluginError, DuplicateTypeError) as exc:
        raise click.ClickException(str(exc)) from None


def with_platform(command: Callable[..., Awaitable[object]]) -> Callable[..., None]:
    """Make ``async def command(platform, **options)`` a click command callback that runs
    with the platform started.

    Put it under ``@cli.command()`` (and the command's options): the command gets a
    ``--data-dir`` option and, when it runs, settings load as for ``creator serve``
    (``--config``, ``CREATOR_*``), embedded PostgreSQL and Redis start if no URLs are
    set, the enabled plugins load, and the started :class:`~core.platform.Platform` is
    passed first; everything stops after. A :class:`~core.errors.PlatformError` the
    command raises is printed as an error (exit 1), as is a bad setting or plugin; a
    SIGTERM or Ctrl-C stops the command and exits 1."""

    @click.option(
        "--data-dir",
        type=click.Path(file_okay=False, path_type=Path),
        help="Where embedded PostgreSQL/Redis keep their data (when no URLs are set).",
    )
    @click.pass_context
    @functools.wraps(command)
    def callback(ctx: click.Context, /, data_dir: Path | None = None, **options: Any) -> None:
        from core.errors import PlatformError

        settings = command_settings(ctx, data_dir=data_dir)
        platform = load_platform(settings)

        async def run(running: Settings) -> None:
            platform.settings = running
            await platform.start()
            try:
                await command(platform, **options)
            finally:
                await platform.stop()

        finished = False
        try:
            with embedded_services(settings, quiet=True) as running:
                asyncio.run(run(running))
                finished = True
        except PlatformError as exc:
            raise click.ClickException(exc.detail) from None
        if not finished:  # stopped by a signal
            raise SystemExit(1)

    return callback

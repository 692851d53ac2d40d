"""Apply the Piccolo migrations of core and of every enabled plugin, once, under a lock.

Each migration source is a Piccolo ``AppConfig`` returned by the ``register_migrations``
hook. An advisory lock makes concurrent starts (several app processes) migrate once.
After the migrations, the platform's login roles get their passwords
(:func:`ensure_login_roles`).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import re
import threading
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.conf.apps import AppConfig

from core.db import APP_ROLE, SYSTEM_ROLE, login_url

_LOCK_KEY = 0x43524541544F52  # "CREATOR"
_process_lock = threading.Lock()  # Piccolo's engine is process-global


@dataclass
class MigrationReport:
    app: str
    applied: list[str]


def _engine(url: str) -> object:
    from piccolo.engine.postgres import PostgresEngine

    return PostgresEngine(config={"dsn": url}, extensions=())


async def _pending(app: AppConfig) -> tuple[object, list[str]]:
    from piccolo.apps.migrations.commands.forwards import ForwardsMigrationManager
    from piccolo.apps.migrations.tables import Migration

    manager = ForwardsMigrationManager(app_name=app.app_name)
    await manager.create_migration_table()
    ran = set(await Migration.get_migrations_which_ran(app_name=app.app_name))
    modules = manager.get_migration_modules(app.resolved_migrations_folder_path)
    return manager, sorted(set(modules) - ran)


def sql_migration(
    migration_id: str,
    app_name: str,
    description: str,
    statements: Sequence[str],
    then: Callable[[Any], Awaitable[None]] | None = None,
) -> Callable[[], Awaitable[MigrationManager]]:
    """The ``forwards`` of a Piccolo migration that runs SQL statements in order, then
    ``then(engine)`` if given, all in the migration's transaction::

        forwards = sql_migration(ID, "ontology", DESCRIPTION, STATEMENTS)

    Raw SQL, because Piccolo's column types cannot say pgvector, generated columns,
    partial indexes or row-level security; Piccolo still runs and records the migration.
    """

    async def forwards() -> MigrationManager:
        manager = MigrationManager(
            migration_id=migration_id, app_name=app_name, description=description
        )

        async def run() -> None:
            from piccolo.engine import engine_finder

            engine = engine_finder()
            assert engine is not None
            for statement in statements:
                await engine.run_ddl(statement)
            if then is not None:
                await then(engine)

        manager.add_raw(run)
        return manager

    return forwards


def group_table_statements(table: str) -> list[str]:
    """SQL that puts a plugin's own table under the same tenancy as core's tables: rows
    visible only to the groups of the unit of work (row-level security on its
    ``group_id`` column, which the table must have), and the app's and the system's
    roles allowed to read and write it. Add the statements after the ``CREATE TABLE``::

        STATEMENTS = [
            "CREATE TABLE IF NOT EXISTS hello_notes (group_id uuid NOT NULL ..., ...)",
            *group_table_statements("hello_notes"),
        ]

    Both statements are idempotent, so a later migration may repeat them."""
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", table):
        raise ValueError(f"{table!r} is not a plain lower-case table name")
    return [
        f"SELECT creator_enable_group_rls('{table}')",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO {APP_ROLE}, {SYSTEM_ROLE}",
    ]


async def migrate(
    url: str, apps: Sequence[AppConfig], *, role_passwords: Mapping[str, str] | None = None
) -> list[MigrationReport]:
    """Run every pending migration of ``apps`` (in order) against the database at ``url``
    (as its owner), then give the roles of ``role_passwords`` their log-in
    (:func:`ensure_login_roles`; ``core.db.database_logins(settings).managed``)."""
    lock_conn = await asyncpg.connect(url)
    try:
        await lock_conn.execute("SELECT pg_advisory_lock($1)", _LOCK_KEY)
        reports = await asyncio.to_thread(_migrate_sync, url, list(apps))
        await ensure_login_roles(lock_conn, url, role_passwords or {})
        return reports
    finally:
        with contextlib.suppress(Exception):
            await lock_conn.execute("SELECT pg_advisory_unlock($1)", _LOCK_KEY)
        await lock_conn.close()


async def ensure_login_roles(
    owner: asyncpg.Connection, url: str, passwords: Mapping[str, str]
) -> None:
    """Let each role of ``passwords`` log in to the database at ``url`` with its password,
    altering the role (through ``owner``, a connection as a user allowed to) only when
    it cannot yet: roles belong to the whole server, so processes of other databases
    there are not made to race on them at every start."""
    for role, password in passwords.items():
        try:
            probe = await asyncpg.connect(login_url(url, role, password))
        except asyncpg.InvalidAuthorizationSpecificationError:  # no log-in, or wrong password
            literal = "'" + password.replace("'", "''") + "'"
            await owner.execute(f'ALTER ROLE "{role}" WITH LOGIN PASSWORD {literal}')
        else:
            await probe.close()


@contextlib.contextmanager
def _piccolo_engine(url: str) -> Iterator[None]:
    """Point Piccolo's process-global engine at ``url`` for the duration of the block.

    Callers run in a worker thread with their own event loop, so the server's loop and any
    other app in this process are untouched.
    """
    with _process_lock:
        from piccolo.apps.migrations.tables import Migration

        import core.piccolo_conf as conf

        previous_env = os.environ.get("PICCOLO_CONF")
        os.environ["PICCOLO_CONF"] = "core.piccolo_conf"
        conf.DB = _engine(url)
        Migration._meta.db = conf.DB
        try:
            yield
        finally:
            conf.DB = None
            if previous_env is None:
                os.environ.pop("PICCOLO_CONF", None)
            else:
                os.environ["PICCOLO_CONF"] = previous_env


def _migrate_sync(url: str, apps: list[AppConfig]) -> list[MigrationReport]:
    with _piccolo_engine(url):
        return asyncio.run(_run_all(apps))


async def _run_all(apps: list[AppConfig]) -> list[MigrationReport]:
    reports = []
    for app in apps:
        manager, pending = await _pending(app)
        if pending:
            # Piccolo prints its progress; keep the server's output to our own log lines.
            with contextlib.redirect_stdout(io.StringIO()):
                result = await manager.run_migrations(app)  # type: ignore[attr-defined]
            if not result.success:
                raise RuntimeError(f"migrations of {app.app_name!r} failed: {result.message}")
        reports.append(MigrationReport(app=app.app_name, applied=pending))
    return reports


async def pending_migrations(url: str, apps: Sequence[AppConfig]) -> dict[str, list[str]]:
    """Migrations not yet applied, by app (for ``creator migrate --check``)."""
    return await asyncio.to_thread(_pending_sync, url, list(apps))


def _pending_sync(url: str, apps: list[AppConfig]) -> dict[str, list[str]]:
    async def collect() -> dict[str, list[str]]:
        return {app.app_name: (await _pending(app))[1] for app in apps}

    with _piccolo_engine(url):
        return asyncio.run(collect())

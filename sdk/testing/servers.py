"""The session's PostgreSQL (+pgvector) and Redis, embedded unless URLs name servers, and
the template database every test's database is copied from.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import msgspec
import pytest

from core.db import database_logins
from core.migrations import migrate
from core.platform import Platform
from core.runtime import Runtime
from core.settings import Settings, load_settings

if TYPE_CHECKING:
    pass


BASE_URL = "http://testserver.local"


def database_url(server_url: str, name: str) -> str:
    """``server_url`` with its database replaced by ``name``."""
    parts = urlsplit(server_url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@dataclass
class Servers:
    """The session's PostgreSQL and Redis, and the migrated template database."""

    database_url: str
    redis_url: str
    template: str
    migrated_apps: set[str]
    data_dir: Path
    spare: list[str] = field(default_factory=list)

    async def create_database(self, *, empty: bool = False) -> str:
        """A new database: a copy of the migrated template, or with nothing in it."""
        name = f"creator_test_{uuid.uuid4().hex[:12]}"
        template = "" if empty else f" TEMPLATE {_quote(self.template)}"
        conn = await asyncpg.connect(self.database_url)
        try:
            await conn.execute(f"CREATE DATABASE {_quote(name)}{template}")
        finally:
            await conn.close()
        return name

    async def checkout_database(self) -> str:
        """A database equal to the migrated template: a recycled one, else a new copy.

        Recycling (``TRUNCATE``) is an order of magnitude cheaper than copying the
        template, which is most of a database test's cost."""
        return self.spare.pop() if self.spare else await self.create_database()

    async def checkin_database(self, name: str, *, reusable: bool) -> None:
        """Empty every table and keep the database for the next test; drop it instead when
        the test may have changed its schema (it ran migrations of its own)."""
        if not reusable:
            await self.drop_database(name)
            return
        conn = await asyncpg.connect(database_url(self.database_url, name))
        try:
            tables = [
                row[0]
                for row in await conn.fetch(
                    "SELECT quote_ident(tablename) FROM pg_tables "
                    "WHERE schemaname = 'public' AND tablename <> 'migration'"
                )
            ]
            if tables:
                await conn.execute(f"TRUNCATE {', '.join(tables)} CASCADE")
        finally:
            await conn.close()
        self.spare.append(name)

    async def drop_database(self, name: str) -> None:
        conn = await asyncpg.connect(self.database_url)
        try:
            await conn.execute(f"DROP DATABASE IF EXISTS {_quote(name)} WITH (FORCE)")
        finally:
            await conn.close()


async def _create_template(servers_url: str, template: str, settings: Settings) -> set[str]:
    conn = await asyncpg.connect(servers_url)
    try:
        await conn.execute(f"DROP DATABASE IF EXISTS {_quote(template)} WITH (FORCE)")
        await conn.execute(f"CREATE DATABASE {_quote(template)}")
    finally:
        await conn.close()
    apps = Platform.load(settings).migration_apps()
    url = database_url(servers_url, template)
    # The roles belong to the whole server: every test database's platform logs in as
    # them with the passwords of the session's secret (its data_dir keeps the secret).
    passwords = database_logins(msgspec.structs.replace(settings, database_url=url)).managed
    await migrate(url, apps, role_passwords=passwords)
    return {app.app_name for app in apps}


@pytest.fixture(scope="session")
def creator_servers() -> Iterator[Servers]:
    """Start (or reach) PostgreSQL and Redis once per session; build the template DB."""
    data_dir = Path(tempfile.mkdtemp(prefix="creator-test-"))
    settings = load_settings(
        environ={
            key: value
            for key, value in os.environ.items()
            if key in ("CREATOR_DATABASE_URL", "CREATOR_REDIS_URL")
        },
        data_dir=data_dir,
    )
    runtime = Runtime(settings).start()
    template = f"creator_template_{os.getpid()}"
    servers: Servers | None = None
    try:
        migrated = asyncio.run(_create_template(runtime.database_url, template, settings))
        servers = Servers(runtime.database_url, runtime.redis_url, template, migrated, data_dir)
        yield servers
    finally:
        try:

            async def drop() -> None:
                for name in [template, *(servers.spare if servers else [])]:
                    conn = await asyncpg.connect(runtime.database_url)
                    await conn.execute(f"DROP DATABASE IF EXISTS {_quote(name)} WITH (FORCE)")
                    await conn.close()

            asyncio.run(drop())
        finally:
            runtime.stop()
            shutil.rmtree(data_dir, ignore_errors=True)

"""The asyncpg pool every store shares, with JSONB (msgspec) and pgvector codecs."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import msgspec

_json_encode = msgspec.json.Encoder().encode
_json_decode = msgspec.json.Decoder().decode


def _encode_json(value: Any) -> str:
    return _json_encode(value).decode()


async def init_connection(conn: asyncpg.Connection) -> None:
    """Codecs for every pooled connection: JSON through msgspec, vectors through pgvector."""
    for name in ("jsonb", "json"):
        await conn.set_type_codec(
            name, encoder=_encode_json, decoder=_json_decode, schema="pg_catalog"
        )
    from pgvector.asyncpg import register_vector

    # Before the first migration the extension may not exist yet; vectors come later.
    with contextlib.suppress(ValueError):
        await register_vector(conn)


#: The role the app's pooled connections run as: not a superuser and not the tables' owner,
#: so row-level security applies (see the migration that enables it).
APP_ROLE = "creator_app"
#: Which groups the statements that follow may see (row-level security reads it).
SET_GROUPS_SQL = "SELECT set_config('creator.groups', $1, $2)"


class Database:
    """A lazily opened asyncpg pool for one PostgreSQL database.

    Pooled connections start as :data:`APP_ROLE`, set in the connection's start-up so a
    pool reset keeps it; ``RESET ALL`` on release clears the group setting, so a
    connection never carries one unit of work's groups into the next.
    """

    def __init__(
        self, url: str, *, min_size: int = 2, max_size: int = 10, role: str | None = APP_ROLE
    ) -> None:
        self.url = url
        self.min_size = min_size
        self.max_size = max_size
        self.role = role
        self._pool: asyncpg.Pool | None = None

    async def open(self) -> None:
        if self._pool is None:
            self._pool = await asyncpg.create_pool(
                dsn=self.url,
                min_size=self.min_size,
                max_size=self.max_size,
                init=init_connection,
                server_settings={"role": self.role} if self.role else None,
            )

    @contextlib.asynccontextmanager
    async def system(self) -> AsyncIterator[asyncpg.Connection]:
        """A pooled connection that sees every group, for the platform's own cross-group
        work (the outbox relay, dead letters, re-embedding). Callers say so explicitly."""
        async with self.pool.acquire() as conn:
            await conn.execute("SELECT set_config('creator.all_groups', 'on', false)")
            yield conn

    @contextlib.asynccontextmanager
    async def as_owner(self) -> AsyncIterator[asyncpg.Connection]:
        """A connection of its own as the database user itself (the tables' owner), for
        DDL such as creating an index on demand. Not pooled."""
        conn = await asyncpg.connect(self.url)
        try:
            yield conn
        finally:
            await conn.close()

    async def close(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError("the database pool is not open; the app has not started")
        return self._pool

    async def ping(self) -> bool:
        async with self.pool.acquire() as conn:
            return bool(await conn.fetchval("SELECT 1") == 1)

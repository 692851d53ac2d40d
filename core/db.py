"""The asyncpg pool every store shares, with JSONB (msgspec) and pgvector codecs."""

from __future__ import annotations

import contextlib
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


class Database:
    """A lazily opened asyncpg pool for one PostgreSQL database."""

    def __init__(self, url: str, *, min_size: int = 2, max_size: int = 10) -> None:
        self.url = url
        self.min_size = min_size
        self.max_size = max_size
        self._pool: asyncpg.Pool | None = None

    async def open(self) -> None:
        if self._pool is None:
            self._pool = await asyncpg.create_pool(
                dsn=self.url,
                min_size=self.min_size,
                max_size=self.max_size,
                init=init_connection,
            )

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

"""One partial HNSW index per embedding dimension in use, created on demand.

``knowledge.embedding`` has no fixed dimension, so each dimension gets its own index on
``(embedding::vector(D))`` restricted to ``embedding_dim = D`` (the 384 one comes with the
migrations). When a provider of a new dimension is about to write its first vectors,
:func:`ensure_hnsw_index` builds ``knowledge_embedding_<D>_hnsw`` with ``CREATE INDEX
CONCURRENTLY``, which PostgreSQL refuses inside a transaction block: it runs on a pooled
connection of its own in autocommit, never on a connection with a transaction open, and
never while the caller holds one (ingest embeds and indexes before its transaction).

A build that failed half-way leaves an INVALID index behind (``IF NOT EXISTS`` would then
skip it), so an invalid index of that name is dropped and built again. Dimensions above
2,000 use ``halfvec`` (pgvector indexes up to 4,000); above 4,000 there is no index and
vector search scans the group's rows of that dimension exactly.
"""

from __future__ import annotations

import asyncio
import logging

from core.db import Database
from core.knowledge.store import MAX_HALFVEC_INDEX_DIM, vector_expr

log = logging.getLogger("creator.knowledge")

_ready: set[tuple[str, int]] = set()
_locks: dict[tuple[str, int], asyncio.Lock] = {}


def index_name(dim: int) -> str:
    return f"knowledge_embedding_{int(dim)}_hnsw"


async def ensure_hnsw_index(db: Database, dim: int) -> bool:
    """Make sure the partial HNSW index for ``dim`` exists and is valid; ``True`` if it does
    (built now or before), ``False`` when ``dim`` is too large to index."""
    dim = int(dim)
    if dim < 1:
        raise ValueError("an embedding dimension must be positive")
    if dim > MAX_HALFVEC_INDEX_DIM:
        log.warning("embeddings of %d dimensions cannot be indexed; search scans them", dim)
        return False
    key = (db.logins.owner, dim)
    if key in _ready:
        return True
    lock = _locks.setdefault(key, asyncio.Lock())
    async with lock:
        if key in _ready:
            return True
        name = index_name(dim)
        expr, opclass = vector_expr(dim)
        async with db.as_owner() as conn:  # DDL needs the tables' owner, not the app role
            # One builder across processes: another would see the half-built index as
            # invalid and drop it.
            await conn.execute("SELECT pg_advisory_lock(hashtext($1))", name)
            valid = await conn.fetchval(
                "SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                "WHERE c.relname = $1 AND c.relnamespace = 'public'::regnamespace",
                name,
            )
            if valid is False:
                log.warning("index %s is invalid (an earlier build failed); rebuilding", name)
                await conn.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")
            if valid is not True:
                log.info("building %s for %d-dimensional embeddings", name, dim)
                await conn.execute(
                    f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} ON knowledge "
                    f"USING hnsw ({expr} {opclass}) WHERE embedding_dim = {dim}"
                )
        _ready.add(key)
        return True

"""The knowledge SQL of ingest, search and re-embedding: :class:`KnowledgeStore` extends the
scoped :class:`~core.ontology.stores.Knowledge` store, so it is bound to one scope and
every query filters by the scope's group (tenancy is decided in one place, the scope).

Vector search uses the expression each partial HNSW index is built on,
``(embedding::vector(D)) <=> $q`` with ``embedding_dim = D``; ``D`` is written into the SQL
as a literal (an int, checked) because a partial index is only used when the planner can
prove its predicate, which it cannot for a parameter.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import asyncpg

from core.errors import NotFound
from core.ontology.stores import Knowledge, ScopedOntology

#: pgvector indexes ``vector`` up to 2,000 dimensions and ``halfvec`` up to 4,000.
MAX_VECTOR_INDEX_DIM = 2000
MAX_HALFVEC_INDEX_DIM = 4000
#: A vector search among at most this many chunks (a group's, or some things') compares
#: the query with each of them (exact, a few milliseconds); above it, the HNSW index.
EXACT_SEARCH_MAX = 5000
#: Most chunks matching a full-text query that :meth:`KnowledgeStore.fulltext_search` ranks.
FULLTEXT_SCAN = 500

_THING_OF = (
    "(SELECT tk.thing_id FROM thing_knowledge tk WHERE tk.group_id = k.group_id "
    "AND tk.knowledge_id = k.id ORDER BY tk.thing_id LIMIT 1)"
)


#: A one-lexeme tsquery from a lexeme ``lex`` (quoted, so it is taken as it is).
_LEXEME_QUERY = "('''' || lex || '''')::tsquery"
#: Lexemes without a quote or backslash, which the quoting above would need to escape.
_PLAIN_LEXEME = "lex !~ '[''\\\\]'"


def _plain_lexeme(lexeme: str) -> bool:
    return bool(lexeme) and "'" not in lexeme and "\\" not in lexeme


def vector_expr(dim: int, column: str = "embedding") -> tuple[str, str]:
    """``(indexed expression, opclass)`` for vectors of ``dim`` dimensions."""
    dim = int(dim)
    if dim <= MAX_VECTOR_INDEX_DIM:
        return f"({column}::vector({dim}))", "vector_cosine_ops"
    return f"({column}::halfvec({dim}))", "halfvec_cosine_ops"


def query_expr(dim: int, placeholder: str) -> str:
    dim = int(dim)
    if dim <= MAX_VECTOR_INDEX_DIM:
        return f"{placeholder}::vector({dim})"
    return f"{placeholder}::vector({dim})::halfvec({dim})"


@dataclass(frozen=True)
class NewChunk:
    id: UUID
    text: str
    metadata: dict[str, Any]
    embedding: list[float] | None


@dataclass(frozen=True)
class StoredChunk:
    id: UUID
    content_hash: str | None
    embedding_model: str | None
    embedding_dim: int | None
    metadata: dict[str, Any]


@dataclass(frozen=True)
class Hit:
    id: UUID
    thing_id: UUID | None
    text: str
    metadata: dict[str, Any]
    score: float


class KnowledgeStore(Knowledge):
    """The scoped knowledge store plus ingest, search and re-embedding queries."""

    def __init__(self, scoped: ScopedOntology) -> None:
        super().__init__(scoped)

    # -- ingest -------------------------------------------------------------------------

    async def lock_thing(self, thing_id: UUID) -> None:
        """Lock the (live) thing for this transaction, so two ingests of one thing queue up.
        Another group's thing, or a deleted one, is not found (404)."""
        async with self.session.transaction() as conn:
            found = await conn.fetchval(
                "SELECT 1 FROM things WHERE group_id = $1 AND id = $2 AND deleted_at IS NULL "
                "FOR UPDATE",
                self.group_id,
                thing_id,
            )
        if found is None:
            raise NotFound(f"thing {thing_id} not found")

    async def thing_chunks(self, thing_id: UUID) -> list[StoredChunk]:
        """The chunks linked to ``thing_id``, in chunk order."""
        async with self.session.reading() as conn:
            rows = await conn.fetch(
                "SELECT k.id, k.metadata, k.embedding_model, k.embedding_dim FROM knowledge k "
                "JOIN thing_knowledge tk ON tk.group_id = k.group_id AND tk.knowledge_id = k.id "
                "WHERE tk.group_id = $1 AND tk.thing_id = $2 AND k.group_id = $1 "
                "AND k.kind = 'chunk' ORDER BY k.id",
                self.group_id,
                thing_id,
            )
        return [
            StoredChunk(
                row["id"],
                row["metadata"].get("content_hash"),
                row["embedding_model"],
                row["embedding_dim"],
                row["metadata"],
            )
            for row in rows
        ]

    async def embeddings_by_hash(
        self, hashes: Sequence[str], model: str, dim: int
    ) -> dict[str, list[float]]:
        """Vectors the same model already made for the same text in this group."""
        if not hashes:
            return {}
        async with self.session.reading() as conn:
            rows = await conn.fetch(
                "SELECT DISTINCT ON (metadata->>'content_hash') metadata->>'content_hash' AS h, "
                "embedding FROM knowledge WHERE group_id = $1 "
                "AND metadata->>'content_hash' = ANY($2::text[]) AND embedding_model = $3 "
                "AND embedding_dim = $4 AND embedding IS NOT NULL",
                self.group_id,
                list(hashes),
                model,
                dim,
            )
        return {row["h"]: _floats(row["embedding"]) for row in rows}

    async def insert_chunks(
        self,
        chunks: Sequence[NewChunk],
        *,
        embedding_model: str | None,
        thing_id: UUID | None,
        role: str = "source",
    ) -> None:
        if not chunks:
            return
        async with self.session.transaction() as conn:
            await conn.executemany(
                "INSERT INTO knowledge (id, group_id, kind, text, metadata, embedding, "
                "embedding_model, embedding_dim) VALUES ($1, $2, 'chunk', $3, $4, $5, $6, $7)",
                [
                    (
                        c.id,
                        self.group_id,
                        c.text,
                        c.metadata,
                        c.embedding,
                        embedding_model if c.embedding is not None else None,
                        len(c.embedding) if c.embedding is not None else None,
                    )
                    for c in chunks
                ],
            )
            if thing_id is not None:
                await conn.executemany(
                    "INSERT INTO thing_knowledge (group_id, thing_id, knowledge_id, role) "
                    "VALUES ($1, $2, $3, $4)",
                    [(self.group_id, thing_id, c.id, role) for c in chunks],
                )

    async def update_metadata(self, updates: Mapping[UUID, dict[str, Any]]) -> None:
        if not updates:
            return
        async with self.session.transaction() as conn:
            await conn.executemany(
                "UPDATE knowledge SET metadata = $3 WHERE group_id = $1 AND id = $2",
                [(self.group_id, kid, metadata) for kid, metadata in updates.items()],
            )

    async def delete_ids(self, ids: Sequence[UUID]) -> int:
        if not ids:
            return 0
        async with self.session.transaction() as conn:
            status = await conn.execute(
                "DELETE FROM knowledge WHERE group_id = $1 AND id = ANY($2::uuid[])",
                self.group_id,
                list(ids),
            )
        return int(status.split()[-1])

    # -- search -------------------------------------------------------------------------

    def _filters(self, args: list[Any], thing_ids: Sequence[UUID], labels: Sequence[str]) -> str:
        clauses = ""
        if thing_ids:
            args.append(list(thing_ids))
            clauses += (
                " AND k.id IN (SELECT knowledge_id FROM thing_knowledge "
                f"WHERE group_id = $1 AND thing_id = ANY(${len(args)}::uuid[]))"
            )
        if labels:
            args.append(list(labels))
            clauses += f" AND k.metadata->'labels' ?& ${len(args)}::text[]"
        return clauses

    async def vector_search(
        self,
        vector: Sequence[float],
        *,
        model: str,
        dim: int,
        limit: int,
        thing_ids: Sequence[UUID] = (),
        labels: Sequence[str] = (),
        ef_search: int = 100,
    ) -> list[Hit]:
        """Nearest chunks by cosine distance among those the same model embedded; the score
        is the cosine similarity.

        Few candidates (at most ``EXACT_SEARCH_MAX`` chunks of the group, or of
        ``thing_ids``): every one is compared, exactly. Many: the partial HNSW index of
        ``dim`` with pgvector's iterative scan, planned for these very parameters. (An index
        scan that must skip most rows, or a generic plan cached for another list of things,
        is slow at 100,000 rows: ``benchmarks/README.md``, the clone's "Plans".)"""
        dim = int(dim)
        expr, _ = vector_expr(dim, "k.embedding")
        args: list[Any] = [self.group_id, list(vector), model]
        where = self._filters(args, thing_ids, labels)
        args.append(int(limit))
        distance = f"{expr} <=> {query_expr(dim, '$2')}"
        rows_sql = (
            f"SELECT k.id, k.text, k.metadata, {_THING_OF} AS thing_id, "
            f"({distance}) AS distance FROM knowledge k "
            f"WHERE k.group_id = $1 AND k.embedding_dim = {dim} AND k.embedding_model = $3"
            f"{where}"
        )
        async with self.session.reading() as conn, _read_transaction(conn):
            settings = "SET LOCAL plan_cache_mode = force_custom_plan"
            if await self._candidates(conn, thing_ids) <= EXACT_SEARCH_MAX:
                if thing_ids:
                    # From the things' chunks, each fetched by its key (OFFSET 0 keeps the
                    # planner from turning this into a scan of the group's rows).
                    labels_clause = " AND k.metadata->'labels' ?& $5::text[]" if labels else ""
                    rows_sql = (
                        f"SELECT k.id, k.text, k.metadata, tk.thing_id, ({distance}) AS distance "
                        "FROM (SELECT knowledge_id, (array_agg(thing_id ORDER BY thing_id))[1] "
                        "AS thing_id FROM thing_knowledge WHERE group_id = $1 "
                        "AND thing_id = ANY($4::uuid[]) GROUP BY knowledge_id) AS tk "
                        "CROSS JOIN LATERAL (SELECT * FROM knowledge k WHERE k.group_id = $1 "
                        "AND k.id = tk.knowledge_id OFFSET 0) AS k "
                        f"WHERE k.embedding_dim = {dim} AND k.embedding_model = $3{labels_clause}"
                    )
                # "+ 0": an order the HNSW index cannot give, so the few rows are sorted,
                # never found by walking the index past other rows
                sql = f"{rows_sql} ORDER BY ({distance}) + 0 LIMIT ${len(args)}"
            else:
                sql = f"{rows_sql} ORDER BY {distance} LIMIT ${len(args)}"
                settings += (
                    f"; SET LOCAL hnsw.ef_search = {max(int(ef_search), int(limit))}; "
                    "SET LOCAL hnsw.iterative_scan = relaxed_order"
                )
            await conn.execute(settings)
            rows = await conn.fetch(sql, *args)
        hits = [
            Hit(row["id"], row["thing_id"], row["text"], row["metadata"], 1.0 - row["distance"])
            for row in rows
        ]
        # relaxed_order may return neighbours slightly out of order: restore it.
        return sorted(hits, key=lambda hit: -hit.score)

    async def _candidates(self, conn: asyncpg.Connection, thing_ids: Sequence[UUID]) -> int:
        """How many chunks a search may return, counted up to ``EXACT_SEARCH_MAX + 1``."""
        if thing_ids:
            sql = (
                "SELECT count(*) FROM (SELECT 1 FROM thing_knowledge WHERE group_id = $1 "
                "AND thing_id = ANY($2::uuid[]) LIMIT $3) AS found"
            )
            count = await conn.fetchval(sql, self.group_id, list(thing_ids), EXACT_SEARCH_MAX + 1)
        else:
            sql = (
                "SELECT count(*) FROM (SELECT 1 FROM knowledge WHERE group_id = $1 LIMIT $2) "
                "AS found"
            )
            count = await conn.fetchval(sql, self.group_id, EXACT_SEARCH_MAX + 1)
        return int(count)

    async def fulltext_search(
        self,
        query: str,
        *,
        limit: int,
        thing_ids: Sequence[UUID] = (),
        labels: Sequence[str] = (),
        scan: int = FULLTEXT_SCAN,
    ) -> list[Hit]:
        """Chunks matching ``websearch_to_tsquery('english', query)``, by ``ts_rank_cd``.

        At most ``scan`` matching chunks are ranked: every word of a question can be common
        in a large group, and ranking reads each match's row. The bound also keeps the plan
        on the index's matches, each one's thing checked by key, rather than hashing every
        chunk of the things (figures: ``docs/knowledge.md``). Which matches are
        ranked when more match is arbitrary (the index's order). The plan is made for these
        very parameters: a generic plan cannot see how many rows the query matches or the
        things hold, and hashed the things' chunks even for a query matching two."""
        args: list[Any] = [self.group_id, query]
        where = self._filters(args, thing_ids, labels)
        args += [max(int(scan), int(limit)), int(limit)]
        n = len(args)
        sql = (
            f"SELECT k.id, k.text, k.metadata, {_THING_OF} AS thing_id, "
            "ts_rank_cd(k.tsv, k.q) AS score FROM (SELECT k.id, k.group_id, k.text, "
            "k.metadata, k.tsv, q FROM knowledge k, websearch_to_tsquery('english', $2) q "
            f"WHERE k.group_id = $1 AND k.tsv @@ q{where} LIMIT ${n - 1}) AS k "
            f"ORDER BY score DESC, k.id DESC LIMIT ${n}"
        )
        async with self.session.reading() as conn, _read_transaction(conn):
            await conn.execute("SET LOCAL plan_cache_mode = force_custom_plan")
            rows = await conn.fetch(sql, *args)
        return _hits(rows)

    async def lexeme_sample(
        self, query: str, *, sample: int, words: int
    ) -> tuple[int, dict[str, int]]:
        """``(n, counts)``: the group's ``sample`` most recent chunks (``n`` of them, fewer
        if the group is smaller) and, per English lexeme of ``query`` (as the ``tsv`` column
        stems it; the ``words`` longest if there are more), how many of those contain it:
        a document-frequency estimate that costs one index range scan, whatever the group's
        size (``ts_stat`` reads every row)."""
        async with self.session.reading() as conn:
            rows = await conn.fetch(
                "WITH sample AS MATERIALIZED (SELECT tsv FROM knowledge WHERE group_id = $1 "
                "AND kind = 'chunk' ORDER BY id DESC LIMIT $3), "
                "lexemes AS MATERIALIZED (SELECT lex, " + _LEXEME_QUERY + " AS q "
                "FROM unnest(tsvector_to_array(to_tsvector('english', $2))) AS lex "
                f"WHERE {_PLAIN_LEXEME} ORDER BY length(lex) DESC, lex LIMIT $4) "
                "SELECT lex, (SELECT count(*) FROM sample WHERE sample.tsv @@ lexemes.q) AS n "
                "FROM lexemes UNION ALL SELECT NULL, (SELECT count(*) FROM sample)",
                self.group_id,
                query,
                int(sample),
                int(words),
            )
        counts = {row["lex"]: int(row["n"]) for row in rows if row["lex"] is not None}
        sampled = next(int(row["n"]) for row in rows if row["lex"] is None)
        return sampled, counts

    async def lexeme_search(
        self,
        weights: Mapping[str, float],
        *,
        limit: int,
        scan: int,
        thing_ids: Sequence[UUID] = (),
        labels: Sequence[str] = (),
    ) -> list[Hit]:
        """Chunks containing any of the lexemes ``weights`` names (English lexemes, as
        :meth:`lexeme_sample` gives them), scored by the sum of the weights of those they
        contain; among the ``2 * limit`` best, a hundredth of ``ts_rank_cd`` (frequency and
        proximity) breaks ties. Each lexeme's chunks come from the GIN index (no row's
        ``tsv`` is read for them), at most ``scan`` per lexeme: a bound on the cost when a
        word is common after all (which of its chunks are then scored is arbitrary). Planned
        for these very parameters, as :meth:`fulltext_search` is."""
        lexemes = [lex for lex in weights if _plain_lexeme(lex)]
        if not lexemes:
            return []
        tsquery = " | ".join(f"'{lex}'" for lex in lexemes)
        args: list[Any] = [self.group_id, tsquery]
        where = self._filters(args, thing_ids, labels)
        args += [lexemes, [float(weights[lex]) for lex in lexemes], int(scan), int(limit)]
        n = len(args)
        sql = (
            f"WITH terms AS (SELECT w, {_LEXEME_QUERY} AS q "
            f"FROM unnest(${n - 3}::text[], ${n - 2}::float8[]) AS t(lex, w)), "
            "pool AS (SELECT m.id, sum(t.w) AS score FROM terms t CROSS JOIN LATERAL "
            "(SELECT k.id FROM knowledge k "
            f"WHERE k.group_id = $1 AND k.tsv @@ t.q{where} LIMIT ${n - 1}) m "
            f"GROUP BY m.id ORDER BY score DESC, m.id DESC LIMIT 2 * ${n}) "
            f"SELECT k.id, k.text, k.metadata, {_THING_OF} AS thing_id, "
            "p.score + 0.01 * ts_rank_cd(k.tsv, $2::tsquery) AS score "
            "FROM pool p JOIN knowledge k ON k.group_id = $1 AND k.id = p.id "
            f"ORDER BY score DESC, k.id DESC LIMIT ${n}"
        )
        async with self.session.reading() as conn, _read_transaction(conn):
            await conn.execute("SET LOCAL plan_cache_mode = force_custom_plan")
            rows = await conn.fetch(sql, *args)
        return _hits(rows)

    # -- re-embedding -------------------------------------------------------------------

    _STALE = (
        "((embedding_model IS NOT NULL AND (embedding_model <> $2 OR embedding_dim <> $3)) "
        "OR (kind = 'chunk' AND embedding IS NULL))"
    )

    async def count_stale(self, model: str, dim: int) -> int:
        """Rows embedded by another model (or dimension), and chunks never embedded."""
        async with self.session.reading() as conn:
            count = await conn.fetchval(
                f"SELECT count(*) FROM knowledge WHERE group_id = $1 AND {self._STALE}",
                self.group_id,
                model,
                dim,
            )
        return int(count)

    async def stale_batch(
        self, model: str, dim: int, limit: int, after: UUID | None = None
    ) -> list[tuple[UUID, str]]:
        async with self.session.reading() as conn:
            rows = await conn.fetch(
                f"SELECT id, text FROM knowledge WHERE group_id = $1 AND {self._STALE} "
                "AND ($4::uuid IS NULL OR id > $4) ORDER BY id LIMIT $5",
                self.group_id,
                model,
                dim,
                after,
                limit,
            )
        return [(row["id"], row["text"]) for row in rows]

    async def set_embeddings(
        self, vectors: Sequence[tuple[UUID, list[float]]], *, model: str
    ) -> None:
        async with self.session.transaction() as conn:
            await conn.executemany(
                "UPDATE knowledge SET embedding = $3, embedding_model = $4, embedding_dim = $5 "
                "WHERE group_id = $1 AND id = $2",
                [(self.group_id, kid, vec, model, len(vec)) for kid, vec in vectors],
            )


class _read_transaction:
    """A transaction for ``SET LOCAL`` around one read; joins an open one if there is."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self._tx = None if conn.is_in_transaction() else conn.transaction(readonly=True)

    async def __aenter__(self) -> None:
        if self._tx is not None:
            await self._tx.start()

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if self._tx is not None:
            if exc_type is None:
                await self._tx.commit()
            else:
                await self._tx.rollback()


def _hits(rows: Sequence[asyncpg.Record]) -> list[Hit]:
    """Search rows (``id``, ``thing_id``, ``text``, ``metadata``, ``score``) as hits."""
    return [
        Hit(row["id"], row["thing_id"], row["text"], row["metadata"], float(row["score"]))
        for row in rows
    ]


def _floats(value: Any) -> list[float]:
    """A stored vector as floats (pgvector's codec returns a ``Vector`` or an array)."""
    for method in ("to_list", "tolist"):
        if hasattr(value, method):
            return [float(x) for x in getattr(value, method)()]
    return [float(x) for x in value]


#: Rows the model $1 of dimension $2 did not embed: another model's, or never embedded.
_STALE_ROWS = (
    "(embedding_model IS NOT NULL AND (embedding_model <> $1 OR embedding_dim <> $2)) "
    "OR (kind = 'chunk' AND embedding IS NULL)"
)
#: Whether any group holds stale rows (system work: run with ``db.system()``).
STALE_EXISTS_SQL = f"SELECT EXISTS (SELECT 1 FROM knowledge WHERE {_STALE_ROWS})"


async def stale_groups(conn: asyncpg.Connection, model: str, dim: int) -> list[UUID]:
    """The groups holding rows :meth:`KnowledgeStore.count_stale` would count: the one
    cross-group query here, for the system's re-embed job; it returns group ids only."""
    rows = await conn.fetch(
        f"SELECT DISTINCT group_id FROM knowledge WHERE {_STALE_ROWS} ORDER BY group_id",
        model,
        dim,
    )
    return [row["group_id"] for row in rows]

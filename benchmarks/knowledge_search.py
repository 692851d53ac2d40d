"""Knowledge search at 100,000 chunks: HNSW recall@10 against exact search, query latency
through the platform's search, HNSW build time, and the ingest rate of the real ingest
path with the local model beside a raw INSERT of the same rows.

Data: 100,000 chunks of dimension 384 in ONE group of an embedded PostgreSQL (started with
``core.runtime.Runtime`` on a temp dir, migrated with the platform's migrations). The
vectors are synthetic: 1,000 random unit "topic" centres, each chunk its centre plus
Gaussian noise (sigma 0.6 / sqrt(384) per coordinate), then normalised: a rough stand-in
for the clustered shape of text embeddings. Uniform random unit vectors, the worst case
for any graph index, with ``--uniform``. Each chunk's text is a
short generated sentence (the full-text column is filled as in real use). The rows are
tagged with the local model's name, so the platform's search treats them as its own.

Rows go in by ``COPY`` with the HNSW index dropped, then the index is built once (timed)
with the migration's exact definition. Queries come from the same distribution. Exact
neighbours come from PostgreSQL itself with index scans disabled (a sequential scan and a
sort over the group's rows); HNSW neighbours from ``KnowledgeStore.vector_search``, the
function ``platform.knowledge.search`` calls (``hnsw.ef_search`` as the platform sets it,
``iterative_scan = relaxed_order``). Latency is measured on that function (vector given)
and on the whole ``platform.knowledge.search`` (the query text embedded by the local model
first).

    python benchmarks/knowledge_search.py             # 100,000 chunks, ~2-3 minutes
    python benchmarks/knowledge_search.py --rows 20000 --queries 100   # quicker

Nothing is asserted: targets (recall >= 0.95, p50 < 5 ms, p95 < 15 ms) are printed.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import msgspec
import numpy as np

from core.db import init_connection
from core.knowledge.local import MODEL, LocalEmbeddingProvider
from core.knowledge.search import ef_search_for, forget_recent_queries
from core.knowledge.service import KnowledgeService
from core.ontology.ids import uuid7
from core.ontology.scope import Scope
from core.platform import Platform

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import log, machine, percentile, running_platform, table

DIM = 384
INDEX = "knowledge_embedding_384_hnsw"
INDEX_SQL = (
    f"CREATE INDEX {INDEX} ON knowledge USING hnsw ((embedding::vector(384)) vector_cosine_ops) "
    "WHERE embedding_dim = 384"
)
WORDS = (
    "course video refund shipping coaching newsletter token member lesson recipe camera "
    "audio editing sponsor budget travel guitar desk community invoice certificate sleep "
    "protein marathon garden plant bread coffee light studio podcast launch pricing"
).split()


def vectors(rng: np.random.Generator, n: int, centres: np.ndarray | None) -> np.ndarray:
    if centres is None:
        raw = rng.standard_normal((n, DIM)).astype(np.float32)
    else:
        picks = rng.integers(0, len(centres), n)
        noise = rng.standard_normal((n, DIM)).astype(np.float32) * (0.6 / np.sqrt(DIM))
        raw = centres[picks] + noise
    return raw / np.linalg.norm(raw, axis=1, keepdims=True)


def sentence(rng: np.random.Generator, words: int) -> str:
    return " ".join(WORDS[i] for i in rng.integers(0, len(WORDS), words))


async def build_index(conn: asyncpg.Connection, analyze: str) -> float:
    """Build the migration's HNSW index (dropped while loading) once, then ``VACUUM
    ANALYZE`` the tables ``analyze`` names; the build's seconds."""
    await conn.execute("SET maintenance_work_mem = '1GB'")
    started = time.perf_counter()
    await conn.execute(INDEX_SQL)
    seconds = time.perf_counter() - started
    await conn.execute(f"VACUUM ANALYZE {analyze}")
    return seconds


async def bench(args: argparse.Namespace, platform: Platform, rng: np.random.Generator) -> None:
    person = await platform.directory.create_person("bench@example.test", "Bench")
    group = await platform.directory.create_group(person, slug="bench", name="Bench")
    other = await platform.directory.create_group(person, slug="other", name="Other")
    scope = Scope.system(group.id)
    store = platform.knowledge.store(scope)
    centres = None if args.uniform else vectors(rng, 1000, None)
    data = vectors(rng, args.rows, centres)
    queries = vectors(rng, args.queries, centres)
    results: list[list[Any]] = []

    # -- load: COPY with the index dropped, then build it ----------------------------------
    log(f"COPY {args.rows:,} chunks of dimension {DIM} into one group")
    # Loading and index DDL are the owner's work (the app role may not drop indexes).
    async with platform.db.as_owner() as conn:
        await init_connection(conn)  # the pgvector codec for COPY
        await conn.execute(f"DROP INDEX {INDEX}")
        started = time.perf_counter()
        batch = 20_000
        for start in range(0, args.rows, batch):
            records = [
                (uuid7(), group.id, "chunk", sentence(rng, 12), data[i], MODEL, DIM)
                for i in range(start, min(args.rows, start + batch))
            ]
            await conn.copy_records_to_table(
                "knowledge",
                records=records,
                columns=[
                    "id",
                    "group_id",
                    "kind",
                    "text",
                    "embedding",
                    "embedding_model",
                    "embedding_dim",
                ],
            )
        copy_seconds = time.perf_counter() - started
        # a few rows of another group, so the group filter has something to filter
        await conn.copy_records_to_table(
            "knowledge",
            records=[
                (uuid7(), other.id, "chunk", "other", data[i], MODEL, DIM) for i in range(1000)
            ],
            columns=[
                "id",
                "group_id",
                "kind",
                "text",
                "embedding",
                "embedding_model",
                "embedding_dim",
            ],
        )
        log(f"building the HNSW index ({INDEX}, m=16, ef_construction=64, the defaults)")
        build_seconds = await build_index(conn, "knowledge")
    rate = f"{args.rows / copy_seconds:,.0f} rows/s"
    results.append(["COPY of the rows", f"{copy_seconds:.1f} s", rate, "", ""])
    results.append(["HNSW index build", f"{build_seconds:.1f} s", "", "", ""])

    # -- exact neighbours (sequential scan) -----------------------------------------------
    log(f"exact top-10 of {args.queries} queries (index scans off)")
    exact: list[list[uuid.UUID]] = []
    async with platform.db.system() as conn, conn.transaction():
        await conn.execute("SET LOCAL enable_indexscan = off; SET LOCAL enable_bitmapscan = off")
        started = time.perf_counter()
        for q in queries:
            rows = await conn.fetch(
                "SELECT id FROM knowledge WHERE group_id = $1 AND embedding_dim = 384 "
                "AND embedding_model = $3 "
                "ORDER BY (embedding::vector(384)) <=> $2::vector(384) LIMIT 10",
                group.id,
                q,
                MODEL,
            )
            exact.append([r["id"] for r in rows])
        exact_ms = (time.perf_counter() - started) / len(queries) * 1000

    # -- HNSW through the platform's search function --------------------------------------
    async with platform.db.system() as conn:
        plan = "\n".join(
            r[0]
            for r in await conn.fetch(
                "EXPLAIN SELECT id FROM knowledge k WHERE k.group_id = $1 "
                "AND k.embedding_dim = 384 AND k.embedding_model = $3 "
                "ORDER BY (k.embedding::vector(384)) <=> $2::vector(384) LIMIT 10",
                group.id,
                queries[0],
                MODEL,
            )
        )
    uses_index = INDEX in plan
    log(f"HNSW top-10 of the same queries (index used by the plan: {uses_index})")
    for ef in sorted({40, ef_search_for(10), 200}):
        latencies: list[float] = []
        hits_total = 0
        for q, truth in zip(queries, exact, strict=True):
            started = time.perf_counter()
            hits = await store.vector_search(
                q.tolist(), model=MODEL, dim=DIM, limit=10, ef_search=ef
            )
            latencies.append((time.perf_counter() - started) * 1000)
            hits_total += len({h.id for h in hits} & set(truth))
        recall = hits_total / (10 * len(queries))
        p50, p95 = percentile(latencies, 50), percentile(latencies, 95)
        platform_ef = " (platform's)" if ef == ef_search_for(10) else ""
        results.append(
            [
                f"vector search, ef_search={ef}{platform_ef}",
                f"recall@10 {recall:.3f}",
                f"p50 {p50:.2f} ms / p95 {p95:.2f} ms",
                met(recall >= 0.95, p50 < 5, p95 < 15),
                f"exact scan {exact_ms:.1f} ms/query",
            ]
        )

    # -- the whole platform.knowledge.search (query embedded by the local model) ----------
    texts = [sentence(rng, 6) for _ in range(50)]
    await platform.knowledge.search(scope, texts[0], mode="vector")  # load the model
    for mode in ("vector", "fulltext", "hybrid"):
        latencies = []
        for text in texts:
            forget_recent_queries()  # embed each query, as a question never asked before
            started = time.perf_counter()
            await platform.knowledge.search(scope, text, mode=mode)
            latencies.append((time.perf_counter() - started) * 1000)
        results.append(
            [
                f"platform.knowledge.search mode={mode} (text query)",
                "",
                f"p50 {percentile(latencies, 50):.2f} ms / p95 {percentile(latencies, 95):.2f} ms",
                "",
                "includes embedding the query" if mode != "fulltext" else "",
            ]
        )

    if args.ingest > 0:
        results.extend(await bench_ingest(args, platform, person, rng))
    print()
    kind = "uniform random unit vectors" if args.uniform else "clustered unit vectors"
    print(
        f"Knowledge search: {args.rows:,} chunks x {DIM}d ({kind}) in one group "
        f"(+1,000 in another), {args.queries} queries; {machine()}"
    )
    print("targets: recall@10 >= 0.95, p50 < 5 ms, p95 < 15 ms (printed, not asserted)")
    print()
    print(table(["measure", "value", "rate / latency", "targets met", "note"], results))


async def bench_ingest(
    args: argparse.Namespace, platform: Platform, person: Any, rng: np.random.Generator
) -> list[list[Any]]:
    """The real ingest path with the local model beside a raw INSERT of the same rows."""
    results: list[list[Any]] = []
    log(f"ingesting {args.ingest} chunks with the local model")
    knowledge = KnowledgeService(
        platform.ontology,
        platform.embedders,
        msgspec.structs.replace(platform.settings, chunk_tokens=80, chunk_overlap=8),
    )
    paragraphs = [sentence(rng, 40) + f" ({i})." for i in range(args.ingest)]
    ingest_group = await platform.directory.create_group(person, slug="ingest", name="Ingest")
    ingest_scope = Scope.system(ingest_group.id)
    started = time.perf_counter()
    for start in range(0, args.ingest, 50):  # 10 documents of 50 paragraphs
        result = await knowledge.ingest(ingest_scope, "\n\n".join(paragraphs[start : start + 50]))
    ingest_seconds = time.perf_counter() - started
    async with platform.db.system() as conn:
        chunks = await conn.fetchval(
            "SELECT count(*) FROM knowledge WHERE group_id = $1", ingest_group.id
        )
    provider = LocalEmbeddingProvider()
    sample = paragraphs[:100]
    started = time.perf_counter()
    await provider.embed(sample)
    embed_seconds = time.perf_counter() - started
    async with platform.db.system() as conn:
        stored = await conn.fetch(
            "SELECT text, embedding FROM knowledge WHERE group_id = $1", ingest_group.id
        )
    baseline_group = await platform.directory.create_group(person, slug="raw", name="Raw")
    async with platform.db.system() as conn:
        started = time.perf_counter()
        for p, v in stored:
            await conn.execute(
                "INSERT INTO knowledge (id, group_id, kind, text, metadata, embedding, "
                "embedding_model, embedding_dim) VALUES ($1, $2, 'chunk', $3, $4, $5, $6, $7)",
                uuid7(),
                baseline_group.id,
                p,
                {},
                v,
                MODEL,
                DIM,
            )
        insert_seconds = time.perf_counter() - started
    del result
    results.append(
        [
            f"ingest, real path (local model), {chunks} chunks",
            f"{ingest_seconds:.1f} s",
            f"{chunks / ingest_seconds:.1f} chunks/s",
            "",
            "chunk + embed + write, HNSW updated",
        ]
    )
    results.append(
        [
            f"  embedding alone, {len(sample)} of the texts",
            f"{embed_seconds:.1f} s",
            f"{len(sample) / embed_seconds:.1f} texts/s",
            "",
            "LocalEmbeddingProvider.embed",
        ]
    )
    results.append(
        [
            f"baseline: raw INSERT of the same {len(stored)} rows",
            f"{insert_seconds:.2f} s",
            f"{len(stored) / insert_seconds:,.0f} rows/s",
            "",
            "one INSERT each, vectors given",
        ]
    )

    return results


def met(*checks: bool) -> str:
    return (
        "yes"
        if all(checks)
        else "no ("
        + ", ".join(
            name for name, ok in zip(("recall", "p50", "p95"), checks, strict=True) if not ok
        )
        + ")"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--ingest", type=int, default=500, help="chunks for the ingest rate")
    parser.add_argument("--uniform", action="store_true", help="uniform random vectors")
    args = parser.parse_args()
    rng = np.random.default_rng(7)
    asyncio.run(running_platform([], "creator-bench-knowledge-", lambda p: bench(args, p, rng)))


if __name__ == "__main__":
    main()

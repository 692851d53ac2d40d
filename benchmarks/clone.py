"""The clone plugin at 100,000 chunks: retrieval latency for a clone (restricted to its
sources), time to first token and to the complete answer of the offline provider through
the real chat path, and training throughput, each beside a baseline measured in the same
run.

Data, in ONE group of an embedded PostgreSQL (``core.runtime.Runtime`` on a temp dir, the
platform's migrations, the ``clone`` plugin enabled):

* the clone evaluation corpus (``tests/plugins/clone/corpus``: 24 documents of one
  creator's ceramics studio) added as sources of a clone and trained through
  ``plugins.clone.training.train`` with core's default ``local`` embedding provider (real
  e5 embeddings, core's 500-token chunks);
* filler knowledge up to ``--rows`` chunks in all, loaded by ``COPY`` into ``things``
  (``clone_source`` things), ``knowledge`` and ``thing_knowledge`` with the HNSW index
  dropped and built again once. Each filler chunk is six sentences drawn from the corpus
  (so its words and full-text matches are those of real questions), and its vector is the
  mean of those sentences' real e5 embeddings plus a little noise: close enough to the
  questions to compete with the real passages, which uniform random vectors never would.
  10 % of the filler is in small things of 10 chunks, 90 % in ``--sources - 24`` large
  ones.

Three clones share the corpus sources: ``corpus`` (its 24 documents only), ``subset``
(the corpus + small filler things: ``--sources`` sources, about 2 % of the chunks) and
``most`` (the corpus + the large filler things: ``--sources`` sources, about 90 %).

Measured:

1. retrieval: ``retrieval.retrieve`` + ``retrieval.relevant`` (hybrid, restricted to the
   clone's sources) per clone, beside core's plain ``platform.knowledge.search`` (hybrid,
   whole group, same query) and the steps alone: embedding the query, core's hybrid
   search restricted to the same ids (``retrieve``'s one search), and its
   vector and text legs (``KnowledgeStore.vector_search`` / ``fulltext_search``, vector
   given). Queries: the corpus's 77 questions, cycled; measures interleaved per query.
   Core keeps a group's recent query vectors; each measure forgets them first, so every
   one embeds its question, except "the same question again", the clone's retrieve
   repeated at once: what a question asked before costs.
2. chat: ``Chat.ask`` + ``Chat.answer`` against the real database (what the API's
   handlers call, as the group's owner): time to the first piece of the answer and to the
   stored answer, beside ``retrieve`` + ``relevant`` alone for the same question. The
   offline provider answers when a passage is relevant; otherwise the clone says it does
   not know without asking a model (counted apart).
3. training: chunks/s of ``training.train`` over the corpus sources, and an incremental
   retrain with nothing changed, beside core's ``platform.knowledge.ingest`` of the same
   texts (one thing each, in another group so no embedding is reused). Then questions
   embedded one after another while those chunks embed again in one batch, beside the
   same questions embedded alone: what a visitor's question waits while a clone trains.

    python benchmarks/clone.py                    # 100,000 chunks: ~7 minutes on 2 cores,
                                                  # most of it loading the data
    python benchmarks/clone.py --rows 20000 --queries 50 --questions 20   # quicker
    python benchmarks/clone.py --profile          # + cProfile of retrieval and chat, and
                                                  # the restricted search under each plan

Nothing is asserted: targets (retrieval p95 < 30 ms, complete offline answer p95 < 200 ms)
are printed.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import shutil
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

import numpy as np

import sdk
from core.db import init_connection
from core.knowledge.local import MODEL
from core.knowledge.search import ef_search_for, forget_recent_queries
from core.ontology.ids import uuid7
from plugins.clone import retrieval, training
from plugins.clone.providers import collect_providers
from plugins.clone.services import CloneServices
from plugins.clone.settings import load as load_clone_settings
from plugins.clone.text import split_sentences
from plugins.clone.types import CloneIn, MessageIn, MessageView, SourceIn, ThreadIn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (
    ROOT,
    log,
    machine,
    percentile,
    print_profile,
    running_platform,
    table,
)
from knowledge_search import DIM, INDEX, build_index

CORPUS = ROOT / "tests" / "plugins" / "clone" / "corpus"
RETRIEVAL_TARGET_MS = 30.0
ANSWER_TARGET_MS = 200.0
SENTENCES_PER_FILLER = 6
SMALL_THING_CHUNKS = 10
#: Share of the filler chunks in small things (the rest is in the large ones).
SMALL_SHARE = 0.1
FILLER_NOISE = 0.25  # norm of the noise added to a filler vector before normalising
PACKAGES = (
    ("plugins.clone", "/plugins/clone/"),
    ("core.knowledge", "/core/knowledge/"),
    ("core (other)", "/core/"),
    ("asyncpg", "asyncpg"),
    ("msgspec", "msgspec"),
    ("asyncio", "asyncio"),
)


@dataclass
class Case:
    """A clone and the sources it retrieves from."""

    name: str
    clone_id: UUID
    source_ids: list[UUID]
    chunks: int
    timings: dict[str, list[float]] = field(default_factory=dict)

    def add(self, measure: str, ms: float) -> None:
        self.timings.setdefault(measure, []).append(ms)


def corpus_documents(limit: int) -> list[tuple[str, str]]:
    """``(title, markdown)`` of the first ``limit`` corpus documents, by file name."""
    docs = []
    for path in sorted(CORPUS.glob("*.md"))[:limit]:
        text = path.read_text()
        first = text.splitlines()[0].lstrip("# ").strip() if text.strip() else path.stem
        docs.append((first or path.stem, text))
    return docs


def corpus_questions() -> list[str]:
    return [q["question"] for q in json.loads((CORPUS / "questions.json").read_text())]


async def timed(call: Callable[[], Awaitable[Any]]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = await call()
    return (time.perf_counter() - started) * 1000, result


async def retrieve_relevant(
    platform: Any, scope: sdk.Scope, question: str, source_ids: list[UUID], limit: int
) -> list[Any]:
    """What a clone does to find the passages for a question (``Chat.ask``'s search)."""
    return retrieval.relevant(
        question, await retrieval.retrieve(platform, scope, question, source_ids, limit=limit)
    )


def stats_row(label: str, values: list[float], target: float | None) -> list[Any]:
    if not values:
        return [label, 0, "-", "-", "-", "", ""]
    p50, p95, p99 = (percentile(values, p) for p in (50, 95, 99))
    met = "" if target is None else ("yes" if p95 < target else "NO")
    aim = "" if target is None else f"p95 < {target:.0f} ms"
    return [label, len(values), f"{p50:.1f}", f"{p95:.1f}", f"{p99:.1f}", aim, met]


# -- setup ---------------------------------------------------------------------------------


async def bench(args: argparse.Namespace, platform: Any) -> None:
    rng = np.random.default_rng(11)
    person = await platform.directory.create_person("bench@example.test", "Mara")
    group = await platform.directory.create_group(person, slug="studio", name="Mara's Studio")
    other = await platform.directory.create_group(person, slug="baseline", name="Baseline")
    scope = await platform.directory.scope_for_person(person.id, group.id)
    owner = sdk.GroupContext(scope, platform)
    services = CloneServices(platform, load_clone_settings(platform), collect_providers(platform))
    provider = platform.knowledge.provider
    log(f"loading the embedding model ({provider.name}: {provider.model})")
    await provider.embed(["warm up"])
    await provider.embed_queries(["warm up"])
    if hasattr(provider, "count_tokens"):
        provider.count_tokens("warm up")  # the chunker's tokenizer

    training_rows, beside, corpus_clone, corpus_ids = await bench_training(
        args, platform, services, owner, sdk.Scope.system(other.id)
    )
    cases = await build_knowledge(args, platform, services, owner, corpus_clone, corpus_ids, rng)
    questions = corpus_questions()
    profiler = cProfile.Profile() if args.profile else None
    baseline = await bench_retrieval(args, platform, scope, cases, questions, rng, profiler)
    chat = await bench_chat(args, platform, services, owner, cases, questions, profiler)
    report(args, cases, baseline, chat, training_rows, beside)
    if profiler is not None:
        path = Path(tempfile.mkdtemp(prefix="creator-bench-clone-prof-")) / "clone.prof"
        profiler.dump_stats(path)
        print()
        print("cProfile of the retrieval and chat loops (the benchmark's own process; the")
        print("embedding runs in a worker thread and PostgreSQL in its own processes, so")
        print("their time shows as waiting: see the step rows of the retrieval table):")
        print_profile(path, PACKAGES, top=args.profile_top)
        shutil.rmtree(path.parent, ignore_errors=True)
        await explain(platform, scope, cases, questions)


async def bench_training(
    args: argparse.Namespace,
    platform: Any,
    services: CloneServices,
    owner: sdk.GroupContext,
    other: sdk.Scope,
) -> tuple[list[list[Any]], Beside, UUID, list[UUID]]:
    """Train the corpus clone through ``clone.train``'s function; core's ingest of the same
    texts in another group is the baseline."""
    docs = corpus_documents(args.train_sources)
    clone = await services.clones.create_clone(owner, CloneIn(name="Mara", purpose="support"))
    clone_id = UUID(clone.id)
    for title, text in docs:
        await services.sources.add_source(
            owner, clone_id, SourceIn(kind="markdown", title=title, text=text)
        )
    stores = owner.stores
    sources = [
        await stores.things.get(link.to_id)
        for link in await training.source_links(stores, clone_id)
    ]
    texts = [await training.source_text(stores, thing) for thing in sources]

    log(f"baseline: core's knowledge ingest of the {len(texts)} sources' texts")
    async with platform.ontology.transaction(other) as o:
        things = [await o.things.create("clone_source", name=t) for t, _ in texts]

    async def ingest_all() -> int:
        chunks = 0
        for thing, (title, text) in zip(things, texts, strict=True):
            result = await platform.knowledge.ingest(
                other, text, thing_id=thing.id, metadata={"title": title}
            )
            chunks += len(result.items)
        return chunks

    ingest_ms, ingest_chunks = await timed(ingest_all)
    log(f"training the clone on {len(docs)} sources (plugins.clone.training.train)")
    train_ms, trained = await timed(lambda: training.train(platform, owner.scope, clone_id))
    log("training again, nothing changed")
    retrain_ms, retrained = await timed(lambda: training.train(platform, owner.scope, clone_id))
    reingest_ms, _ = await timed(ingest_all)
    async with platform.db.system() as conn:
        chunk_texts = [
            r[0]
            for r in await conn.fetch(
                "SELECT text FROM knowledge WHERE group_id = $1 AND kind = 'chunk'", other.group_id
            )
        ]

    async def embed_each() -> None:  # one call per text, as ingest does per document
        for text in chunk_texts:
            await platform.knowledge.provider.embed([text])

    embed_ms, _ = await timed(embed_each)
    log("questions embedded alone, then while the chunks embed again (one batch)")
    provider = platform.knowledge.provider
    beside = Beside(
        chunks=len(chunk_texts),
        alone=await questions_beside(provider, None),
        ingest=await questions_beside(provider, provider.embed(chunk_texts)),
    )
    rows = [
        [
            "clone.train, first training",
            f"{len(docs)} sources, {trained.chunks} chunks ({trained.embedded} embedded)",
            f"{train_ms / 1000:.2f} s",
            f"{trained.chunks / (train_ms / 1000):.1f} chunks/s",
        ],
        [
            "baseline: knowledge.ingest of the same texts",
            f"{len(texts)} texts, {ingest_chunks} chunks",
            f"{ingest_ms / 1000:.2f} s",
            f"{ingest_chunks / (ingest_ms / 1000):.1f} chunks/s",
        ],
        [
            "baseline: embedding alone, the same chunks",
            f"{len(chunk_texts)} texts, one per call",
            f"{embed_ms / 1000:.2f} s",
            f"{len(chunk_texts) / (embed_ms / 1000):.1f} chunks/s",
        ],
        [
            "clone.train again, nothing changed",
            f"{retrained.sources} sources, {retrained.embedded} embedded",
            f"{retrain_ms:.0f} ms",
            f"{retrained.chunks / (retrain_ms / 1000):,.0f} chunks/s",
        ],
        [
            "baseline: knowledge.ingest again, same texts",
            f"{len(texts)} texts",
            f"{reingest_ms:.0f} ms",
            f"{ingest_chunks / (reingest_ms / 1000):,.0f} chunks/s",
        ],
    ]
    return rows, beside, clone_id, [thing.id for thing in sources]


@dataclass
class Beside:
    """Question embeddings (ms) alone and while ``chunks`` documents embed."""

    chunks: int
    alone: list[float]
    ingest: list[float]


async def questions_beside(provider: Any, documents: Awaitable[Any] | None) -> list[float]:
    """Milliseconds of each question's embedding (``embed_queries``, one at a time, each
    new) while ``documents`` embed, until they are done (at least 5 questions); with none,
    40 questions alone."""
    work = asyncio.ensure_future(documents) if documents is not None else None
    times: list[float] = []
    questions = corpus_questions()
    while len(times) < (5 if work is not None else 40) or (work is not None and not work.done()):
        question = f"{questions[len(times) % len(questions)]} ({len(times)})"
        times.append((await timed(lambda q=question: provider.embed_queries([q])))[0])
    if work is not None:
        await work
    return times


async def build_knowledge(
    args: argparse.Namespace,
    platform: Any,
    services: CloneServices,
    owner: sdk.GroupContext,
    corpus_clone: UUID,
    corpus_ids: list[UUID],
    rng: np.random.Generator,
) -> list[Case]:
    """Fill the group up to ``args.rows`` chunks and make the clones that retrieve from it."""
    group_id = owner.group_id
    async with platform.db.system() as conn:
        have = await conn.fetchval("SELECT count(*) FROM knowledge WHERE group_id = $1", group_id)
    corpus_chunks = int(have)
    filler = max(0, args.rows - corpus_chunks)
    linked = args.sources - len(corpus_ids)  # filler sources of each large clone
    small_things = max(linked, round(filler * SMALL_SHARE / SMALL_THING_CHUNKS))
    small_chunks = min(filler, small_things * SMALL_THING_CHUNKS)
    big_chunks = filler - small_chunks
    sizes = [SMALL_THING_CHUNKS] * small_things
    sizes += [big_chunks // linked + (1 if i < big_chunks % linked else 0) for i in range(linked)]

    pool_texts, pool = await sentence_pool(args, platform)
    log(f"COPY {filler:,} filler chunks in {len(sizes):,} things (HNSW index dropped)")
    thing_ids = [uuid7() for _ in sizes]
    started = time.perf_counter()
    async with platform.db.as_owner() as conn:
        await init_connection(conn)
        await conn.execute(f"DROP INDEX {INDEX}")
        await conn.copy_records_to_table(
            "things",
            records=[
                (tid, group_id, "clone_source", f"Filler {n}", "active")
                for n, tid in enumerate(thing_ids)
            ],
            columns=["id", "group_id", "type", "name", "status"],
        )
        owners = np.repeat(np.arange(len(sizes)), sizes)
        for start in range(0, filler, 20_000):
            stop = min(filler, start + 20_000)
            picks = rng.integers(0, len(pool_texts), (stop - start, SENTENCES_PER_FILLER))
            vecs = pool[picks].mean(axis=1)
            vecs += rng.standard_normal(vecs.shape).astype(np.float32) * (
                FILLER_NOISE / np.sqrt(DIM)
            )
            vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
            ids = [uuid7() for _ in range(stop - start)]
            knowledge = [
                (kid, group_id, "chunk", " ".join(pool_texts[j] for j in row), vec, MODEL, DIM)
                for kid, row, vec in zip(ids, picks, vecs, strict=True)
            ]
            await conn.copy_records_to_table(
                "knowledge",
                records=knowledge,
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
            await conn.copy_records_to_table(
                "thing_knowledge",
                records=[
                    (group_id, thing_ids[o], kid)
                    for kid, o in zip(ids, owners[start:stop], strict=True)
                ],
                columns=["group_id", "thing_id", "knowledge_id"],
            )
            log(f"  {stop:,} / {filler:,} chunks")
        # passages are cited by their source's title, as ingest records it
        await conn.execute(
            "UPDATE knowledge k SET metadata = jsonb_build_object('title', t.name, "
            "'source_type', t.type) FROM thing_knowledge tk JOIN things t ON t.id = tk.thing_id "
            "WHERE k.id = tk.knowledge_id AND t.name LIKE 'Filler %' AND k.group_id = $1",
            group_id,
        )
        copy_s = time.perf_counter() - started
        log(f"building the HNSW index over {args.rows:,} chunks")
        index_s = await build_index(conn, "things, knowledge, thing_knowledge")
    log(f"loaded in {copy_s:.1f} s, index built in {index_s:.1f} s")

    small, big = thing_ids[:linked], thing_ids[small_things:]
    cases = [Case("corpus", corpus_clone, corpus_ids, corpus_chunks)]
    for name, extra, chunks in (
        ("subset", small, linked * SMALL_THING_CHUNKS),
        ("most", big, big_chunks),
    ):
        clone = await services.clones.create_clone(owner, CloneIn(name=f"Mara ({name})"))
        clone_id = UUID(clone.id)
        async with platform.ontology.transaction(owner.scope) as o:
            for thing_id in [*corpus_ids, *extra]:
                await o.connections.create("trained_on", clone_id, thing_id, {})
            await o.things.update(clone_id, status="active")
        cases.append(Case(name, clone_id, [*corpus_ids, *extra], corpus_chunks + chunks))
    return cases


async def sentence_pool(args: argparse.Namespace, platform: Any) -> tuple[list[str], np.ndarray]:
    """The corpus's distinct sentences and their e5 (passage) embeddings."""
    seen: dict[str, None] = {}
    for _, text in corpus_documents(10_000):
        for sentence in split_sentences(text):
            if len(sentence.split()) >= 4:
                seen.setdefault(sentence, None)
    texts = list(seen)[: args.pool]
    log(f"embedding {len(texts)} corpus sentences for the filler vectors")
    vectors = np.asarray(await platform.knowledge.provider.embed(texts), dtype=np.float32)
    return texts, vectors


# -- measuring -----------------------------------------------------------------------------


async def bench_retrieval(
    args: argparse.Namespace,
    platform: Any,
    scope: sdk.Scope,
    cases: list[Case],
    questions: list[str],
    rng: np.random.Generator,
    profiler: cProfile.Profile | None,
) -> dict[str, list[float]]:
    """Per query, in a shuffled order: core's plain search and the query embedding
    (baselines), then per clone retrieve + relevant and its steps alone."""
    provider = platform.knowledge.provider
    store = platform.knowledge.store(scope)
    limit = load_clone_settings(platform).retrieval_limit
    depth = max(4 * limit, 40)  # what core's hybrid search asks of each leg
    baseline: dict[str, list[float]] = {}
    log(f"retrieval: {args.queries} queries x {len(cases)} clones + baselines")
    if profiler is not None:
        profiler.enable()
    for n in range(args.queries):
        query = questions[n % len(questions)]
        embed_ms, vectors = await timed(lambda q=query: provider.embed_queries([q]))
        vector = vectors[0]
        baseline.setdefault("embed", []).append(embed_ms)
        steps: list[tuple[Case | None, str, Callable[[], Awaitable[Any]]]] = [
            (None, "search", lambda q=query: platform.knowledge.search(scope, q, limit=limit))
        ]
        for case in cases:
            ids = case.source_ids
            steps += [
                (
                    case,
                    "retrieve",
                    lambda q=query, ids=ids: retrieve_relevant(platform, scope, q, ids, limit),
                ),
                (
                    case,
                    "hybrid",
                    lambda q=query, ids=ids: platform.knowledge.search(
                        scope, q, limit=limit, thing_ids=ids
                    ),
                ),
                (
                    case,
                    "vector",
                    lambda ids=ids, v=vector: store.vector_search(
                        v,
                        model=provider.model,
                        dim=provider.dimension,
                        limit=depth,
                        ef_search=ef_search_for(depth),
                        thing_ids=ids,
                    ),
                ),
                (
                    case,
                    "text",
                    lambda q=query, ids=ids: store.fulltext_search(q, limit=depth, thing_ids=ids),
                ),
            ]
        for index in rng.permutation(len(steps)):
            case, measure, call = steps[index]
            forget_recent_queries()  # each measure embeds its question (never asked before)
            ms, _ = await timed(call)
            if case is None:
                baseline.setdefault(measure, []).append(ms)
            else:
                case.add(measure, ms)
            if measure == "retrieve":  # the same question again: its vector is kept
                case.add("retrieve_again", (await timed(call))[0])
        if (n + 1) % 10 == 0:
            log(f"  {n + 1} / {args.queries} queries")
    if profiler is not None:
        profiler.disable()
    return baseline


@dataclass
class ChatTimes:
    first: list[float] = field(default_factory=list)
    complete: list[float] = field(default_factory=list)
    retrieval_alone: list[float] = field(default_factory=list)
    answered: list[float] = field(default_factory=list)  # complete, by the provider
    answered_first: list[float] = field(default_factory=list)
    dont_know: list[float] = field(default_factory=list)  # complete, no model asked
    cited: int = 0


async def bench_chat(
    args: argparse.Namespace,
    platform: Any,
    services: CloneServices,
    owner: sdk.GroupContext,
    cases: list[Case],
    questions: list[str],
    profiler: cProfile.Profile | None,
) -> dict[str, ChatTimes]:
    """Each clone answers ``args.questions`` questions in threads of five, through
    ``Chat.ask`` + ``Chat.answer``; ``retrieve`` + ``relevant`` alone alternates with
    it."""
    limit = services.settings.retrieval_limit
    results: dict[str, ChatTimes] = {}
    log(f"chat: {args.questions} questions x {len(cases)} clones (offline provider)")
    for case in cases:
        times = results[case.name] = ChatTimes()
        thread_id = None
        for n in range(args.questions):
            question = questions[n % len(questions)]
            if n % 5 == 0:
                thread = await services.chat.start_thread(owner, case.clone_id, ThreadIn())
                thread_id = UUID(thread.id)
            assert thread_id is not None

            def alone(q: str = question, ids: list[UUID] = case.source_ids) -> Awaitable[Any]:
                return retrieve_relevant(platform, owner.scope, q, ids, limit)

            forget_recent_queries()  # a question never asked before: embedded
            if n % 2:
                times.retrieval_alone.append((await timed(alone))[0])
                forget_recent_queries()
            if profiler is not None:
                profiler.enable()
            started = time.perf_counter()
            turn = await services.chat.ask(
                owner, case.clone_id, thread_id, MessageIn(content=question)
            )
            first = None
            answer = None
            async for item in services.chat.answer(owner, turn):
                if first is None:
                    first = (time.perf_counter() - started) * 1000
                if isinstance(item, MessageView):
                    answer = item
            complete = (time.perf_counter() - started) * 1000
            if profiler is not None:
                profiler.disable()
            if not n % 2:
                forget_recent_queries()
                times.retrieval_alone.append((await timed(alone))[0])
            assert first is not None and answer is not None
            times.first.append(first)
            times.complete.append(complete)
            if turn.provider is None:
                times.dont_know.append(complete)
            else:
                times.answered.append(complete)
                times.answered_first.append(first)
                times.cited += bool(answer.citations)
            if (n + 1) % 10 == 0:
                log(f"  clone '{case.name}': {n + 1} / {args.questions} questions")
    return results


#: The SQL of ``KnowledgeStore.vector_search`` restricted to thing ids, as it reaches
#: PostgreSQL (a copy: the benchmark warns if core's has drifted from it).
VECTOR_SQL = (
    "SELECT k.id FROM knowledge k WHERE k.group_id = $1 AND k.embedding_dim = 384 "
    "AND k.embedding_model = $3 AND k.id IN (SELECT knowledge_id FROM thing_knowledge "
    "WHERE group_id = $1 AND thing_id = ANY($4::uuid[])) "
    "ORDER BY (k.embedding::vector(384)) <=> $2::vector(384) LIMIT $5"
)


async def explain(platform: Any, scope: sdk.Scope, cases: list[Case], questions: list[str]) -> None:
    """The restricted vector search under either plan PostgreSQL may use for it: a custom
    plan (made for the ids given) and the generic plan (made once for any ids), which a
    prepared statement switches to after five executions if it looks no dearer. asyncpg
    prepares every statement, so a pooled connection ends up with one or the other."""
    import inspect

    from core.knowledge.store import KnowledgeStore

    core_sql = inspect.getsource(KnowledgeStore._filters) + inspect.getsource(
        KnowledgeStore.vector_search
    )
    if "thing_id = ANY(" not in core_sql or "ORDER BY {distance}" not in core_sql:
        print("warning: core's vector_search SQL has changed; VECTOR_SQL may not match it")
    vectors = await platform.knowledge.provider.embed_queries(questions[:5])
    rows = []
    async with platform.db.system() as conn:
        await conn.execute(f"PREPARE bench_vector AS {VECTOR_SQL}")
        for case in cases:
            ids = ", ".join(f"'{i}'" for i in case.source_ids)
            for mode in ("force_custom_plan", "force_generic_plan"):
                times, shape = [], ""
                for vector in vectors:
                    call = (
                        f"EXECUTE bench_vector('{scope.group_id}', '{list(vector)}', "
                        f"'{MODEL}', ARRAY[{ids}]::uuid[], 40)"
                    )
                    async with conn.transaction():
                        await conn.execute(
                            f"SET LOCAL plan_cache_mode = {mode}; SET LOCAL hnsw.ef_search "
                            "= 100; SET LOCAL hnsw.iterative_scan = relaxed_order"
                        )
                        ms, _ = await timed(lambda call=call: conn.fetch(call))
                        if not shape:
                            plan = await conn.fetch(f"EXPLAIN (COSTS OFF) {call}")
                            shape = plan_shape([line for (line,) in plan])
                    times.append(ms)
                rows.append(
                    [
                        case.name,
                        f"{case.chunks:,}",
                        mode.split("_")[1],
                        f"{sorted(times)[len(times) // 2]:.1f}",
                        shape,
                    ]
                )
        await conn.execute("DEALLOCATE bench_vector")
    print()
    print("The clone's vector search (40 nearest among its sources) under each plan, median")
    print(f"of {len(vectors)} questions:")
    print()
    print(table(["clone", "chunks searched", "plan", "ms", "plan shape"], rows))


def plan_shape(lines: list[str]) -> str:
    """The plan's nodes, outermost first, without the row-level security sub-plans."""
    nodes = []
    for line in lines:
        text = line.strip().removeprefix("->").strip()
        if line.strip().startswith("->") or not nodes:
            if not text.startswith("Result"):
                node = text.split("  (")[0].replace("Seq Scan on", "Seq Scan")
                nodes.append(node.split(" on ")[0].replace("using ", ""))
    return " > ".join(nodes)


# -- report --------------------------------------------------------------------------------


def report(
    args: argparse.Namespace,
    cases: list[Case],
    baseline: dict[str, list[float]],
    chat: dict[str, ChatTimes],
    training_rows: list[list[Any]],
    beside: Beside,
) -> None:
    headers = ["measure", "n", "p50 ms", "p95 ms", "p99 ms", "target", "met"]
    print()
    print(
        f"Clone benchmark: {args.rows:,} chunks x {DIM}d in one group, local embedding "
        f"model ({MODEL}), offline LLM provider; {machine()}"
    )
    print(
        f"targets: retrieval p95 < {RETRIEVAL_TARGET_MS:.0f} ms, offline answer complete "
        f"p95 < {ANSWER_TARGET_MS:.0f} ms (printed, not asserted)"
    )
    print()
    print("Retrieval (limit 6, hybrid):")
    print()
    rows = [
        stats_row(
            f"baseline: knowledge.search hybrid, whole group ({args.rows:,} chunks)",
            baseline["search"],
            None,
        ),
        stats_row("baseline: embedding the query alone (e5)", baseline["embed"], None),
    ]
    for case in cases:
        share = f"{len(case.source_ids)} sources, {case.chunks:,} chunks"
        rows += [
            stats_row(
                f"clone '{case.name}' ({share}): retrieve + relevant",
                case.timings["retrieve"],
                RETRIEVAL_TARGET_MS,
            ),
            stats_row(
                "  the same question again (its vector kept)",
                case.timings["retrieve_again"],
                RETRIEVAL_TARGET_MS,
            ),
            stats_row(
                "  step alone: knowledge.search hybrid, its sources", case.timings["hybrid"], None
            ),
            stats_row("  step alone: vector leg (40, vector given)", case.timings["vector"], None),
            stats_row("  step alone: text leg (40)", case.timings["text"], None),
        ]
    print(table(headers, rows))
    print()
    print("Chat through Chat.ask + Chat.answer (as the API does), offline provider:")
    print()
    rows = []
    for case in cases:
        t = chat[case.name]
        rows += [
            stats_row(f"clone '{case.name}': first piece of the answer", t.first, None),
            stats_row(
                f"clone '{case.name}': complete answer (stored)", t.complete, ANSWER_TARGET_MS
            ),
            stats_row(
                f"  answered by the provider ({t.cited} with citations): first piece",
                t.answered_first,
                None,
            ),
            stats_row("  answered by the provider: complete", t.answered, None),
            stats_row("  'I don't know' without a model: complete", t.dont_know, None),
            stats_row("  baseline: retrieve + relevant alone", t.retrieval_alone, None),
        ]
    print(table(headers, rows))
    print()
    print("Training (core's local embedding provider):")
    print()
    print(table(["measure", "what", "time", "rate"], training_rows))
    print()
    print("A question while documents embed (the local provider's queries have a lane of")
    print("their own; before, a question waited for the batch of documents in progress):")
    print()
    print(
        table(
            headers[:5],
            [
                stats_row(
                    f"embedding a question while the {beside.chunks} chunks embed again "
                    "(one batch)",
                    beside.ingest,
                    None,
                )[:5],
                stats_row(
                    "baseline: the same questions, nothing else embedding", beside.alone, None
                )[:5],
            ],
        )
    )
    print(f"slowest question while the chunks embed: {max(beside.ingest):.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=100_000, help="chunks in the group")
    parser.add_argument(
        "--sources",
        type=int,
        default=training.MAX_SOURCES,
        help="sources of the 'subset' and 'most' clones",
    )
    parser.add_argument("--train-sources", type=int, default=24, help="corpus documents")
    parser.add_argument("--queries", type=int, default=100, help="retrieval queries")
    parser.add_argument("--questions", type=int, default=50, help="chat questions per clone")
    parser.add_argument("--pool", type=int, default=2000, help="corpus sentences embedded")
    parser.add_argument("--profile", action="store_true", help="cProfile + EXPLAIN ANALYZE")
    parser.add_argument("--profile-top", type=int, default=25)
    args = parser.parse_args()
    if not 1 <= args.train_sources <= 24:
        parser.error("--train-sources: 1 to 24 (the corpus documents)")
    if not args.train_sources < args.sources <= training.MAX_SOURCES:
        parser.error(f"--sources: more than --train-sources, at most {training.MAX_SOURCES}")
    asyncio.run(running_platform(["clone"], "creator-bench-clone-", lambda p: bench(args, p)))


if __name__ == "__main__":
    main()

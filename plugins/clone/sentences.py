"""Sentence vectors: how close each sentence of a clone's knowledge is to a question.

The offline provider quotes sentences of the retrieved passages. Chosen by the words
they share with the question, it misses the answers of paraphrases ("Can I get my money
back?" for a sentence about refunds). Also quoting the sentence closest to the question
by embedding cites the answer more often on the clone's evaluation corpus
(``tests/plugins/clone/test_retrieval_quality.py``; figures in ``docs/clone.md``).
Embedding the passages' sentences while answering would cost many times an offline
answer's whole time, so training embeds every sentence of a trained chunk
once (:func:`learn`), and an answer reads their cosines to the question with one query
(:func:`closeness`), reusing the vector its retrieval made.

They live in a table of the plugin's own, ``clone_sentence_vectors``: several vectors per
knowledge row, looked up by the rows an answer was given, which no ontology store holds
(a knowledge row per sentence would put every sentence into the clone's search, and a
thing per sentence is no entity). Rows are keyed by group first under row-level security
like any group-scoped table, and go with their chunk.

A sentence's row is its position in :func:`plugins.clone.text.split_sentences` of
its chunk; ``embedded_as`` names the embedding model, its dimension and
:data:`SPLITTER` (the splitter's version). Vectors of another model or splitter are
not read: the offline provider then answers as without them until they are embedded
again, by the next training or by the ``clone.sentences_refresh`` job, which a start of
a process queues while any are stale (:func:`schedule_refresh`; one job id per model, so
processes starting together queue it once), as core does for the chunks after a change
of embedding model.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import sdk
from plugins.clone import retrieval
from plugins.clone.providers import collect_providers
from plugins.clone.settings import load as load_settings
from plugins.clone.text import split_sentences

#: The version of ``split_sentences``: change it when the splitter cuts differently, so
#: that positions recorded by the old one are embedded again, not misread.
SPLITTER = 2

#: The job embedding again the sentences another model or splitter embedded.
REFRESH_JOB = "clone.sentences_refresh"
#: Chunks whose sentences :func:`refresh` embeds per turn.
REFRESH_BATCH = 32

log = logging.getLogger("creator.clone")

#: ``{knowledge_id: {sentence position: cosine similarity to the question}}``
Closeness = Mapping[str, Mapping[int, float]]


def embedded_as(provider: Any) -> str:
    """What ``embedded_as`` records for vectors ``provider`` makes."""
    return f"{provider.model}/{int(provider.dimension)}/s{SPLITTER}"


async def learn(
    platform: sdk.Platform,
    scope: sdk.Scope,
    chunks: Sequence[tuple[UUID, str]],
    *,
    charged: bool = True,
) -> int:
    """Embed (document side) the sentences of the ``(knowledge_id, text)`` chunks that
    are not all by the current model and splitter, replacing any older ones. Returns how
    many sentences were embedded (0 when every chunk was done already). A hosted
    embedding provider spends the group's monthly budget unless ``charged`` is false (the
    refresh after the operator changed models)."""
    if not chunks:
        return 0
    provider = platform.knowledge.provider
    kind = embedded_as(provider)
    stores = platform.ontology.scoped(scope)
    group_id = scope.group_id
    async with stores.session.reading() as conn:
        found = await conn.fetch(
            "SELECT knowledge_id FROM clone_sentence_vectors WHERE group_id = $1 "
            "AND knowledge_id = ANY($2::uuid[]) GROUP BY knowledge_id "
            "HAVING bool_and(embedded_as = $3)",
            group_id,
            [kid for kid, _ in chunks],
            kind,
        )
    done = {row["knowledge_id"] for row in found}
    todo = {kid: split_sentences(text) for kid, text in chunks if kid not in done}
    if not todo:
        return 0
    rows = [(kid, n, text) for kid, texts in todo.items() for n, text in enumerate(texts)]
    with sdk.charged_to(group_id if charged else None):
        vectors = await provider.embed([text for _, _, text in rows]) if rows else []
    async with stores.session.transaction() as conn:
        await conn.execute(
            "DELETE FROM clone_sentence_vectors "
            "WHERE group_id = $1 AND knowledge_id = ANY($2::uuid[])",
            group_id,
            list(todo),
        )
        await conn.executemany(
            "INSERT INTO clone_sentence_vectors (group_id, knowledge_id, position, embedded_as, "
            "embedding) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
            [
                (group_id, kid, n, kind, vector)
                for (kid, n, _), vector in zip(rows, vectors, strict=True)
            ],
        )
    return len(rows)


async def learn_thing(platform: sdk.Platform, scope: sdk.Scope, thing_id: UUID) -> int:
    """:func:`learn` for every chunk of ``thing_id``'s knowledge."""
    knowledge = platform.ontology.scoped(scope).knowledge
    items = await sdk.every_item(knowledge.list, thing_id=thing_id, kind="chunk")
    return await learn(platform, scope, [(item.id, item.text) for item in items])


async def closeness(
    platform: sdk.Platform, scope: sdk.Scope, question: str, knowledge_ids: Sequence[str]
) -> dict[str, dict[int, float]]:
    """The cosine similarity to ``question`` of each sentence of the chunks
    ``knowledge_ids`` that training embedded with the current model (none for others).
    The question's vector is the one :func:`retrieval.retrieve` just made (core keeps a
    group's recent query vectors), not made again."""
    query = retrieval.search_query(question)
    if not knowledge_ids or not query:
        return {}
    provider = platform.knowledge.provider
    vector = await sdk.embed_query(provider, query, group_id=scope.group_id)
    async with platform.ontology.scoped(scope).session.reading() as conn:
        rows = await conn.fetch(
            "SELECT knowledge_id, position, 1 - (embedding <=> $4) AS cosine "
            "FROM clone_sentence_vectors WHERE group_id = $1 "
            "AND knowledge_id = ANY($2::uuid[]) AND embedded_as = $3",
            scope.group_id,
            [UUID(k) for k in knowledge_ids],
            embedded_as(provider),
            vector,
        )
    found: dict[str, dict[int, float]] = {}
    for row in rows:
        found.setdefault(str(row["knowledge_id"]), {})[row["position"]] = float(row["cosine"])
    return found


async def schedule_refresh(platform: sdk.Platform) -> str | None:
    """Queue ``clone.sentences_refresh`` if any sentence vectors were made by another
    model or splitter. The job id names the current kind, so every process that starts
    queues the same job once. Returns its id, or ``None`` when nothing is stale (two
    range scans of the ``embedded_as`` index, however large the table)."""
    kind = embedded_as(platform.knowledge.provider)
    async with platform.ontology.across_groups() as conn:  # our own table, every group
        stale = await conn.fetchval(
            "SELECT EXISTS (SELECT 1 FROM clone_sentence_vectors "
            "WHERE embedded_as < $1 OR embedded_as > $1)",
            kind,
        )
    if not stale:
        return None
    job_id = f"{REFRESH_JOB}:{kind}"
    await platform.jobs.enqueue(REFRESH_JOB, kind, group_id=None, job_id=job_id)
    log.info("sentence vectors of another embedding model: refresh queued as %s", job_id)
    return job_id


@dataclass
class Refreshed:
    """What :func:`refresh` did: sentences embedded again, chunks visited, stale rows
    dropped (of chunks no sentence-reading clone learns from), and whether it finished."""

    sentences: int = 0
    chunks: int = 0
    dropped: int = 0
    finished: bool = True


def reads_sentences(
    platform: sdk.Platform, clone: sdk.Thing, providers: Mapping[str, Any] | None = None
) -> bool:
    """Whether ``clone``'s LLM provider quotes sentences by their closeness to the
    question (the offline provider): only then are sentence vectors worth making, which
    costs as much embedding as the chunks themselves (and, with a hosted embedding
    provider, as much money). A clone switched to such a provider gets them at its next
    training, its chunks kept. ``providers``: the LLM providers by name, when the caller
    has them already (else collected)."""
    name = clone.properties.get("provider") or load_settings(platform).llm_provider
    provider = (providers if providers is not None else collect_providers(platform)).get(str(name))
    return bool(getattr(provider, "reads_closeness", False))


async def _read_sources(platform: sdk.Platform, scope: sdk.Scope) -> list[UUID]:
    """The sources of the group's clones that read sentence vectors."""
    stores = platform.ontology.scoped(scope)
    providers = collect_providers(platform)
    clones = await sdk.every_item(stores.things.list, type="ai_clone")
    readers = [clone.id for clone in clones if reads_sentences(platform, clone, providers)]
    sources: set[UUID] = set()
    for start in range(0, len(readers), 50):
        links = await sdk.every_item(
            stores.connections.list, type="trained_on", from_ids=readers[start : start + 50]
        )
        sources.update(link.to_id for link in links)
    return sorted(sources)


async def refresh(
    platform: sdk.Platform,
    *,
    batch_size: int = REFRESH_BATCH,
    progress: Callable[[int], Awaitable[None]] | None = None,
    until: float | None = None,
) -> Refreshed:
    """Embed again, with the current model and splitter, the sentences of every chunk
    whose sentence vectors another one made and that a clone reading them (see
    :func:`reads_sentences`) learns from, in every group; the other stale rows are
    dropped (nobody reads them; a training makes them again when needed). ``progress``
    hears the chunks done after each batch. With ``until`` (a ``time.monotonic()``), it
    stops after the batch that passes it (so every run gets one batch done), ``finished``
    false. Each chunk is visited once
    (in key order), so a re-run picks up what is still stale."""
    kind = embedded_as(platform.knowledge.provider)
    async with platform.ontology.across_groups() as conn:  # our own table, every group
        groups = [
            row["group_id"]
            for row in await conn.fetch(
                "SELECT DISTINCT group_id FROM clone_sentence_vectors "
                "WHERE embedded_as < $1 OR embedded_as > $1",
                kind,
            )
        ]
    report = Refreshed()
    for group_id in groups:
        scope = sdk.Scope.system(group_id)
        stores = platform.ontology.scoped(scope)
        sources = await _read_sources(platform, scope)
        after = UUID(int=0)
        while True:
            async with stores.session.reading() as conn:
                stale = [
                    row["knowledge_id"]
                    for row in await conn.fetch(
                        "SELECT DISTINCT knowledge_id FROM clone_sentence_vectors "
                        "WHERE group_id = $1 AND embedded_as <> $2 AND knowledge_id > $3 "
                        "ORDER BY knowledge_id LIMIT $4",
                        group_id,
                        kind,
                        after,
                        batch_size,
                    )
                ]
            if not stale:
                break
            after = stale[-1]
            read = await stores.knowledge.get_many(stale, of_things=sources)
            unread = sorted(set(stale) - {item.id for item in read})
            if unread:  # chunks no sentence-reading clone learns from (or gone)
                async with stores.session.transaction() as conn:
                    dropped = await conn.fetchval(
                        "WITH gone AS (DELETE FROM clone_sentence_vectors WHERE group_id = $1 "
                        "AND knowledge_id = ANY($2::uuid[]) AND embedded_as <> $3 RETURNING 1) "
                        "SELECT count(*) FROM gone",
                        group_id,
                        unread,
                        kind,
                    )
                report.dropped += int(dropped)
            report.sentences += await learn(
                platform, scope, [(item.id, item.text) for item in read], charged=False
            )
            report.chunks += len(read)
            if progress is not None:
                await progress(report.chunks)
            if until is not None and time.monotonic() > until:  # after a batch at least
                report.finished = False
                return report
    log.info(
        "sentence vectors refreshed: %d sentences of %d chunks, %d stale rows dropped",
        report.sentences,
        report.chunks,
        report.dropped,
    )
    return report


#: Share of ``job_timeout_seconds`` one run of the job works before handing on.
REFRESH_SHARE = 0.8


async def refresh_job(
    ctx: dict[str, Any], kind: str | None = None, chain: str | None = None, part: int = 1
) -> dict[str, Any]:
    """The ``clone.sentences_refresh`` job (every group), its progress in chunks. It
    works for most of the job timeout, then queues its next part (an id of its own chain,
    so no result an earlier chain left behind is mistaken for it) and ends: a knowledge
    base of any size is refreshed in parts, none of them cut off by the timeout. A worker
    embedding with another model than ``kind`` (during a change of model) does nothing."""
    platform: sdk.Platform = ctx["platform"]
    current = embedded_as(platform.knowledge.provider)
    if kind is not None and kind != current:
        return {"skipped": f"this worker embeds as {current}, not {kind}"}
    report_progress = ctx.get("progress")

    async def progress(done: int) -> None:
        if report_progress is not None:
            await report_progress(done)

    until = time.monotonic() + REFRESH_SHARE * platform.settings.job_timeout_seconds
    report = await refresh(platform, batch_size=REFRESH_BATCH, progress=progress, until=until)
    result: dict[str, Any] = {
        "sentences": report.sentences,
        "chunks": report.chunks,
        "dropped": report.dropped,
    }
    if not report.finished:
        chain = chain or secrets.token_hex(6)
        result["next"] = await platform.jobs.enqueue(
            REFRESH_JOB,
            current,
            chain,
            part + 1,
            group_id=None,
            job_id=f"{REFRESH_JOB}:{current}:{chain}:{part + 1}",
        )
    return result

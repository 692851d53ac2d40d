"""``platform.knowledge``: ingest, search and re-embedding with the configured provider.

    result = await platform.knowledge.ingest(scope, text, thing_id=..., labels=["faq"])
    hits = await platform.knowledge.search(scope, "refund policy", mode="hybrid")
    report = await platform.knowledge.reembed(progress=print)

The provider is the one the ``embedding_provider`` setting names (default ``local``).
Chunk sizes come from ``chunk_tokens`` / ``chunk_overlap``. Permissions are the caller's
business (the API checks ``knowledge.read`` / ``knowledge.write``), as with the stores.
"""

from __future__ import annotations

import inspect
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any
from uuid import UUID

import msgspec

from core.jobs import JobRegistry
from core.knowledge import ingest as _ingest
from core.knowledge import search as _search
from core.knowledge.chunking import Chunker
from core.knowledge.indexes import ensure_hnsw_index
from core.knowledge.providers import EmbeddingProvider, TokenCounter
from core.knowledge.registry import Embedders, EmbeddingProviderError
from core.knowledge.store import STALE_EXISTS_SQL, KnowledgeStore, stale_groups
from core.ontology.scope import Scope
from core.ontology.stores import Ontology

log = logging.getLogger("creator.knowledge")

REEMBED_BATCH = 64


class ReembedProgress(msgspec.Struct):
    """Where a re-embed run is: rows done of the total, in which group."""

    model: str
    dimension: int
    done: int
    total: int
    group_id: UUID | None = None


class ReembedReport(msgspec.Struct):
    model: str
    dimension: int
    groups: int
    reembedded: int
    seconds: float


Progress = Callable[[ReembedProgress], Awaitable[None] | None]


class KnowledgeService:
    def __init__(self, ontology: Ontology, embedders: Embedders, settings: Any) -> None:
        self.ontology = ontology
        self.embedders = embedders
        self.settings = settings
        self.provider: EmbeddingProvider = embedders.select(settings.embedding_provider)
        try:
            self.chunker = Chunker(
                settings.chunk_tokens,
                settings.chunk_overlap,
                self.provider.count_tokens if isinstance(self.provider, TokenCounter) else None,
            )
        except ValueError as exc:
            raise EmbeddingProviderError(f"invalid chunk settings: {exc}") from None

    def store(self, scope: Scope) -> KnowledgeStore:
        return KnowledgeStore(self.ontology.scoped(scope))

    async def ensure_index(self, dim: int | None = None) -> bool:
        """The partial HNSW index for ``dim`` (default: the provider's), built if missing."""
        return await ensure_hnsw_index(self.ontology.db, dim or self.provider.dimension)

    async def ingest(
        self,
        scope: Scope,
        text: str,
        *,
        thing_id: UUID | None = None,
        labels: Sequence[str] = (),
        metadata: Mapping[str, Any] | None = None,
    ) -> _ingest.IngestResult:
        """Chunk, embed and store ``text`` (replacing ``thing_id``'s earlier chunks)."""
        await self.ensure_index()
        return await _ingest.ingest(
            self.store(scope),
            self.provider,
            self.chunker,
            text,
            thing_id=thing_id,
            labels=labels,
            metadata=metadata,
        )

    async def search(
        self,
        scope: Scope,
        query: str,
        *,
        mode: str = "hybrid",
        limit: int = _search.DEFAULT_LIMIT,
        thing_ids: Sequence[UUID] = (),
        labels: Sequence[str] = (),
    ) -> list[_search.SearchHit]:
        return await _search.search(
            self.store(scope),
            self.provider,
            query,
            mode=mode,
            limit=limit,
            thing_ids=thing_ids,
            labels=labels,
        )

    async def schedule_reembed(self, jobs: JobRegistry) -> str | None:
        """Queue ``knowledge.reembed`` for every group if any knowledge was embedded by
        another model (or never embedded); the job id names the model, so every process
        that starts after a model change queues the same job once. Returns the job id."""
        model, dim = self.provider.model, self.provider.dimension
        async with self.ontology.db.system() as conn:  # a cross-group existence check
            stale = await conn.fetchval(STALE_EXISTS_SQL, model, dim)
        if not stale:
            return None
        job_id = f"knowledge.reembed:{model}:{dim}"
        await jobs.enqueue("knowledge.reembed", group_id=None, job_id=job_id)
        log.info("knowledge embedded by another model: re-embedding queued as %s", job_id)
        return job_id

    async def reembed(
        self,
        *,
        group_id: UUID | None = None,
        batch_size: int = REEMBED_BATCH,
        progress: Progress | None = None,
    ) -> ReembedReport:
        """Embed again, with the current provider, every row another model (or dimension)
        embedded and every chunk never embedded, in ``group_id`` or in every group.
        ``progress`` (sync or async) hears after each batch. Idempotent: a row done is no
        longer stale, so a re-run (or a retried job) picks up where this one stopped."""
        started = time.perf_counter()
        provider = self.provider
        model, dim = provider.model, provider.dimension
        await self.ensure_index(dim)
        if group_id is not None:
            groups = [group_id]
        else:
            async with self.ontology.db.system() as conn:  # which groups: a cross-group read
                groups = await stale_groups(conn, model, dim)
        stores = [self.store(Scope.system(g)) for g in groups]
        totals = [await store.count_stale(model, dim) for store in stores]
        total, done = sum(totals), 0

        async def report(current: UUID | None) -> None:
            if progress is not None:
                result = progress(ReembedProgress(model, dim, done, total, current))
                if inspect.isawaitable(result):
                    await result

        await report(None)
        for store in stores:
            after: UUID | None = None
            while True:
                batch = await store.stale_batch(model, dim, batch_size, after)
                if not batch:
                    break
                after = batch[-1][0]
                vectors = await _ingest.embed_documents(provider, [text for _, text in batch])
                await store.set_embeddings(
                    [(kid, vec) for (kid, _), vec in zip(batch, vectors, strict=True)],
                    model=model,
                )
                done += len(batch)
                await report(store.group_id)
        seconds = time.perf_counter() - started
        log.info(
            "re-embedded %d rows in %d groups with %s in %.1f s", done, len(groups), model, seconds
        )
        return ReembedReport(model, dim, len(groups), done, seconds)

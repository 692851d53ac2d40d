"""Search a group's knowledge: ``vector`` (HNSW, cosine), ``fulltext`` (``tsvector``) or
``hybrid`` (both, fused by reciprocal rank).

* **vector** embeds the query (``embed_queries`` when the provider distinguishes queries)
  and ranks by cosine similarity among rows the same model embedded, through the partial
  HNSW index of the provider's dimension. ``hnsw.ef_search`` is ``max(100, 2 * limit)``
  (capped at 1,000), and ``hnsw.iterative_scan = relaxed_order`` (pgvector 0.8) keeps
  scanning the graph until enough rows pass the group/thing/label filters, so a small
  group inside a large table still gets its ``limit`` results. Score: cosine similarity.
* **fulltext** matches ``websearch_to_tsquery('english', q)`` (quotes, ``or``, ``-word``)
  against the generated ``tsv`` column (GIN index), ranked by ``ts_rank_cd``.
* **hybrid** takes the top ``max(4 * limit, 40)`` of each and fuses them with reciprocal-
  rank fusion, ``score = Σ 1 / (60 + rank)``; a row found by both ranks first.

Every query is filtered by the scope's group, and optionally by thing ids (any of them) and
labels (all of them).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal
from uuid import UUID

import msgspec

from core.errors import ValidationFailed
from core.knowledge.providers import EmbeddingProvider, QueryEmbedder
from core.knowledge.store import Hit, KnowledgeStore

Mode = Literal["hybrid", "vector", "fulltext"]
MODES: tuple[str, ...] = ("hybrid", "vector", "fulltext")
RRF_K = 60
MAX_LIMIT = 100
DEFAULT_LIMIT = 10
MAX_QUERY_LENGTH = 2000


class SearchHit(msgspec.Struct):
    """One result: its score (meaning depends on the mode) and its source."""

    score: float
    knowledge_id: UUID
    thing_id: UUID | None
    text: str
    metadata: dict[str, Any]


def ef_search_for(limit: int) -> int:
    return min(1000, max(100, 2 * limit))


def check_search(query: str, mode: str, limit: int) -> None:
    if not isinstance(query, str) or not query.strip():
        raise ValidationFailed("the query must not be empty", field="q")
    if len(query) > MAX_QUERY_LENGTH:
        raise ValidationFailed(f"the query is longer than {MAX_QUERY_LENGTH} characters", field="q")
    if mode not in MODES:
        raise ValidationFailed(f"mode must be one of {', '.join(MODES)}", field="mode")
    if not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise ValidationFailed(f"limit must be between 1 and {MAX_LIMIT}", field="limit")


async def embed_query(provider: EmbeddingProvider, query: str) -> list[float]:
    if isinstance(provider, QueryEmbedder):
        vectors = await provider.embed_queries([query])
    else:
        vectors = await provider.embed([query])
    vector = [float(x) for x in vectors[0]]
    if len(vector) != provider.dimension:
        raise RuntimeError(f"embedding provider {provider.name!r} returned a wrong dimension")
    return vector


def _hits(hits: Sequence[Hit]) -> list[SearchHit]:
    return [SearchHit(h.score, h.id, h.thing_id, h.text, h.metadata) for h in hits]


def fuse(rankings: Sequence[Sequence[Hit]], limit: int, k: int = RRF_K) -> list[SearchHit]:
    """Reciprocal-rank fusion of ranked lists (ties: the better best rank first)."""
    scores: dict[UUID, float] = {}
    best: dict[UUID, int] = {}
    first: dict[UUID, Hit] = {}
    for ranking in rankings:
        for rank, hit in enumerate(ranking, start=1):
            scores[hit.id] = scores.get(hit.id, 0.0) + 1.0 / (k + rank)
            best[hit.id] = min(best.get(hit.id, rank), rank)
            first.setdefault(hit.id, hit)
    order = sorted(scores, key=lambda kid: (-scores[kid], best[kid]))[:limit]
    return [
        SearchHit(scores[kid], kid, first[kid].thing_id, first[kid].text, first[kid].metadata)
        for kid in order
    ]


async def search(
    store: KnowledgeStore,
    provider: EmbeddingProvider,
    query: str,
    *,
    mode: str = "hybrid",
    limit: int = DEFAULT_LIMIT,
    thing_ids: Sequence[UUID] = (),
    labels: Sequence[str] = (),
) -> list[SearchHit]:
    check_search(query, mode, limit)
    filters: dict[str, Any] = {"thing_ids": list(thing_ids), "labels": list(labels)}
    if mode == "fulltext":
        return _hits(await store.fulltext_search(query, limit=limit, **filters))
    vector = await embed_query(provider, query)
    if mode == "vector":
        hits = await store.vector_search(
            vector,
            model=provider.model,
            dim=provider.dimension,
            limit=limit,
            ef_search=ef_search_for(limit),
            **filters,
        )
        return _hits(hits)
    depth = max(4 * limit, 40)
    by_vector = await store.vector_search(
        vector,
        model=provider.model,
        dim=provider.dimension,
        limit=depth,
        ef_search=ef_search_for(depth),
        **filters,
    )
    by_text = await store.fulltext_search(query, limit=depth, **filters)
    return fuse([by_vector, by_text], limit)

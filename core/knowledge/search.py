"""Search a group's knowledge: ``vector`` (HNSW, cosine), ``fulltext`` (``tsvector``) or
``hybrid`` (both, combined).

* **vector** embeds the query (``embed_queries`` when the provider distinguishes queries)
  and ranks by cosine similarity among rows the same model embedded, through the partial
  HNSW index of the provider's dimension. ``hnsw.ef_search`` is ``max(100, 2 * limit)``
  (capped at 1,000), and ``hnsw.iterative_scan = relaxed_order`` (pgvector 0.8) keeps
  scanning the graph until enough rows pass the group/thing/label filters, so a small
  group inside a large table still gets its ``limit`` results. Score: cosine similarity.
* **fulltext** ranks a query in plain words (a visitor's question) by the words it shares
  with a chunk, the rarer weighing more (:func:`text_search`): how common each word is
  comes from a sample of the group's chunks (``ts_stat`` would read them all), and in a
  large group only its rare words are matched, through the GIN index, so the cost stays
  bounded. A query using search syntax (a quoted phrase, ``-word``), or made only of
  common words, is matched by ``websearch_to_tsquery('english', q)`` (every word), ranked
  by ``ts_rank_cd``: at most ``MAX_SCANNED`` (500) of its matches, since common words can
  match thousands of a large group's chunks and ranking reads each match's row (figures:
  ``docs/knowledge.md``).
* **hybrid** takes the top ``max(4 * limit, 40)`` of each and adds, per row, its cosine
  scaled to 0..1 over the vector results and ``TEXT_WEIGHT`` (0.3) times its text score
  over the best text score (:func:`combine`). The text leg runs while the query is
  embedded.

Hybrid finds the answer passage more often than either leg alone, and ranks it higher
than reciprocal-rank fusion of the same two lists, on the clone's evaluation corpus
(``tests/plugins/clone/test_retrieval_quality.py``; the text weight was chosen on half of
the questions and held on the other). The figures are in ``docs/knowledge.md``; over
100,000 chunks, ``benchmarks/knowledge_search.py``.

Every query is filtered by the scope's group, and optionally by thing ids (any of them) and
labels (all of them).

Embedding the query is most of a search's time with the local model, and a group's
visitors ask the same questions again ("what does it cost?"), so each process keeps the
vectors of its ``RECENT_QUERIES`` most recent queries, in one least-recently-used store
keyed by group: one group's query never reuses another's vector, so a fast answer never
tells one group what another's visitors asked. (What a cache shares anyway: within a
group, a question asked recently answers faster; and a busy group pushes others' vectors
out sooner.)
"""

from __future__ import annotations

import array
import asyncio
import contextlib
import contextvars
import math
import re
import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from typing import Any, Literal, get_args
from uuid import UUID

import msgspec

from core.errors import ValidationFailed
from core.knowledge.providers import EmbeddingProvider, QueryEmbedder
from core.knowledge.store import Hit, KnowledgeStore
from core.metrics import QUERY_VECTORS
from core.usage import charged_to

Mode = Literal["hybrid", "vector", "fulltext"]
MODES: tuple[str, ...] = get_args(Mode)
#: Weight of the text ranking beside the vector ranking's 1 in hybrid search (see
#: :func:`combine`).
TEXT_WEIGHT = 0.3
MAX_LIMIT = 100
DEFAULT_LIMIT = 10
MAX_QUERY_LENGTH = 2000


class SearchHit(msgspec.Struct):
    """One result: its score (meaning depends on the mode) and its source. ``similarity``
    is its cosine similarity to the query when the search compared vectors and found it
    among the nearest (``None`` otherwise): unlike a hybrid score, which is scaled within
    one result list, it means the same from one query to the next."""

    score: float
    knowledge_id: UUID
    thing_id: UUID | None
    text: str
    metadata: dict[str, Any]
    similarity: float | None = None


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


#: Query vectors kept per process (a few MB: 384 doubles each with the local model).
RECENT_QUERIES = 2048

#: (group, provider, model, dimension, query): the key of a query's vector.
_Key = tuple[UUID | None, str, str, int, str]


class _RecentVectors:
    """The vectors of the most recent queries, least recently used first out."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[_Key, array.array[float]] = OrderedDict()
        self._lock = threading.Lock()  # event loops of several threads may share it

    def get(self, key: _Key) -> list[float] | None:
        with self._lock:
            vector = self._items.get(key)
            if vector is None:
                return None
            self._items.move_to_end(key)
        return vector.tolist()

    def put(self, key: _Key, vector: Sequence[float]) -> None:
        with self._lock:
            self._items[key] = array.array("d", vector)
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


_recent = _RecentVectors(RECENT_QUERIES)


def forget_recent_queries() -> None:
    """Drop every kept query vector (benchmarks measuring a question never asked before)."""
    _recent.clear()


#: Query vectors made inside :func:`reusing_query_vectors` (``None`` outside).
_reused: contextvars.ContextVar[dict[_Key, list[float]] | None]
_reused = contextvars.ContextVar("knowledge_reused_query_vectors", default=None)


@contextlib.contextmanager
def reusing_query_vectors() -> Iterator[None]:
    """Within the block (and the tasks it starts), a query is embedded once however many
    searches ask it, even with no group to keep it for (see :func:`embed_query`)."""
    token = _reused.set({})
    try:
        yield
    finally:
        _reused.reset(token)


async def embed_query(
    provider: EmbeddingProvider, query: str, *, group_id: UUID | None = None
) -> list[float]:
    """``query``'s vector (``embed_queries`` when the provider distinguishes queries): one
    of ``group_id``'s recent queries is not embedded again (nor, inside
    :func:`reusing_query_vectors`, one already embedded in the block)."""
    key: _Key = (group_id, str(provider.name), str(provider.model), int(provider.dimension), query)
    reused = _reused.get()
    if reused is not None and key in reused:
        QUERY_VECTORS.labels("recent").inc()
        return list(reused[key])
    if group_id is not None:
        kept = _recent.get(key)
        if kept is not None:
            QUERY_VECTORS.labels("recent").inc()
            return kept
    with charged_to(group_id) if group_id is not None else contextlib.nullcontext():
        if isinstance(provider, QueryEmbedder):
            vectors = await provider.embed_queries([query])
        else:
            vectors = await provider.embed([query])
    vector = [float(x) for x in vectors[0]]
    if len(vector) != provider.dimension:
        raise RuntimeError(f"embedding provider {provider.name!r} returned a wrong dimension")
    QUERY_VECTORS.labels("embedded").inc()
    if reused is not None:
        reused[key] = vector
    if group_id is not None:
        _recent.put(key, vector)
    return list(vector)


def _hits(hits: Sequence[Hit], *, cosine: bool = False) -> list[SearchHit]:
    return [
        SearchHit(h.score, h.id, h.thing_id, h.text, h.metadata, h.score if cosine else None)
        for h in hits
    ]


def combine(
    by_vector: Sequence[Hit],
    by_text: Sequence[Hit],
    limit: int,
    text_weight: float = TEXT_WEIGHT,
) -> list[SearchHit]:
    """Hybrid ranking: each row's cosine, scaled to 0..1 over the vector results (their
    lowest 0, their highest 1), plus ``text_weight`` times its text score divided by the
    best text score; a row one list lacks gets 0 for it. Ties: the better cosine first."""
    cosines = {hit.id: hit.score for hit in by_vector}
    low, high = min(cosines.values(), default=0.0), max(cosines.values(), default=0.0)
    spread = high - low
    top_text = max((hit.score for hit in by_text), default=0.0)
    scores: dict[UUID, float] = {}
    first: dict[UUID, Hit] = {}
    for hit in by_vector:
        scores[hit.id] = (hit.score - low) / spread if spread > 0 else 1.0
        first[hit.id] = hit
    if top_text > 0:
        for hit in by_text:
            scores[hit.id] = scores.get(hit.id, 0.0) + text_weight * hit.score / top_text
            first.setdefault(hit.id, hit)
    order = sorted(scores, key=lambda kid: (-scores[kid], -cosines.get(kid, -2.0)))[:limit]
    return [
        SearchHit(
            scores[kid],
            kid,
            first[kid].thing_id,
            first[kid].text,
            first[kid].metadata,
            cosines.get(kid),
        )
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
        return _hits(await text_search(store, query, limit=limit, **filters))
    if mode == "vector":
        vector = await embed_query(provider, query, group_id=store.group_id)
        hits = await store.vector_search(
            vector,
            model=provider.model,
            dim=provider.dimension,
            limit=limit,
            ef_search=ef_search_for(limit),
            **filters,
        )
        return _hits(hits, cosine=True)
    depth = max(4 * limit, 40)

    async def vector_leg() -> list[Hit]:
        vector = await embed_query(provider, query, group_id=store.group_id)
        return await store.vector_search(
            vector,
            model=provider.model,
            dim=provider.dimension,
            limit=depth,
            ef_search=ef_search_for(depth),
            **filters,
        )

    # The legs run at once, each in a task of its own: the text leg while the query is
    # embedded, and beside the vector leg when the vector is known already. A task never
    # joins another's transaction (see Session), so each reads on a pooled connection.
    async with asyncio.TaskGroup() as tasks:
        by_text_task = tasks.create_task(text_search(store, query, limit=depth, **filters))
        by_vector_task = tasks.create_task(vector_leg())
    return combine(by_vector_task.result(), by_text_task.result(), limit)


# -- full text -----------------------------------------------------------------------------

#: Chunks sampled (the group's most recent) to estimate how common each query word is.
TEXT_SAMPLE = 200
#: In a group larger than the sample, the chosen words' summed share of the sampled chunks
#: at most, so that about this share of the group's chunks gets scored.
LARGE_GROUP_SHARE = 0.01
#: Most words counted in the sample (the longest: a long query's rarest, most likely), most
#: words matched, and most matching chunks scored (per word; all words' when every word
#: must match): bounds on the cost.
MAX_COUNTED = 24
MAX_WORDS = 8
MAX_SCANNED = 500
#: The search syntax ``websearch_to_tsquery`` understands: a quoted phrase, ``-word``.
_SEARCH_SYNTAX = re.compile(r'"|(?:^|\s)-\w')


def choose_words(counts: dict[str, int], sampled: int) -> dict[str, float]:
    """The query's words worth matching, with their weights (an IDF, ``ln(1 + n / (c +
    0.5))``), from :meth:`KnowledgeStore.lexeme_sample`'s ``counts`` among ``sampled``
    chunks, the rarest first (at most ``MAX_WORDS``). When the sample is the whole group,
    every word it contains; in a larger group, only while the words' summed share of the
    sample stays within ``LARGE_GROUP_SHARE``: a word found in a tenth of 100,000 chunks
    would cost more to rank than it tells."""
    if sampled <= 0:
        return {}
    whole = sampled < TEXT_SAMPLE
    chosen: dict[str, float] = {}
    spent = 0
    for count, word in sorted((c, w) for w, c in counts.items()):
        if len(chosen) == MAX_WORDS:
            break
        if whole and count == 0:
            continue  # not in the group at all
        if not whole and spent + count > LARGE_GROUP_SHARE * sampled:
            break
        spent += count
        chosen[word] = math.log(1 + sampled / (count + 0.5))
    return chosen


async def text_search(
    store: KnowledgeStore,
    query: str,
    *,
    limit: int,
    thing_ids: Sequence[UUID] = (),
    labels: Sequence[str] = (),
) -> list[Hit]:
    """Full-text ranking for a question in plain words: chunks with any of its informative
    words (see :func:`choose_words`), the rarer words weighing more. A query using search
    syntax (a quoted phrase, ``-word``), or whose every word is common, is matched with
    ``websearch_to_tsquery`` (every word) instead, at most ``MAX_SCANNED`` matches ranked."""
    filters: dict[str, Any] = {"thing_ids": thing_ids, "labels": labels}
    if not _SEARCH_SYNTAX.search(query):
        sampled, counts = await store.lexeme_sample(query, sample=TEXT_SAMPLE, words=MAX_COUNTED)
        weights = choose_words(counts, sampled)
        if weights:
            return await store.lexeme_search(weights, limit=limit, scan=MAX_SCANNED, **filters)
    return await store.fulltext_search(query, limit=limit, scan=MAX_SCANNED, **filters)

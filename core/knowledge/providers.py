"""Embedding providers: the contract (``register_embedding_providers`` returns these)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable


@runtime_checkable
class EmbeddingProvider(Protocol):
    """Turns texts into vectors. ``model`` and ``dimension`` are stored with every vector,
    so a change of model is detectable and triggers re-embedding."""

    name: str
    model: str
    dimension: int

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One vector of ``dimension`` floats per text, in order."""
        ...

"""Embedding providers: the contract (``register_embedding_providers`` returns these)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable


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


# -- optional capabilities a provider may also have (checked with isinstance) ---------------


@runtime_checkable
class QueryEmbedder(Protocol):
    """A provider whose model embeds search queries differently from documents (e5's
    ``query:`` / ``passage:`` prefixes). Search uses ``embed_queries`` when present;
    ``embed`` is always the document side."""

    async def embed_queries(self, texts: Sequence[str]) -> list[list[float]]: ...


@runtime_checkable
class TokenCounter(Protocol):
    """A provider that can count its model's tokens; chunk sizes are then measured in them
    (otherwise in the approximation of :mod:`core.knowledge.chunking`)."""

    def count_tokens(self, text: str) -> int:
        """Tokens of ``text`` alone, without the model's special tokens."""
        ...


@runtime_checkable
class Configurable(Protocol):
    """A provider that reads deployment settings: ``configure(settings)`` is called once,
    when the platform loads, before any other use."""

    def configure(self, settings: Any) -> None: ...


@runtime_checkable
class Metered(Protocol):
    """A provider that spends money per call (a hosted API): the platform hands it
    ``platform.usage`` (:class:`core.usage.Usage`) once, and it meters each call against
    the budget of the group :func:`core.usage.charged_group` names."""

    def meter_with(self, usage: Any) -> None: ...

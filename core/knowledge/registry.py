"""The embedding providers plugins register, by name, and the one the settings choose."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from core.knowledge.chunking import Chunker
from core.knowledge.providers import Configurable, EmbeddingProvider
from core.plugins import PluginError

if TYPE_CHECKING:
    from core.plugins import Collected, PluginManager


class EmbeddingProviderError(PluginError):
    """Two plugins register one provider name, a provider is malformed, or the
    ``embedding_provider`` setting names none that is registered."""


def _refuse_non_provider(plugin: str, provider: object) -> None:
    if not isinstance(provider, EmbeddingProvider):
        raise EmbeddingProviderError(
            f"plugin {plugin!r}: register_embedding_providers returned {provider!r}, which "
            "lacks name, model, dimension or an async embed(texts)"
        )


class Embedders(Mapping[str, EmbeddingProvider]):
    """``name → provider`` over every enabled plugin; ``owner(name)`` is who registered it."""

    def __init__(self, plugins: PluginManager) -> None:
        self._providers: Collected[EmbeddingProvider] = plugins.collect_unique(
            "register_embedding_providers",
            key=lambda provider: provider.name,
            what="embedding provider",
            error=EmbeddingProviderError,
            check=_refuse_non_provider,
        )

    def owner(self, name: str) -> str:
        return self._providers.owner(name)

    def __getitem__(self, name: str) -> EmbeddingProvider:
        return self._providers[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._providers)

    def __len__(self) -> int:
        return len(self._providers)

    def select(self, name: str) -> EmbeddingProvider:
        """The provider the ``embedding_provider`` setting names, checked usable."""
        provider = self._providers.get(name)
        if provider is None:
            known = ", ".join(sorted(self._providers)) or "none"
            raise EmbeddingProviderError(
                f"setting 'embedding_provider' is {name!r}, which no enabled plugin registers "
                f"(registered: {known})"
            )
        check = getattr(provider, "check", None)
        if callable(check):
            try:
                check()
            except ValueError as exc:
                raise EmbeddingProviderError(f"embedding provider {name!r}: {exc}") from None
        if not isinstance(provider.dimension, int) or provider.dimension < 1:
            raise EmbeddingProviderError(
                f"embedding provider {name!r} has no valid dimension ({provider.dimension!r})"
            )
        return provider


def collect_embedders(plugins: PluginManager, settings: Any) -> Embedders:
    """Every plugin's providers, configured with ``settings``; the chosen one is checked."""
    embedders = Embedders(plugins)
    for provider in embedders.values():
        if isinstance(provider, Configurable):
            provider.configure(settings)
    embedders.select(settings.embedding_provider)
    try:
        Chunker(settings.chunk_tokens, settings.chunk_overlap)
    except ValueError as exc:
        raise EmbeddingProviderError(f"invalid knowledge settings: {exc}") from None
    return embedders

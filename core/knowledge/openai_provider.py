"""``openai``: embeddings from any OpenAI-compatible API through the ``openai`` SDK.

Settings: ``openai_base_url`` (unset: the SDK's default, api.openai.com), ``openai_api_key``
(unset: ``$OPENAI_API_KEY``), ``openai_embedding_model`` and ``openai_embedding_dimensions``
(sent as ``dimensions`` when set; it is also the dimension recorded with the vectors).
Texts go in batches of ``batch_size`` per request; failed requests (connection errors,
408/409/429/5xx) are retried by the SDK itself (``max_retries``, exponential back-off,
honouring ``Retry-After``).

A hosted call costs money: each batch is metered (``embedding_tokens``) against the
budget of the group the call is charged to (:func:`core.usage.charged_to`), refused with
``budget_exhausted`` before it is sent once that organisation's month is spent, and
counted with the ``usage`` the API reports (else an estimate).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from core.metrics import EMBEDDINGS
from core.usage import Usage, charged_group, estimate_tokens

DEFAULT_MODEL = "text-embedding-3-small"
#: Native dimensions of OpenAI's models; any other model needs ``openai_embedding_dimensions``.
KNOWN_DIMENSIONS = {
    "text-embedding-3-small": 1536,
    "text-embedding-3-large": 3072,
    "text-embedding-ada-002": 1536,
}
#: OpenAI accepts up to 2048 inputs per request; smaller batches keep each request quick.
BATCH_SIZE = 128
MAX_RETRIES = 3


class OpenAIEmbeddingProvider:
    """Embeddings from an OpenAI-compatible ``POST /embeddings``."""

    def __init__(
        self,
        name: str = "openai",
        *,
        model: str = DEFAULT_MODEL,
        dimensions: int | None = None,
        base_url: str | None = None,
        api_key: str | None = None,
        batch_size: int = BATCH_SIZE,
        max_retries: int = MAX_RETRIES,
        timeout: float = 60.0,
    ) -> None:
        self.name = name
        self.batch_size = batch_size
        self.max_retries = max_retries
        self.timeout = timeout
        self._client: Any = None
        self._usage: Usage | None = None
        self._set(model, dimensions, base_url, api_key)

    def meter_with(self, usage: Usage) -> None:
        """Meter calls with ``platform.usage`` (called by the platform when it loads)."""
        self._usage = usage

    def _set(
        self, model: str, dimensions: int | None, base_url: str | None, api_key: str | None
    ) -> None:
        self.model = model
        self.dimensions = dimensions
        self.dimension = dimensions or KNOWN_DIMENSIONS.get(model, 0)
        self.base_url = base_url
        self.api_key = api_key
        self._client = None

    def configure(self, settings: Any) -> None:
        """Read the ``openai_*`` settings (called by the platform when it loads)."""
        self._set(
            settings.openai_embedding_model,
            settings.openai_embedding_dimensions,
            settings.openai_base_url,
            settings.openai_api_key,
        )

    def check(self) -> None:
        """Refuse a configuration that cannot work, naming the setting to fix."""
        if self.dimension <= 0:
            raise ValueError(
                f"the dimension of embedding model {self.model!r} is not known: "
                "set openai_embedding_dimensions"
            )

    @property
    def client(self) -> Any:
        """The ``AsyncOpenAI`` client, made on first use."""
        if self._client is None:
            from openai import AsyncOpenAI

            key = self.api_key or os.environ.get("OPENAI_API_KEY")
            if not key:
                if self.base_url is None:
                    raise ValueError(
                        "the openai embedding provider needs an API key: set openai_api_key"
                    )
                key = "unused"  # a self-hosted OpenAI-compatible server may not check it
            self._client = AsyncOpenAI(
                api_key=key,
                base_url=self.base_url,
                max_retries=self.max_retries,
                timeout=self.timeout,
            )
        return self._client

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        self.check()
        vectors: list[list[float]] = []
        for start in range(0, len(texts), self.batch_size):
            batch = list(texts[start : start + self.batch_size])
            kwargs: dict[str, Any] = {"model": self.model, "input": batch}
            if self.dimensions:
                kwargs["dimensions"] = self.dimensions
            response = await self._create(kwargs, batch)
            data = sorted(response.data, key=lambda item: item.index)
            if len(data) != len(batch):
                raise ValueError(
                    f"the embeddings API returned {len(data)} vectors for {len(batch)} texts"
                )
            for item in data:
                vector = [float(x) for x in item.embedding]
                if len(vector) != self.dimension:
                    raise ValueError(
                        f"model {self.model!r} returned {len(vector)} dimensions, "
                        f"expected {self.dimension} (openai_embedding_dimensions)"
                    )
                vectors.append(vector)
        EMBEDDINGS.labels(self.name).inc(len(texts))
        return vectors

    async def _create(self, kwargs: dict[str, Any], batch: list[str]) -> Any:
        group_id = charged_group()
        if self._usage is None or group_id is None:
            return await self.client.embeddings.create(**kwargs)
        estimate = sum(estimate_tokens(text) for text in batch)
        async with self._usage.metered(
            group_id, "embedding_tokens", estimate=estimate, provider=self.name, model=self.model
        ) as meter:
            response = await self.client.embeddings.create(**kwargs)
            reported = getattr(getattr(response, "usage", None), "total_tokens", None)
            if isinstance(reported, int):
                meter.used = reported
        return response

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None

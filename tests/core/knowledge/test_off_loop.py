"""Ingest's CPU work (chunking, counting tokens, hashing) runs off the event loop, in
``core.cpu``'s pool: a probe on the loop keeps waking on time while the largest text the
API accepts, made of the review's pathological one-word paragraphs, is ingested through
the real route with the local model's tokenizer counting."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import pytest_asyncio

from core.api.knowledge import MAX_TEXT_LENGTH
from core.knowledge.local import LocalEmbeddingProvider
from sdk import hookimpl
from sdk.testing import CreatorPlatform, PlatformFactory

PLUGIN = "offloopknowledge"


class CountingOnlyProvider:
    """Counts tokens with the local model's tokenizer (so chunks are measured exactly, the
    review's slow case) but embeds for free, so the test measures chunking alone."""

    name = "counting"
    model = "counting-v1"
    dimension = 8

    def __init__(self) -> None:
        self.tokenizer = LocalEmbeddingProvider()

    def count_tokens(self, text: str) -> int:
        return self.tokenizer.count_tokens(text)

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        return [[1.0] + [0.0] * 7 for _ in texts]

    async def embed_queries(self, texts: Sequence[str]) -> list[list[float]]:
        return await self.embed(texts)


class ProviderPlugin:
    @hookimpl
    def register_embedding_providers(self) -> list[Any]:
        return [CountingOnlyProvider()]


@asynccontextmanager
async def loop_probe() -> AsyncIterator[list[float]]:
    """Yields a list that ends up holding the longest the loop was late to wake a task
    sleeping 10 ms at a time, measured while the block ran."""
    worst = [0.0]
    done = asyncio.Event()

    async def probe() -> None:
        last = time.perf_counter()
        while not done.is_set():
            await asyncio.sleep(0.01)
            now = time.perf_counter()
            worst[0] = max(worst[0], now - last - 0.01)
            last = now

    task = asyncio.create_task(probe())
    await asyncio.sleep(0.02)  # the probe is running
    try:
        yield worst
    finally:
        done.set()
        await task


@pytest_asyncio.fixture
async def cplatform(creator_platform_factory: PlatformFactory) -> CreatorPlatform:
    return await creator_platform_factory(
        plugins=[PLUGIN], extra_plugins={PLUGIN: ProviderPlugin()}, embedding_provider="counting"
    )


def one_word_paragraphs(body_limit: int) -> str:
    """The review's input, as long as a JSON body within ``body_limit`` bytes can carry."""
    words, size = [], 0
    while True:
        word = f"w{len(words)}"
        size += len(word) + 4  # "\n\n" is four bytes in JSON
        if size > body_limit - 100 or size > MAX_TEXT_LENGTH:
            return "\n\n".join(words)
        words.append(word)


async def test_a_largest_pathological_ingest_leaves_the_loop_free(cplatform) -> None:
    LocalEmbeddingProvider().count_tokens("warm the tokenizer up")
    owner = await cplatform.tenant()
    text = one_word_paragraphs(cplatform.settings.max_body_bytes)
    body = json.dumps({"text": text})
    assert len(body) <= cplatform.settings.max_body_bytes
    async with loop_probe() as worst:
        r = await owner.client.post(
            owner.url("/knowledge"), content=body, headers={"content-type": "application/json"}
        )
    assert r.status_code == 201, r.text
    items = r.json()["items"]
    assert len(items) > 100 and all(i["metadata"]["tokens"] <= 500 for i in items)
    assert worst[0] < 1.0, f"the loop was held for {worst[0]:.2f} s"

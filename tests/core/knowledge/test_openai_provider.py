"""The ``openai`` provider through the real ``openai`` SDK, against a local server that
speaks the embeddings API (base64 as the SDK asks by default): batching, ``dimensions``,
retries on 500/429, and ingest + search with it configured as the platform's provider."""

from __future__ import annotations

import math

import openai
import pytest

from core.knowledge.openai_provider import OpenAIEmbeddingProvider
from sdk.testing import PlatformFactory, assert_problem


def provider(server, **kwargs) -> OpenAIEmbeddingProvider:
    kwargs.setdefault("dimensions", 32)
    return OpenAIEmbeddingProvider(
        model="test-embed", base_url=server.url, api_key="sk-test", **kwargs
    )


async def test_embeds_in_batches_through_the_sdk(fake_openai) -> None:
    p = provider(fake_openai, batch_size=2)
    texts = ["alpha beta", "gamma", "delta epsilon", "zeta", "eta"]
    vectors = await p.embed(texts)
    assert len(vectors) == 5 and all(len(v) == 32 for v in vectors)
    for v in vectors:
        assert abs(math.sqrt(sum(x * x for x in v)) - 1) < 1e-5
    assert [r["input"] for r in fake_openai.requests] == [texts[0:2], texts[2:4], texts[4:]]
    first = fake_openai.requests[0]
    assert first["model"] == "test-embed" and first["dimensions"] == 32
    assert first["encoding_format"] == "base64"  # the SDK's default, decoded by the SDK
    assert fake_openai.headers[0]["authorization"] == "Bearer sk-test"
    # the same text gives the same vector, in any batch
    again = await p.embed(["zeta"])
    assert again[0] == pytest.approx(vectors[3], abs=1e-6)
    await p.aclose()


async def test_native_dimension_and_wrong_sizes(fake_openai) -> None:
    p = OpenAIEmbeddingProvider(model="text-embedding-3-small", base_url=fake_openai.url)
    assert p.dimension == 1536  # known model, no dimensions asked
    fake_openai.native_dimension = 1536
    try:
        (vector,) = await p.embed(["hello"])
        assert len(vector) == 1536 and "dimensions" not in fake_openai.requests[0]
        wrong = OpenAIEmbeddingProvider(
            model="text-embedding-3-large", base_url=fake_openai.url, api_key="k"
        )
        with pytest.raises(ValueError, match="returned 1536 dimensions, expected 3072"):
            await wrong.embed(["hello"])
    finally:
        fake_openai.native_dimension = 48
    unknown = OpenAIEmbeddingProvider(model="mystery", base_url=fake_openai.url)
    with pytest.raises(ValueError, match="openai_embedding_dimensions"):
        await unknown.embed(["x"])


@pytest.mark.parametrize("status", [500, 429])
async def test_retries_a_failed_request(fake_openai, status: int) -> None:
    fake_openai.fail_with.append(status)
    p = provider(fake_openai)
    (vector,) = await p.embed(["retry me"])
    assert len(vector) == 32
    assert len(fake_openai.requests) == 2  # the failure, then the retry
    assert fake_openai.requests[0] == fake_openai.requests[1]


async def test_gives_up_after_max_retries(fake_openai) -> None:
    fake_openai.fail_with.extend([503, 503, 503])
    p = provider(fake_openai, max_retries=2)
    with pytest.raises(openai.InternalServerError):
        await p.embed(["never"])
    assert len(fake_openai.requests) == 3


async def test_the_platform_ingests_and_searches_with_it(
    creator_platform_factory: PlatformFactory, fake_openai
) -> None:
    platform = await creator_platform_factory(
        plugins=[],
        embedding_provider="openai",
        openai_base_url=fake_openai.url,
        openai_api_key="sk-platform",
        openai_embedding_model="test-embed",
        openai_embedding_dimensions=24,
    )
    knowledge = platform.platform.knowledge
    assert (knowledge.provider.name, knowledge.provider.dimension) == ("openai", 24)
    owner = await platform.tenant()
    texts = ["Refunds within 30 days.", "Hoodies ship from Lisbon.", "Coaching costs 150 euros."]
    r = await owner.client.post(owner.url("/knowledge"), json={"text": "\n\n".join(texts)})
    assert r.status_code == 201, r.text
    item = r.json()["items"][0]
    assert (item["embedding_model"], item["embedding_dim"]) == ("test-embed", 24)
    assert fake_openai.requests[0]["dimensions"] == 24
    assert fake_openai.headers[0]["authorization"] == "Bearer sk-platform"
    for t in texts:
        await knowledge.ingest(owner.scope, t)
    hits = await knowledge.search(owner.scope, "hoodies ship Lisbon", mode="vector", limit=1)
    assert hits[0].text == texts[1]
    async with platform.platform.db.pool.acquire() as conn:
        assert await conn.fetchval(
            "SELECT count(*) FROM pg_class WHERE relname = 'knowledge_embedding_24_hnsw'"
        )


async def test_hosted_embeddings_are_metered_against_the_monthly_budget(
    creator_platform_factory: PlatformFactory, fake_openai
) -> None:
    """Ingest and search spend the group's ``embedding_tokens`` by what the API reports;
    once the month's budget is spent the next call is refused before it is sent."""
    cp = await creator_platform_factory(
        plugins=[],
        embedding_provider="openai",
        openai_base_url=fake_openai.url,
        openai_api_key="sk-platform",
        openai_embedding_model="test-embed",
        openai_embedding_dimensions=24,
        hosted_embedding_tokens_per_month=6,
    )
    usage = cp.platform.usage
    owner = await cp.tenant()
    r = await owner.client.post(owner.url("/knowledge"), json={"text": "one two three four"})
    assert r.status_code == 201, r.text
    assert (await usage.report(owner.group.id, "embedding_tokens")).used == 4  # the API's usage
    hits = await cp.platform.knowledge.search(owner.scope, "five six", mode="vector")
    assert hits
    assert (await usage.report(owner.group.id, "embedding_tokens")).used == 6
    sent = len(fake_openai.requests)
    body = assert_problem(
        await owner.client.post(owner.url("/knowledge"), json={"text": "seven eight"}),
        402,
        "budget_exhausted",
    )
    assert body["kind"] == "embedding_tokens" and body["budget"] == 6
    assert len(fake_openai.requests) == sent  # refused before calling
    # the provider outside any group (the operator's re-embedding) is not metered
    await cp.platform.knowledge.provider.embed(["nine ten"])
    assert (await usage.report(owner.group.id, "embedding_tokens")).used == 6

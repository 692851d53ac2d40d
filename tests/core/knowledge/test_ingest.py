"""Ingest: chunks linked to their thing, model and dimension recorded, re-ingest replacing
stale chunks while unchanged ones keep their rows and vectors."""

from __future__ import annotations

import uuid

import msgspec
import pytest

from core.errors import NotFound, ValidationFailed
from core.knowledge.local import MODEL
from core.knowledge.service import KnowledgeService
from sdk.testing import CreatorPlatform, Tenant

PARAGRAPHS = [
    "Refund policy: email us within 30 days of purchase and we return your money in full.",
    "Hoodies and mugs ship from our warehouse in Lisbon within three business days.",
    "One-to-one coaching calls last 45 minutes and cost 150 euros each.",
    "The newsletter goes out every Sunday morning with one recipe and a weekly recap.",
]


def service_with(platform: CreatorPlatform, **settings) -> KnowledgeService:
    """The platform's knowledge service with other settings (same database)."""
    p = platform.platform
    return KnowledgeService(
        p.ontology, p.embedders, msgspec.structs.replace(p.settings, **settings)
    )


async def rows(platform: CreatorPlatform, tenant: Tenant, thing_id=None):
    store = platform.ontology(tenant).knowledge
    page = await store.list(thing_id=thing_id, limit=200)
    return page.items


async def test_ingest_creates_chunks_linked_to_the_thing(
    kplatform: CreatorPlatform, kowner: Tenant
) -> None:
    thing = await kplatform.ontology(kowner).things.create("doc", name="FAQ")
    knowledge = service_with(kplatform, chunk_tokens=20, chunk_overlap=0)
    result = await knowledge.ingest(
        kowner.scope,
        "\n\n".join(PARAGRAPHS),
        thing_id=thing.id,
        labels=["faq"],
        metadata={"source": "faq.md"},
    )
    assert result.thing_id == thing.id
    assert result.created == len(result.items) >= 4
    assert (result.unchanged, result.deleted, result.embedded) == (0, 0, result.created)
    for index, item in enumerate(result.items):
        assert item.kind == "chunk" and item.group_id == kowner.group.id
        assert item.embedding_model == MODEL and item.embedding_dim == 384
        meta = item.metadata
        assert meta["chunk_index"] == index and meta["chunk_count"] == len(result.items)
        assert meta["labels"] == ["faq"] and meta["source"] == "faq.md"
        assert len(meta["content_hash"]) == 64 and 0 < meta["tokens"] <= 20
    linked = await rows(kplatform, kowner, thing.id)
    assert {i.id for i in linked} == {i.id for i in result.items}
    # chunks in order cover the text
    assert "Refund policy" in result.items[0].text
    assert "weekly recap" in result.items[-1].text


async def test_reingest_replaces_stale_chunks_and_keeps_unchanged_ones(
    kplatform: CreatorPlatform, kowner: Tenant, hash_embedder
) -> None:
    thing = await kplatform.ontology(kowner).things.create("doc", name="FAQ")
    knowledge = service_with(
        kplatform, embedding_provider="hash64", chunk_tokens=20, chunk_overlap=0
    )
    first = await knowledge.ingest(kowner.scope, "\n\n".join(PARAGRAPHS), thing_id=thing.id)
    embedded_once = hash_embedder.texts_embedded
    assert embedded_once == first.created == len(first.items)
    assert {i.embedding_model for i in first.items} == {"hash-64-v1"}
    assert {i.embedding_dim for i in first.items} == {64}

    # the same text again: nothing new, nothing embedded
    again = await knowledge.ingest(kowner.scope, "\n\n".join(PARAGRAPHS), thing_id=thing.id)
    assert (again.created, again.deleted, again.embedded) == (0, 0, 0)
    assert [i.id for i in again.items] == [i.id for i in first.items]
    assert hash_embedder.texts_embedded == embedded_once

    # change the second paragraph, drop the last: only the changed text is embedded
    changed = [PARAGRAPHS[0], "Hoodies now ship from Porto, and faster.", PARAGRAPHS[2]]
    third = await knowledge.ingest(kowner.scope, "\n\n".join(changed), thing_id=thing.id)
    new_texts = [t for call in hash_embedder.calls[1:] for t in call]
    assert all("Porto" in t for t in new_texts), new_texts
    assert third.embedded == third.created == len(new_texts) >= 1
    assert third.unchanged >= 2 and third.deleted >= 2
    kept = {i.id for i in first.items} & {i.id for i in third.items}
    assert len(kept) == third.unchanged
    linked = await rows(kplatform, kowner, thing.id)
    assert sorted(i.id for i in linked) == sorted(i.id for i in third.items)
    assert not any("newsletter" in i.text for i in linked)
    assert [i.metadata["chunk_index"] for i in third.items] == list(range(len(third.items)))


async def test_same_text_elsewhere_in_the_group_reuses_the_vector(
    kplatform: CreatorPlatform, kowner: Tenant, hash_embedder
) -> None:
    knowledge = service_with(kplatform, embedding_provider="hash64")
    first = await knowledge.ingest(kowner.scope, PARAGRAPHS[0])
    second = await knowledge.ingest(kowner.scope, PARAGRAPHS[0], labels=["copy"])
    assert (first.embedded, second.embedded, second.created) == (1, 0, 1)
    assert hash_embedder.texts_embedded == 1
    assert first.items[0].id != second.items[0].id  # a text-only ingest adds rows
    # another group does not share vectors
    other = await kplatform.tenant()
    third = await knowledge.ingest(other.scope, PARAGRAPHS[0])
    assert third.embedded == 1


async def test_refusals(kplatform: CreatorPlatform, kowner: Tenant) -> None:
    knowledge = kplatform.platform.knowledge
    with pytest.raises(ValidationFailed) as err:
        await knowledge.ingest(kowner.scope, "  \n")
    assert err.value.field == "text"
    with pytest.raises(ValidationFailed) as err:
        await knowledge.ingest(kowner.scope, "x", metadata={"content_hash": "forged"})
    assert err.value.field == "metadata.content_hash"
    with pytest.raises(ValidationFailed) as err:
        await knowledge.ingest(kowner.scope, "x", labels=["ok", " "])
    assert err.value.field == "labels[1]"
    with pytest.raises(NotFound):
        await knowledge.ingest(kowner.scope, "x", thing_id=uuid.uuid4())
    other = await kplatform.tenant()
    theirs = await kplatform.ontology(other).things.create("doc", name="theirs")
    with pytest.raises(NotFound):
        await knowledge.ingest(kowner.scope, "x", thing_id=theirs.id)
    assert await rows(kplatform, kowner) == []
    assert await rows(kplatform, other) == []


async def test_reingest_with_a_paragraph_repeated_more_often_than_before(
    kplatform: CreatorPlatform, kowner: Tenant, hash_embedder
) -> None:
    thing = await kplatform.ontology(kowner).things.create("doc", name="Repeats")
    knowledge = service_with(
        kplatform, embedding_provider="hash64", chunk_tokens=20, chunk_overlap=0
    )
    await knowledge.ingest(kowner.scope, PARAGRAPHS[0], thing_id=thing.id)
    text = "\n\n".join([PARAGRAPHS[0], PARAGRAPHS[1], PARAGRAPHS[0]])
    result = await knowledge.ingest(kowner.scope, text, thing_id=thing.id)
    assert result.items[0].text == result.items[-1].text
    assert len(await rows(kplatform, kowner, thing.id)) == len(result.items)

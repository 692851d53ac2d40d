"""Search: each mode finds the right document for a clear query, filters by thing and
label, and a group never sees another group's chunks (even with identical text)."""

from __future__ import annotations

from typing import Any

import pytest

from core.errors import ValidationFailed
from core.knowledge import search as search_module
from core.knowledge.search import (
    LARGE_GROUP_SHARE,
    MAX_WORDS,
    TEXT_SAMPLE,
    TEXT_WEIGHT,
    choose_words,
    combine,
    embed_query,
    forget_recent_queries,
    reusing_query_vectors,
)
from core.knowledge.store import Hit
from core.ontology.ids import uuid7
from sdk.testing import CreatorPlatform, Tenant

DOCS = {
    "refunds": "Refund policy: if a course is not for you, email us within 30 days of purchase "
    "and we will return your money in full, no questions asked.",
    "shipping": "Physical merchandise such as hoodies and mugs ships from our warehouse in "
    "Lisbon. Orders within the EU arrive in 3 to 5 business days.",
    "camera": "I film every video on a Sony A7 IV with a 24mm f/1.4 lens, and record audio "
    "separately with a Shure SM7B microphone.",
    "sourdough": "My sourdough starter lives in the fridge and I feed it once a week with "
    "equal weights of rye flour and water.",
    "coaching": "One-to-one coaching calls last 45 minutes and are booked through the "
    "calendar link on the coaching page. Each call costs 150 euros.",
}


async def ingest_docs(platform: CreatorPlatform, tenant: Tenant) -> dict[str, Any]:
    """One ``doc`` thing per document, its text ingested; label ``even`` on every other."""
    things = {}
    for index, (key, text) in enumerate(DOCS.items()):
        thing = await platform.ontology(tenant).things.create("doc", name=key)
        labels = ["even"] if index % 2 == 0 else ["odd"]
        await platform.platform.knowledge.ingest(
            tenant.scope, text, thing_id=thing.id, labels=[*labels, "all"]
        )
        things[key] = thing.id
    return things


QUESTIONS = [
    ("Can I get my money back if I don't like the course?", "refunds"),
    ("Where are hoodies sent from?", "shipping"),
    ("which microphone do you record with", "camera"),
    ("how do you keep your bread culture alive", "sourdough"),
    ("how much is a private session?", "coaching"),
]


@pytest.mark.parametrize("mode", ["vector", "hybrid"])
async def test_semantic_modes_find_the_right_document(
    kplatform: CreatorPlatform, kowner: Tenant, mode: str
) -> None:
    things = await ingest_docs(kplatform, kowner)
    for question, answer in QUESTIONS:
        hits = await kplatform.platform.knowledge.search(kowner.scope, question, mode=mode)
        assert hits, question
        assert hits[0].thing_id == things[answer], (question, [h.text[:30] for h in hits])
        assert hits[0].text == DOCS[answer]
        scores = [h.score for h in hits]
        assert scores == sorted(scores, reverse=True)
        assert hits[0].metadata["content_hash"]


async def test_fulltext_finds_words_with_stemming_and_web_syntax(
    kplatform: CreatorPlatform, kowner: Tenant
) -> None:
    things = await ingest_docs(kplatform, kowner)
    search = kplatform.platform.knowledge.search
    hits = await search(kowner.scope, "microphones", mode="fulltext")
    assert [h.thing_id for h in hits] == [things["camera"]]
    assert hits[0].score > 0
    hits = await search(kowner.scope, '"rye flour"', mode="fulltext")
    assert [h.thing_id for h in hits] == [things["sourdough"]]
    hits = await search(kowner.scope, "warehouse or fridge", mode="fulltext")
    assert {h.thing_id for h in hits} == {things["shipping"], things["sourdough"]}
    hits = await search(kowner.scope, "calls -calendar", mode="fulltext")
    assert hits == []
    assert await search(kowner.scope, "zeppelin", mode="fulltext") == []


async def test_fulltext_matches_a_question_in_plain_words(
    kplatform: CreatorPlatform, kowner: Tenant
) -> None:
    """A question whose words are not all in one passage still finds it, by its rarer words
    (``websearch_to_tsquery`` would need every word); quotes and backslashes are words."""
    things = await ingest_docs(kplatform, kowner)
    search = kplatform.platform.knowledge.search
    hits = await search(kowner.scope, "Do you send hoodies to Canada?", mode="fulltext")
    assert hits[0].thing_id == things["shipping"]
    hits = await search(kowner.scope, "how often is the rye starter fed", mode="fulltext")
    assert hits[0].thing_id == things["sourdough"]
    hits = await search(kowner.scope, "coaching calls from the warehouse", mode="fulltext")
    assert [h.thing_id for h in hits] == [things["coaching"], things["shipping"]]
    assert hits[0].score > hits[1].score  # two of the words rank above one
    for mode in ("fulltext", "hybrid"):
        odd = await search(kowner.scope, "O'Reilly's back\\slash 'quoted' microphone", mode=mode)
        assert odd and odd[0].thing_id == things["camera"], mode


async def test_fulltext_ranks_a_bounded_number_of_matches(
    kplatform: CreatorPlatform, kowner: Tenant
) -> None:
    """Every-word matching ranks at most ``scan`` of a query's matches (a bound on the cost
    when its words are common in a large group), never fewer than ``limit``, and keeps to
    the things asked for however often it runs with other things (each run is planned for
    its own parameters)."""
    things = await ingest_docs(kplatform, kowner)
    knowledge = kplatform.platform.knowledge
    logs = []
    for n in range(12):
        thing = await kplatform.ontology(kowner).things.create("doc", name=f"kiln log {n}")
        await knowledge.ingest(
            kowner.scope, f"Kiln log {n}: the kiln was fired" + " and fired again" * (n % 3)
        )
        await knowledge.ingest(kowner.scope, f"Log {n}: kiln fired.", thing_id=thing.id)
        logs.append(thing.id)
    store = knowledge.store(kowner.scope)
    for _ in range(4):  # past the five runs after which a statement may get a generic plan
        for ids, found in ((logs[:3], 3), (logs, 12), ([things["camera"]], 0), ((), 24)):
            hits = await store.fulltext_search("kiln fired", limit=50, thing_ids=ids)
            assert len(hits) == found and all("kiln" in h.text.lower() for h in hits)
            if ids:
                assert {h.thing_id for h in hits} <= set(ids)
    bounded = await store.fulltext_search("kiln fired", limit=3, scan=5)
    assert len(bounded) == 3
    assert [h.score for h in bounded] == sorted((h.score for h in bounded), reverse=True)
    assert len(await store.fulltext_search("kiln fired", limit=8, scan=2)) == 8
    assert len(await store.fulltext_search("kiln fired", limit=50, scan=5)) == 24


def test_choose_words_prefers_rare_words_within_a_budget() -> None:
    # the whole group sampled (fewer chunks than the sample): every word present, rarest
    # first and weighing most; a word absent from the group is left out
    whole = choose_words({"refund": 1, "course": 3, "zeppelin": 0}, 5)
    assert list(whole) == ["refund", "course"]
    assert whole["refund"] > whole["course"] > 0
    many = choose_words({f"w{i}": i + 1 for i in range(20)}, 50)
    assert len(many) == MAX_WORDS and "w0" in many
    # a large group: only rare words, while their summed share stays within the budget
    sampled = TEXT_SAMPLE
    budget = int(LARGE_GROUP_SHARE * sampled)
    large = choose_words({"zeppelin": 0, "rare": budget, "common": sampled // 3}, sampled)
    assert list(large) == ["zeppelin", "rare"]
    assert choose_words({"common": sampled // 3}, sampled) == {}
    assert choose_words({"refund": 1}, 0) == {}


async def test_hybrid_ranks_a_row_both_find_first(
    kplatform: CreatorPlatform, kowner: Tenant
) -> None:
    things = await ingest_docs(kplatform, kowner)
    hits = await kplatform.platform.knowledge.search(kowner.scope, "Shure microphone")
    assert hits[0].thing_id == things["camera"]
    assert hits[0].score == pytest.approx(1 + TEXT_WEIGHT)  # first in both rankings


async def test_hits_carry_their_cosine_similarity(
    kplatform: CreatorPlatform, kowner: Tenant
) -> None:
    """Vector and hybrid hits carry the cosine the vector search measured (the same from
    one query to the next, unlike a hybrid score); full-text hits have none."""
    await ingest_docs(kplatform, kowner)
    search = kplatform.platform.knowledge.search
    question = "which microphone do you record with"
    by_vector = await search(kowner.scope, question, mode="vector", limit=40)
    cosines = {h.knowledge_id: h.score for h in by_vector}
    assert all(h.similarity == h.score for h in by_vector)
    hybrid = await search(kowner.scope, question, mode="hybrid", limit=5)
    assert hybrid and all(h.similarity == cosines[h.knowledge_id] for h in hybrid)
    assert hybrid[0].score != hybrid[0].similarity  # a hybrid score is another scale
    by_text = await search(kowner.scope, question, mode="fulltext")
    assert by_text and all(h.similarity is None for h in by_text)


async def test_filters_by_thing_and_label(kplatform: CreatorPlatform, kowner: Tenant) -> None:
    things = await ingest_docs(kplatform, kowner)
    search = kplatform.platform.knowledge.search
    for mode in ("vector", "fulltext", "hybrid"):
        only = await search(kowner.scope, "microphone", mode=mode, thing_ids=[things["refunds"]])
        assert {h.thing_id for h in only} <= {things["refunds"]}, mode
        two = [things["camera"], things["coaching"]]
        hits = await search(kowner.scope, "microphone or coaching", mode=mode, thing_ids=two)
        assert hits and {h.thing_id for h in hits} <= set(two), mode
        odd = await search(kowner.scope, "microphone", mode=mode, labels=["odd"])
        assert all("odd" in h.metadata["labels"] for h in odd), mode
        both = await search(kowner.scope, "microphone", mode=mode, labels=["odd", "all"])
        assert [h.knowledge_id for h in both] == [h.knowledge_id for h in odd], mode
        none = await search(kowner.scope, "microphone", mode=mode, labels=["odd", "even"])
        assert none == [], mode
    limited = await search(kowner.scope, "the", mode="vector", limit=2)
    assert len(limited) == 2


async def test_group_isolation_with_identical_text(kplatform: CreatorPlatform) -> None:
    a = await kplatform.tenant()
    b = await kplatform.tenant()
    things_a = await ingest_docs(kplatform, a)
    search = kplatform.platform.knowledge.search
    for mode in ("vector", "fulltext", "hybrid"):
        assert await search(b.scope, "Shure microphone", mode=mode) == [], mode
    things_b = await ingest_docs(kplatform, b)  # the very same texts
    for mode in ("vector", "fulltext", "hybrid"):
        for scope, own in ((a.scope, things_a), (b.scope, things_b)):
            hits = await search(scope, "Shure microphone", mode=mode, limit=50)
            assert hits and {h.thing_id for h in hits} <= set(own.values()), mode
            items = [
                await kplatform.platform.ontology.scoped(scope).knowledge.get(h.knowledge_id)
                for h in hits
            ]
            assert {i.group_id for i in items} == {scope.group_id}
    # filtering by the other group's thing finds nothing
    hits = await search(b.scope, "microphone", thing_ids=[things_a["camera"]])
    assert hits == []


async def test_bad_queries_name_the_field(kplatform: CreatorPlatform, kowner: Tenant) -> None:
    search = kplatform.platform.knowledge.search
    for kwargs, field in [
        ({"query": " "}, "q"),
        ({"query": "x" * 2001}, "q"),
        ({"query": "x", "mode": "semantic"}, "mode"),
        ({"query": "x", "limit": 0}, "limit"),
        ({"query": "x", "limit": 101}, "limit"),
    ]:
        query = kwargs.pop("query")
        with pytest.raises(ValidationFailed) as err:
            await search(kowner.scope, query, **kwargs)
        assert err.value.field == field


def test_combine_scales_cosines_and_text_scores() -> None:
    import uuid

    ids = {n: uuid.uuid4() for n in "abcd"}

    def hits(*scored: tuple[str, float]) -> list[Hit]:
        return [Hit(ids[n], None, n, {}, score) for n, score in scored]

    by_vector = hits(("a", 0.9), ("b", 0.8), ("c", 0.7))
    by_text = hits(("c", 4.0), ("d", 2.0))
    combined = combine(by_vector, by_text, limit=10)
    # a: cosine scaled to 1; b: 0.5; c: 0 + 0.3 * 4/4; d: text only, 0.3 * 2/4
    assert [h.text for h in combined] == ["a", "b", "c", "d"]
    assert [h.score for h in combined] == pytest.approx([1.0, 0.5, TEXT_WEIGHT, TEXT_WEIGHT / 2])
    heavy = combine(by_vector, by_text, limit=2, text_weight=2.0)
    assert [h.text for h in heavy] == ["c", "a"]
    assert [h.text for h in combine(by_vector, [], limit=1)] == ["a"]
    assert [h.text for h in combine([], by_text, limit=10)] == ["c", "d"]
    assert combine([], [], limit=5) == []


async def test_a_query_is_embedded_once_while_reusing(hash_embedder: Any) -> None:
    """A clone searches twice with the same question; the second search reuses its vector,
    and only inside ``reusing_query_vectors``."""
    with reusing_query_vectors():
        first = await embed_query(hash_embedder, "refund policy")
        again = await embed_query(hash_embedder, "refund policy")
        assert again == first and again is not first  # a copy: callers cannot change it
        assert hash_embedder.calls == [["refund policy"]]
        await embed_query(hash_embedder, "shipping")
        assert len(hash_embedder.calls) == 2
        hash_embedder.model = "hash-64-v2"  # another model: embedded again
        await embed_query(hash_embedder, "refund policy")
        assert len(hash_embedder.calls) == 3
    await embed_query(hash_embedder, "refund policy")  # outside: embedded every time
    await embed_query(hash_embedder, "refund policy")
    assert len(hash_embedder.calls) == 5


async def test_a_groups_recent_queries_are_not_embedded_again(
    hash_embedder: Any, monkeypatch: Any
) -> None:
    """Each process keeps recent query vectors per group: the same question in the same
    group is embedded once; in another group, or once forgotten or pushed out by newer
    ones, it is embedded again."""
    monkeypatch.setattr(search_module, "_recent", search_module._RecentVectors(2))
    group, other = uuid7(), uuid7()
    first = await embed_query(hash_embedder, "refund policy", group_id=group)
    again = await embed_query(hash_embedder, "refund policy", group_id=group)
    assert again == first and len(hash_embedder.calls) == 1
    again.append(0.0)  # a copy: callers cannot change what is kept
    assert await embed_query(hash_embedder, "refund policy", group_id=group) == first
    await embed_query(hash_embedder, "refund policy", group_id=other)
    assert len(hash_embedder.calls) == 2  # never another group's
    await embed_query(hash_embedder, "shipping", group_id=group)  # pushes out the oldest
    await embed_query(hash_embedder, "refund policy", group_id=group)
    assert len(hash_embedder.calls) == 4
    forget_recent_queries()
    await embed_query(hash_embedder, "refund policy", group_id=group)
    assert len(hash_embedder.calls) == 5


@pytest.mark.parametrize("exact_max", [0, 5000])
async def test_exact_and_index_searches_agree(
    kplatform: CreatorPlatform, kowner: Tenant, exact_max: int, monkeypatch: Any
) -> None:
    """Few candidates are compared exactly, many go through the HNSW index (forced here
    with ``EXACT_SEARCH_MAX = 0``): both find the same rows, in order, and keep to the
    group and the things asked for."""
    import core.knowledge.store as store

    other = await kplatform.tenant()
    await ingest_docs(kplatform, other)  # the same texts in another group
    things = await ingest_docs(kplatform, kowner)
    monkeypatch.setattr(store, "EXACT_SEARCH_MAX", exact_max)
    search = kplatform.platform.knowledge.search
    for question, answer in QUESTIONS:
        hits = await search(kowner.scope, question, mode="vector", limit=5)
        assert [h.thing_id for h in hits][:1] == [things[answer]]
        assert len(hits) == 5 and {h.thing_id for h in hits} <= set(things.values())
        two = [things[answer], things["sourdough"]]
        hits = await search(kowner.scope, question, mode="vector", thing_ids=two)
        assert {h.thing_id for h in hits} <= set(two) and hits[0].thing_id == things[answer]

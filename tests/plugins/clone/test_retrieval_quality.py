"""Retrieval quality on the clone's evaluation corpus (``corpus/``): 24 documents of one
creator's business (Mara Lindqvist's ceramics studio) and ``questions.json``, 79 questions a
visitor might ask, paraphrasing the one document that answers each, and 22 on-topic
questions that no document answers. 18 of the answerable and 6 of the unanswerable ones
are marked ``held_out``: they were written after the search, relevance and offline-answer
rules were last tuned, and nothing has been tuned on them since; their figures are printed
apart. (The other questions were split in halves by position: weights were chosen on the
even ones and checked on the odd ones.)

The corpus is ingested once per module through ``platform.knowledge`` with core's
default settings (the local e5 model, 500-token chunks), one thing per document, and
every figure is computed in one pass (:func:`measure`), which the tests share:

* **hit@5 and MRR (@10) of vector, fulltext and hybrid search**, passage-level: a hit
  counts when its chunk's text contains the question's ``passage`` (an exact substring
  of the answering document), not merely when it comes from the right document; the
  document-level figures are printed next to them. Hybrid must not be worse than either
  mode alone.
* **relevant()**: keeps the answer passage among ``retrieve()``'s six, and turns away
  (returns nothing for) the unanswerable questions.
* **the offline provider**: cites a passage that contains the answer, given what an
  answer is given: relevant()'s passages and their sentences' closeness to the question;
  and the **fluency check** (:func:`fluency_problems`): its answers are whole sentences
  (none starting in lower case, ending on a colon or only a heading) on the question's
  subject, and "When can I pick up my order?" is answered with the sentence about pickup
  (the review's case, added to ``shipping.md`` and ``questions.json``).

Measured 2026-12-06 (passage hit@5 / MRR, all 79 | the 18 held out): vector 0.873 / 0.679
| 0.889 / 0.593, fulltext 0.797 / 0.615 | 0.833 / 0.618, hybrid 0.937 / 0.767 | 1.000 /
0.677. Before this session's search changes (full text needing every word, reciprocal-rank
fusion): fulltext 0.127 / 0.118, hybrid 0.886 / 0.720. Offline provider citing the answer:
0.823 (65 of 79; held out 0.833, 15 of 18) since it also quotes the sentence closest to
the question by embedding (the sentence vectors training makes,
:mod:`plugins.clone.sentences`, computed here by the same function after each ingest);
on words alone 0.797 (held out 0.778; 0.803 of the other 61), since it also quotes the
passage closest to the question by cosine (0.785) and its stemmer strips ``-er``
(``retailers``); 0.734 (held out 0.722) before that, 0.696 before the search changes.
Unanswerable questions turned away: 0.364 (held out 0 of 6), before 0.409 (also 0 of 6).
Since retrieval and the offline provider share one stemmer and stop-word list
(:mod:`plugins.clone.text`; measured 2026-12-07): relevant() keeps 0.922 of the retrieved
answers (before 0.883), unanswerable turned away unchanged (0.364); the offline provider
cites the answer for 0.861 (68 of 79; held out unchanged, 0.833), 0.823 on words alone
(held out 0.778).
With the fluency rules (:mod:`plugins.clone.providers.offline`, measured 2026-12-07, 80
answerable questions with the pickup one): answers with no fluency problem 0.950 (0.787
before: headings, list items in lower case and colons were quoted); the offline
provider cites the answer for 0.850 (68 of 80; held out 0.889, 16 of 18), 0.787 on words
alone (held out 0.778).

Run with ``-s`` to see the table (it is also in the captured output of each test).
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

import msgspec
import pytest

from plugins.clone import retrieval, sentences
from plugins.clone.providers import AnswerRequest, Finished, OfflineProvider, Passage, TextDelta
from plugins.clone.providers.offline import offline_words
from sdk import ThingType, hookimpl

pytestmark = pytest.mark.creator_plugins()

CORPUS = Path(__file__).parent / "corpus"
QUESTIONS: list[dict[str, Any]] = json.loads((CORPUS / "questions.json").read_text())
ANSWERABLE = [q for q in QUESTIONS if not q.get("unanswerable")]
UNANSWERABLE = [q for q in QUESTIONS if q.get("unanswerable")]
#: Positions in ``ANSWERABLE`` of the questions nothing was tuned on.
HELD_OUT = [i for i, q in enumerate(ANSWERABLE) if q.get("held_out")]
#: Questions about something else entirely: relevant() must turn these away.
OFF_TOPIC = [
    "What is the capital of Mongolia?",
    "How do I change the oil in my car?",
    "Who won the football World Cup in 2018?",
    "Can you recommend a good laptop for gaming?",
]
MODES = ("vector", "fulltext", "hybrid")
#: Passages retrieve() hands to relevant() (the clone's ``retrieval_limit`` default).
RETRIEVED = 6
DEPTH = 10  # MRR is computed over the top 10


class EvalDoc(msgspec.Struct):
    filename: str = ""


class EvalTypes:
    @hookimpl
    def register_thing_types(self) -> list[ThingType]:
        return [ThingType("clone_eval_doc", EvalDoc)]


@dataclass
class Measured:
    chunks: int = 0
    ingest_seconds: float = 0.0
    #: sentences training embedded (:func:`sentences.learn`), and the time it took
    sentences: int = 0
    sentence_seconds: float = 0.0
    search_seconds: float = 0.0
    #: mode -> per answerable question: 1-based rank of the first hit containing the
    #: answer passage (``None``: not in the top ``DEPTH``); the same for the document.
    passage_ranks: dict[str, list[int | None]] = field(default_factory=dict)
    document_ranks: dict[str, list[int | None]] = field(default_factory=dict)
    #: question -> retrieve()'s top ``RETRIEVED`` passages (hybrid), and relevant()'s.
    retrieved: dict[str, list[Passage]] = field(default_factory=dict)
    kept: dict[str, list[Passage]] = field(default_factory=dict)
    #: question -> the closeness of the retrieved passages' sentences, as an answer reads it
    closeness: dict[str, sentences.Closeness] = field(default_factory=dict)


_measured: list[Measured] = []


def _rank(found: list[bool]) -> int | None:
    """The 1-based rank of the first hit that ``found`` marks, within the top ``DEPTH``."""
    return next((rank for rank, yes in enumerate(found[:DEPTH], start=1) if yes), None)


async def measure(factory: Any) -> Measured:
    """Ingest the corpus and run every question (once per module: later calls reuse it)."""
    if _measured:
        return _measured[0]
    m = Measured()
    harness = await factory(plugins=[], extra_plugins={"clone_eval": EvalTypes()})
    platform = harness.platform
    tenant = await harness.tenant()
    scope = tenant.scope
    store = harness.ontology(tenant)
    names: dict[UUID, str] = {}
    started = time.perf_counter()
    for path in sorted(CORPUS.glob("*.md")):
        text = path.read_text()
        thing = await store.things.create(
            "clone_eval_doc", name=path.name, properties={"filename": path.name}
        )
        title = text.splitlines()[0].lstrip("# ").strip()
        result = await platform.knowledge.ingest(
            scope, text, thing_id=thing.id, metadata={"title": title}
        )
        m.chunks += len(result.items)
        names[thing.id] = path.name
        # what clone training does after ingesting a source
        learning = time.perf_counter()
        m.sentences += await sentences.learn(
            platform, scope, [(item.id, item.text) for item in result.items]
        )
        m.sentence_seconds += time.perf_counter() - learning
    m.ingest_seconds = time.perf_counter() - started - m.sentence_seconds
    ids = list(names)

    started = time.perf_counter()
    for mode in MODES:
        m.passage_ranks[mode], m.document_ranks[mode] = [], []
    for q in QUESTIONS:
        question = q["question"]
        # retrieve(): the hybrid ranking (top DEPTH) with each passage's cosine; its top
        # RETRIEVED are what the clone hands to relevant() (hybrid's candidates do not
        # depend on the limit up to 10, so the top 6 of 10 are the top 6).
        ranked = await retrieval.retrieve(platform, scope, question, ids, limit=DEPTH)
        m.retrieved[question] = [p for p in ranked if p.index <= RETRIEVED]
        m.kept[question] = retrieval.relevant(question, m.retrieved[question])
        m.closeness[question] = await sentences.closeness(
            platform, scope, question, [p.knowledge_id for p in m.retrieved[question]]
        )
        if q.get("unanswerable"):
            continue
        passage, document = q["passage"], q["document"]
        m.passage_ranks["hybrid"].append(_rank([passage in p.text for p in ranked]))
        m.document_ranks["hybrid"].append(
            _rank([names[UUID(p.source_id)] == document for p in ranked])
        )
        for mode in ("vector", "fulltext"):
            hits = await platform.knowledge.search(
                scope, question, mode=mode, limit=DEPTH, thing_ids=ids
            )
            m.passage_ranks[mode].append(_rank([passage in h.text for h in hits]))
            m.document_ranks[mode].append(_rank([names[h.thing_id] == document for h in hits]))
    for question in OFF_TOPIC:
        found = await retrieval.retrieve(platform, scope, question, ids, limit=RETRIEVED)
        m.retrieved[question] = found
        m.kept[question] = retrieval.relevant(question, found)
    m.search_seconds = time.perf_counter() - started
    _measured.append(m)

    return m


def hit_at(ranks: list[int | None], k: int = 5) -> float:
    return sum(1 for r in ranks if r is not None and r <= k) / len(ranks)


def mrr(ranks: list[int | None]) -> float:
    return sum(1 / r for r in ranks if r is not None) / len(ranks)


def _contains_answer(passages: list[Passage], q: dict[str, Any]) -> bool:
    return any(q["passage"] in p.text for p in passages)


def relevance_rates(m: Measured) -> dict[str, float]:
    retrieved = [q for q in ANSWERABLE if _contains_answer(m.retrieved[q["question"]], q)]
    kept = [q for q in retrieved if _contains_answer(m.kept[q["question"]], q)]
    turned_away = [q for q in UNANSWERABLE if not m.kept[q["question"]]]
    held_out = [q for q in UNANSWERABLE if q.get("held_out")]
    off_topic = [q for q in OFF_TOPIC if not m.kept[q]]
    return {
        "retrieved": len(retrieved) / len(ANSWERABLE),
        "kept_of_retrieved": len(kept) / len(retrieved),
        "kept_of_all": len(kept) / len(ANSWERABLE),
        "unanswerable_empty": len(turned_away) / len(UNANSWERABLE),
        "held_out_unanswerable_empty": sum(1 for q in held_out if q in turned_away)
        / max(1, len(held_out)),
        "off_topic_empty": len(off_topic) / len(OFF_TOPIC),
    }


def report(m: Measured) -> str:
    lines = [
        f"corpus: {len(list(CORPUS.glob('*.md')))} documents, {m.chunks} chunks "
        f"(ingested in {m.ingest_seconds:.1f} s; their {m.sentences} sentences embedded in "
        f"{m.sentence_seconds:.1f} s); {len(ANSWERABLE)} answerable and "
        f"{len(UNANSWERABLE)} unanswerable questions (searched in {m.search_seconds:.1f} s)",
        "",
        "mode      passage hit@5  passage MRR  |  document hit@5  document MRR",
    ]
    for mode in MODES:
        p, d = m.passage_ranks[mode], m.document_ranks[mode]
        lines.append(
            f"{mode:<9} {hit_at(p):>13.3f} {mrr(p):>12.3f}  |  {hit_at(d):>15.3f} {mrr(d):>13.3f}"
        )
    lines.append(f"held out ({len(HELD_OUT)} questions), passage hit@5 / MRR:")
    for mode in MODES:
        held = [m.passage_ranks[mode][i] for i in HELD_OUT]
        lines.append(f"  {mode:<9} {hit_at(held):.3f} / {mrr(held):.3f}")
    r = relevance_rates(m)
    lines += [
        "",
        f"relevant(): answer passage among retrieve()'s {RETRIEVED}: {r['retrieved']:.3f}; "
        f"kept by relevant() when retrieved: {r['kept_of_retrieved']:.3f} "
        f"(of all answerable: {r['kept_of_all']:.3f})",
        f"relevant(): unanswerable -> []: {r['unanswerable_empty']:.3f} (held out: "
        f"{r['held_out_unanswerable_empty']:.3f}); off-topic -> []: {r['off_topic_empty']:.3f}",
    ]
    return "\n".join(lines)


async def test_hybrid_is_not_worse_than_vector_or_fulltext(creator_platform_factory: Any) -> None:
    m = await measure(creator_platform_factory)
    print("\n" + report(m))
    ranks = m.passage_ranks
    for mode in ("vector", "fulltext"):
        assert hit_at(ranks["hybrid"]) >= hit_at(ranks[mode]), (mode, report(m))
        assert mrr(ranks["hybrid"]) >= mrr(ranks[mode]), (mode, report(m))
    # and the search is good enough for a clone to work with
    assert hit_at(ranks["hybrid"]) >= 0.8, report(m)


async def test_relevant_keeps_answers_and_turns_away_the_rest(
    creator_platform_factory: Any,
) -> None:
    m = await measure(creator_platform_factory)
    print("\n" + report(m))
    r = relevance_rates(m)
    # Measured floors (see retrieval.py): on-topic questions the corpus cannot answer
    # score about as high as paraphrased answerable ones with e5-small, so the targets of
    # 0.9 kept / 0.8 turned away are not reached together by any cosine/word rule. The
    # held-out unanswerable questions are all kept (0 of 6 turned away, with the search of
    # before this session too): 0.364 in all (0.409 with that search), 0.500 of the other 16.
    assert r["kept_of_retrieved"] >= 0.85, report(m)
    assert r["unanswerable_empty"] >= 0.35, report(m)
    assert r["off_topic_empty"] == 1.0, report(m)
    for question, kept in m.kept.items():  # in retrieval order, numbered again 1..m
        assert [p.index for p in kept] == list(range(1, len(kept) + 1)), question
        ids = {p.knowledge_id for p in kept}
        order = [p.knowledge_id for p in m.retrieved[question] if p.knowledge_id in ids]
        assert [p.knowledge_id for p in kept] == order, question


async def test_retrieve_passages(creator_platform_factory: Any) -> None:
    m = await measure(creator_platform_factory)
    question = ANSWERABLE[0]["question"]
    found = m.retrieved[question]
    assert [p.index for p in found] == list(range(1, RETRIEVED + 1))
    for p in found:
        assert p.title and p.source_id and p.knowledge_id and p.text
        assert 0.0 < p.score <= 1.0  # a cosine similarity, not a fused rank score
    assert retrieval.relevant("", found) == []
    assert retrieval.relevant(question, []) == []
    # A model with no calibrated threshold: the word evidence alone decides.
    other = retrieval.relevant(question, found, model="some-other-embedding-model")
    assert other and all(
        retrieval.word_evidence(retrieval.content_words(question), p.text)[1] >= 1 for p in other
    )


async def test_offline_provider_cites_the_answer(creator_platform_factory: Any) -> None:
    m = await measure(creator_platform_factory)
    provider = OfflineProvider()

    async def cites_answer(
        q: dict[str, Any], passages: list[Passage], with_closeness: bool = True
    ) -> bool:
        request = AnswerRequest(
            system_prompt="",
            history=[],
            question=q["question"],
            passages=passages,
            closeness=m.closeness[q["question"]] if with_closeness else {},
        )
        finished = Finished()
        async for item in provider.stream(request):
            if isinstance(item, Finished):
                finished = item
        by_index = {p.index: p for p in passages}
        cited = [by_index[i] for i in finished.cited if i in by_index]
        return _contains_answer(cited, q)

    as_served = [await cites_answer(q, m.kept[q["question"]]) for q in ANSWERABLE]
    by_words = [await cites_answer(q, m.kept[q["question"]], False) for q in ANSWERABLE]
    unfiltered = [await cites_answer(q, m.retrieved[q["question"]]) for q in ANSWERABLE]
    rate = sum(as_served) / len(ANSWERABLE)
    held = sum(as_served[i] for i in HELD_OUT) / max(1, len(HELD_OUT))
    print("\n" + report(m))
    print(
        f"offline provider cites the answer: {rate:.3f} of answerable questions, "
        f"{held:.3f} of the held-out ones "
        f"(given retrieve()'s {RETRIEVED} passages unfiltered: "
        f"{sum(unfiltered) / len(ANSWERABLE):.3f}; without sentence vectors: "
        f"{sum(by_words) / len(ANSWERABLE):.3f}, held out "
        f"{sum(by_words[i] for i in HELD_OUT) / max(1, len(HELD_OUT)):.3f})"
    )
    given = [_contains_answer(m.kept[q["question"]], q) for q in ANSWERABLE]
    wrong = [
        q["question"]
        for q, ok, had in zip(ANSWERABLE, as_served, given, strict=True)
        if had and not ok
    ]
    print(
        f"  misses: {len(ANSWERABLE) - sum(given)} without the answer passage among the "
        f"passages given (retrieval or relevant()), {len(wrong)} with it but citing "
        f"another: {wrong}"
    )
    # 0.823 (65 of 79), 0.833 of the held out; 0.797 on words alone (see the docstring)
    assert rate >= 0.8, (rate, wrong)


#: ``Quoted sentence [n].`` as the offline provider writes it: the sentence, its marker.
_QUOTED = re.compile(r"\s*(.+?)\s*\[\d+\](?:[.!?\u2026]+[\"'\u201d\u2019)\]]*|\u2026)?(?=\s|$)")


def quoted_sentences(answer: str) -> list[str]:
    """The sentences an offline answer quotes, without their ``[n]`` markers."""
    return [m.group(1) for m in _QUOTED.finditer(answer)]


def fluency_problems(question: str, answer: str) -> list[str]:
    """What reads badly in an offline ``answer`` to ``question``: a sentence that starts
    in lower case (a fragment), one that ends on a colon (its list left behind), one that
    is only a heading (under four words), or one that shares no word with the question
    (quoted though it is about something else: a paraphrase's answer is exempt when it
    is the only sentence)."""
    problems = []
    sentences = quoted_sentences(answer)
    asked = offline_words(question)
    for sentence in sentences:
        first = sentence.lstrip("\"'\u201c\u2018(")[:1]
        if first.islower():
            problems.append(f"starts in lower case: {sentence!r}")
        if sentence.rstrip().endswith(":"):
            problems.append(f"ends on a colon: {sentence!r}")
        if len(sentence.split()) < 4:
            problems.append(f"a heading, not a sentence: {sentence!r}")
        if len(sentences) > 1 and not (offline_words(sentence) & asked):
            problems.append(f"shares no word with the question: {sentence!r}")
    return problems


async def test_offline_answers_read_as_sentences(creator_platform_factory: Any) -> None:
    """The fluency check: every offline answer to the corpus's answerable questions is
    made of whole sentences on the question's subject, and the pickup question is answered
    with the sentence about pickup, not the one about shipping that shares its words."""
    m = await measure(creator_platform_factory)
    provider = OfflineProvider()
    answers: dict[str, str] = {}
    for q in ANSWERABLE:
        request = AnswerRequest(
            system_prompt="",
            history=[],
            question=q["question"],
            passages=m.kept[q["question"]],
            closeness=m.closeness[q["question"]],
        )
        answers[q["question"]] = "".join(
            [item.text async for item in provider.stream(request) if isinstance(item, TextDelta)]
        )
    problems = {
        question: found
        for question, answer in answers.items()
        if (found := fluency_problems(question, answer))
    }
    for question, answer in answers.items():
        print(f"\nQ: {question}\nA: {answer}")
        for problem in problems.get(question, []):
            print(f"   ! {problem}")
    fluent = 1 - len(problems) / len(answers)
    print(f"\noffline answers with no fluency problem: {fluent:.3f} ({len(problems)} with one)")
    pickup = answers["When can I pick up my order?"]
    assert quoted_sentences(pickup)[0].startswith("Pickup is possible on Fridays"), pickup
    assert all(
        not p.startswith(("starts in lower case", "ends on a colon"))
        for found in problems.values()
        for p in found
    ), problems
    assert fluent >= 0.9, problems

"""The ``offline`` LLM provider: an extractive answerer that quotes the retrieved
passages' best sentences, with no model at all."""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass

from plugins.clone.providers.base import AnswerRequest, Finished, Passage, StreamItem, TextDelta
from plugins.clone.text import (
    HEADING,
    ITEM,
    STOP_WORDS,
    content_words,
    marked_sentences,
    stem,
    words_of,
)

OFFLINE_MODEL = "extractive"
#: What the offline provider says when the passages do not answer the question.
OFFLINE_DONT_KNOW = "I don't know — I couldn't find anything about that in my sources."
#: Most sentences an offline answer quotes on their words (the closest by embedding may
#: make one more).
MAX_SENTENCES = 3
#: The first passage's best sentence leads the answer if it scores at least this share of
#: the best sentence's score (chosen on half of the clone's evaluation questions).
LEAD_SHARE = 0.5
#: No sentence is quoted that scores less than this share of the best one.
QUOTE_SHARE = 0.3
#: Longest sentence quoted whole (words); a longer one is cut with an ellipsis.
MAX_SENTENCE_WORDS = 60
#: Most list items read after a sentence that ends on a colon.
MAX_ITEMS = 5
#: The sentence closest to the question by embedding is quoted too only when the chosen
#: ones are at least this much further from the question (a cosine): it is there for the
#: paraphrase whose answer shares no word with it, not to add a sentence to every answer.
NEAREST_MARGIN = 0.01
_END = re.compile(r"([.!?\u2026]+)([\"'\u201d\u2019)\]]*)$")


@dataclass(frozen=True)
class _Sentence:
    rank: int  # the passage's position in the retrieved list
    position: int  # the sentence's position in its passage
    passage: Passage
    text: str
    stems: frozenset[str]
    length: int
    kind: str = "text"
    #: the list items after it, when it ends on a colon (what it introduces)
    items: tuple[str, ...] = ()

    def written(self) -> str:
        """The sentence as the answer says it: starting with a capital letter, and with
        the items it introduces when it ends on a colon (never left dangling)."""
        text = self.text
        if self.items:
            items = [item.rstrip(".;,") for item in self.items]
            text = f"{text} {'; '.join(items)}."
        elif text.endswith(":"):
            text = text[:-1].rstrip() + "."
        return text[:1].upper() + text[1:]


def _cited_sentence(text: str, index: int) -> str:
    """``text`` with ``[index]`` before its final punctuation, cut if very long."""
    words = text.split()
    if len(words) > MAX_SENTENCE_WORDS:
        return " ".join(words[:MAX_SENTENCE_WORDS]).rstrip(",;:") + f"… [{index}]"
    end = _END.search(text)
    if end is None:
        return f"{text} [{index}]."
    return f"{text[: end.start()].rstrip()} [{index}]{end.group(1)}{end.group(2)}"


class OfflineProvider:
    """Answers with no model at all: quotes the one to three (four) sentences of the
    retrieved passages that best answer the question, each followed by its passage's
    ``[n]``.

    Sentences are scored by the content words (stemmed, stop words dropped) they share
    with the question, each weighted by its IDF over the passages' sentences, with a small
    bonus for the passage's retrieval rank; very short sentences, very long ones and those
    that only repeat the question's words (headings) count less. When no sentence shares
    a content word with the question, it says it does not know. The first passage's best
    sentence comes first (retrieval ranked that passage best) unless it scores less than
    half as well as the best one, then the best-scoring sentence if it is another, then
    the best sentence of the passage closest to the question in meaning (the highest
    ``score``, a cosine) if none is from it yet; more follow if they answer a part of the
    question the others did not, or score nearly as well as the best. No sentence scoring
    less than ``QUOTE_SHARE`` of the best is quoted. Last, given the request's
    ``closeness`` (each sentence's cosine to the question, from the vectors training made:
    :mod:`plugins.clone.sentences`), the sentence closest to the question by embedding is
    quoted too if it is not yet: it holds the answer to many a paraphrase that shares no
    word with it. Deterministic and cheap: it embeds nothing itself; without
    ``closeness`` it answers on words alone. How often it cites the answer on the
    clone's evaluation corpus is in ``docs/clone.md``.

    It answers in whole sentences (the evaluation's fluency check): no heading is quoted
    (:func:`plugins.clone.text.marked_sentences`), a sentence ending on a colon is said
    with the list items after it, and each starts with a capital letter. A question
    asking when, how long or how much (:func:`answer_kind`) is led by the best sentence
    saying a time, a duration or a price, scoring at least half as well as the best; once
    one leads, only such sentences follow. A phrasal verb of the question ("pick up")
    matches its one-word noun ("pickup"), not its verb alone."""

    name = "offline"
    #: It calls a clone's tools when the question plainly asks for them
    #: (:mod:`plugins.clone.offline_tools`).
    supports_tools = True
    #: It quotes the sentence closest to the question too, given
    #: :attr:`AnswerRequest.closeness` (the clone's services fetch it only for it).
    reads_closeness = True

    async def stream(self, request: AnswerRequest) -> AsyncIterator[StreamItem]:
        from plugins.clone import offline_tools

        said = ""
        if request.tools:
            if not offline_tools.last_tool_round(request.history):
                calls = offline_tools.tool_calls(request.question, request.tools)
                if calls:
                    for call in calls:
                        yield call
                    yield Finished(cited=[], model=OFFLINE_MODEL)
                    return
            said = offline_tools.describe(request.history)
        chosen = self.choose(request.question, request.passages, request.closeness)
        if said:
            yield TextDelta(said + ("\n\n" if chosen else ""))
        if not chosen:
            if not said:
                yield TextDelta(OFFLINE_DONT_KNOW)
            yield Finished(cited=[], model=OFFLINE_MODEL)
            return
        quotes: dict[int, list[str]] = {}
        for number, sentence in enumerate(chosen):
            piece = _cited_sentence(sentence.written(), sentence.passage.index)
            yield TextDelta(piece if number == 0 else " " + piece)
            quotes.setdefault(sentence.passage.index, []).extend([sentence.text, *sentence.items])
        yield Finished(cited=list(quotes), model=OFFLINE_MODEL, quotes=quotes)

    def choose(
        self,
        question: str,
        passages: Sequence[Passage],
        closeness: Mapping[str, Mapping[int, float]] | None = None,
    ) -> list[_Sentence]:
        """The sentences of ``passages`` that answer ``question``, best first (empty: none
        shares a content word with it). ``closeness`` is each sentence's cosine to the
        question, by passage and position, where known (:attr:`AnswerRequest.closeness`)."""
        # "pick up" is matched as "pickup" (also "picked up"), not as "pick": "first pick
        # of the sale" is about something else
        asked = offline_words(question) - set(_phrasal_heads(question).values())
        if not asked or not passages:
            return []

        def matching(stems: frozenset[str]) -> frozenset[str]:
            return stems & asked

        wanted = answer_kind(question)
        sentences: list[_Sentence] = []
        for rank, passage in enumerate(passages):
            marked = marked_sentences(passage.text)
            for position, (text, kind) in enumerate(marked):
                words = content_words(text)
                if not words or kind == HEADING:
                    continue  # a heading names a subject, it answers nothing
                items: tuple[str, ...] = ()
                if text.endswith(":"):
                    following = marked[position + 1 : position + 1 + MAX_ITEMS]
                    items = tuple(t for t, k in _leading(following, ITEM))
                if items:  # what it says is its list too
                    text_with_items = " ".join((text, *items))
                    words = content_words(text_with_items)
                    stems = offline_words(text_with_items, words)
                else:
                    stems = offline_words(text, words)
                sentences.append(
                    _Sentence(rank, position, passage, text, stems, len(words), kind, items)
                )
        if not sentences:
            return []
        frequency: dict[str, int] = {}
        for sentence in sentences:
            for word in matching(sentence.stems):
                frequency[word] = frequency.get(word, 0) + 1
        if not frequency:
            return []
        total = len(sentences) + 1
        idf = {word: math.log(total / count) + 0.1 for word, count in frequency.items()}
        ranks = len(passages)
        scored: list[tuple[float, _Sentence]] = []
        for sentence in sentences:
            matched = matching(sentence.stems)
            if not matched:
                continue
            score = sum(idf[word] for word in matched)
            if not sentence.stems - asked:
                score *= 0.3  # only says the question back (a heading): tells nothing
            if sentence.length < 3:
                score *= 0.6  # a heading or a fragment says little
            elif sentence.length > 30:
                score /= 1 + (sentence.length - 30) / 60
            score *= 1 + 0.25 * (ranks - sentence.rank) / ranks
            scored.append((score, sentence))
        scored.sort(key=lambda item: (-item[0], item[1].rank, item[1].position))
        best_score, best = scored[0]
        # The first passage is the likeliest to hold the answer (retrieval ranks by meaning
        # as well as words), so its best sentence leads even when a lower passage's shares
        # more words with the question, unless it scores less than half as well; the
        # best-scoring sentence follows it.
        lead_score, lead = next(
            ((score, s) for score, s in scored if s.rank == 0 and s.stems - asked),
            (best_score, best),
        )
        if lead_score < LEAD_SHARE * best_score:
            lead = best
        if wanted is not None and not wanted(lead.text):
            # "When ...?" is answered by the sentence that says when: the best one that
            # does leads, if it scores at least half as well as the best
            lead = next(
                (
                    s
                    for score, s in scored
                    if score >= LEAD_SHARE * best_score and s.stems - asked and wanted(s.text)
                ),
                lead,
            )
        # When the lead says what was asked (a time for "when"), the other sentences
        # must too: the one about shipping shares "order" with "When can I pick up my
        # order?", but says nothing of when.
        focused = wanted is not None and wanted(lead.text)

        def fits(sentence: _Sentence) -> bool:
            return not focused or (wanted is not None and wanted(sentence.text))

        chosen = [lead] if lead is best or not fits(best) else [lead, best]
        # The passage closest to the question in meaning (its cosine) holds the answer
        # to many a paraphrase that shares few words with the answer's sentence, so its
        # best sentence is quoted too when no other is from it (unless it says the same).
        closest = max(range(ranks), key=lambda rank: passages[rank].score)
        if all(s.rank != closest for s in chosen):
            chosen += [
                s
                for score, s in scored
                if s.rank == closest
                and score >= QUOTE_SHARE * best_score
                and s.stems - asked
                and fits(s)
                and not any(_similar(s.stems, other.stems) for other in chosen)
            ][:1]
        covered = set().union(*(s.stems & asked for s in chosen))
        for score, sentence in scored[1:]:
            if len(chosen) >= MAX_SENTENCES or score < QUOTE_SHARE * best_score:
                break
            if (
                sentence is lead
                or not fits(sentence)
                or not sentence.stems - asked
                or any(_similar(sentence.stems, other.stems) for other in chosen)
            ):
                continue
            matched = matching(sentence.stems)
            new = matched - covered
            # what it adds: its score's share from question words not answered yet
            gain = score * sum(idf[w] for w in new) / sum(idf[w] for w in matched)
            if gain >= 0.3 * best_score or score >= 0.75 * best_score:
                chosen.append(sentence)
                covered |= new
        if closeness:
            nearest = _nearest(sentences, closeness)
            if nearest is not None and all(nearest is not s for s in chosen):
                near = _cosine(nearest, closeness)
                if fits(nearest) and all(
                    _cosine(s, closeness) <= near - NEAREST_MARGIN for s in chosen
                ):
                    chosen.append(nearest)
        return chosen


#: A number standing alone (``14 days``), not part of a hyphened word (``14-year-old``).
_LONE_NUMBER = re.compile(r"(?<![a-z0-9])(?<![a-z]-)[0-9]+(?![a-z0-9]|-[a-z])")


#: Second words of phrasal verbs that English also writes as one noun: ``pick up`` and
#: ``pickup``, ``check out`` and ``checkout``, ``log in`` and ``login``.
_PARTICLES = frozenset("up in out off on down over back away".split())


def offline_words(text: str, words: Sequence[str] | None = None) -> frozenset[str]:
    """``text``'s content words (``words``, if already computed), a number only where it
    stands alone: the 14 of ``14-year-old`` does not match the 14 of ``14 days``; and a
    phrasal verb also as one word (``pick up`` and ``picked up`` also as ``pickup``)."""
    if words is None:
        words = content_words(text)
    numbers = set(_LONE_NUMBER.findall(text.lower()))
    found = {w for w in words if not w.isdigit() or w in numbers}
    found.update(_phrasal_heads(text))
    return frozenset(found)


def _phrasal_heads(text: str) -> dict[str, str]:
    """``text``'s phrasal verbs as one word, each with its verb's stem:
    ``{"pickup": "pick"}`` for "pick up"."""
    return {
        stem(first) + second: stem(first)
        for first, second in itertools.pairwise(words_of(text))
        if second in _PARTICLES and first not in STOP_WORDS and first.isalpha()
    }


def _leading(marked: Sequence[tuple[str, str]], kind: str) -> list[tuple[str, str]]:
    """The first entries of ``marked`` of ``kind``, up to the first of another kind."""
    run = []
    for entry in marked:
        if entry[1] != kind:
            break
        run.append(entry)
    return run


def _cosine(sentence: _Sentence, closeness: Mapping[str, Mapping[int, float]]) -> float:
    return closeness.get(sentence.passage.knowledge_id, {}).get(sentence.position, -1.0)


# -- what kind of answer a question asks for ------------------------------------------------

_WEEKDAYS = "monday tuesday wednesday thursday friday saturday sunday weekday weekend"
_MONTHS = "january february march april may june july august september october november december"
_TIME_WORDS = frozenset(
    (_WEEKDAYS + " " + _WEEKDAYS.replace("day", "days") + " " + _MONTHS).split()
    + "morning mornings afternoon afternoons evening evenings noon midnight daily weekly "
    "monthly yearly tonight tomorrow today".split()
)
_DURATION_UNITS = frozenset(
    "minute minutes hour hours day days week weeks month months year years".split()
)
_NUMBER_WORDS = frozenset(
    "one two three four five six seven eight nine ten eleven twelve fifteen twenty thirty "
    "forty fifty hundred half a an".split()
)


def _says_when(text: str) -> bool:
    """Whether ``text`` names a time: a day, a month, a time of day or a year."""
    for token in words_of(text):
        if token in _TIME_WORDS:
            return True
        if token[-2:] in ("am", "pm") and token[:-2].isdigit():
            return True  # 2pm
        if len(token) == 4 and token.isdigit() and token[:2] in ("19", "20"):
            return True  # a year
    return any(c == ":" and text[i - 1 : i].isdigit() for i, c in enumerate(text))  # 14:00


def _says_how_long(text: str) -> bool:
    """Whether ``text`` names a duration: a number of minutes, hours, days, ..."""
    tokens = words_of(text)
    return any(
        unit in _DURATION_UNITS and (number.isdigit() or number in _NUMBER_WORDS)
        for number, unit in itertools.pairwise(tokens)
    )


_PRICE_WORDS = frozenset(
    "free euro euros eur dollar dollars usd pound pounds gbp cent cents price".split()
)


def _says_how_much(text: str) -> bool:
    """Whether ``text`` names a price (a currency sign or word, or "free")."""
    return any(c in "$\u20ac\u00a3" for c in text) or not _PRICE_WORDS.isdisjoint(words_of(text))


def answer_kind(question: str) -> Callable[[str], bool] | None:
    """What a sentence must say to answer ``question`` (its question word asks for a
    time, a duration or a price), as a test of a sentence; ``None``: any."""
    tokens = words_of(question)
    pairs = set(itertools.pairwise(tokens))
    if ("how", "long") in pairs:
        return _says_how_long
    if ("how", "much") in pairs or {"cost", "costs", "price", "charge", "fee"} & set(tokens):
        return _says_how_much
    if "when" in tokens or ("what", "time") in pairs:
        return _says_when
    return None


def _nearest(
    sentences: Sequence[_Sentence], closeness: Mapping[str, Mapping[int, float]]
) -> _Sentence | None:
    """The sentence closest to the question by embedding (``None``: none was embedded)."""
    best: tuple[float, _Sentence] | None = None
    for sentence in sentences:
        cosine = closeness.get(sentence.passage.knowledge_id, {}).get(sentence.position)
        if cosine is not None and (best is None or cosine > best[0]):
            best = (cosine, sentence)
    return best[1] if best else None


def _similar(a: frozenset[str], b: frozenset[str]) -> bool:
    return len(a & b) >= 0.8 * len(a | b)

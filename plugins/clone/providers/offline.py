"""The ``offline`` LLM provider: an extractive answerer that quotes the retrieved
passages' best sentences, with no model at all."""

from __future__ import annotations

import math
import re
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass

from plugins.clone.providers.base import AnswerRequest, Finished, Passage, StreamItem, TextDelta
from plugins.clone.text import content_words, split_sentences

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
_END = re.compile(r"([.!?\u2026]+)([\"'\u201d\u2019)\]]*)$")


@dataclass(frozen=True)
class _Sentence:
    rank: int  # the passage's position in the retrieved list
    position: int  # the sentence's position in its passage
    passage: Passage
    text: str
    stems: frozenset[str]
    length: int


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
    clone's evaluation corpus is in ``docs/clone.md``."""

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
        cited: dict[int, None] = {}
        for number, sentence in enumerate(chosen):
            piece = _cited_sentence(sentence.text, sentence.passage.index)
            yield TextDelta(piece if number == 0 else " " + piece)
            cited.setdefault(sentence.passage.index, None)
        yield Finished(cited=list(cited), model=OFFLINE_MODEL)

    def choose(
        self,
        question: str,
        passages: Sequence[Passage],
        closeness: Mapping[str, Mapping[int, float]] | None = None,
    ) -> list[_Sentence]:
        """The sentences of ``passages`` that answer ``question``, best first (empty: none
        shares a content word with it). ``closeness`` is each sentence's cosine to the
        question, by passage and position, where known (:attr:`AnswerRequest.closeness`)."""
        asked = _offline_words(question)
        if not asked or not passages:
            return []
        sentences: list[_Sentence] = []
        for rank, passage in enumerate(passages):
            for position, text in enumerate(split_sentences(passage.text)):
                words = content_words(text)
                if words:
                    stems = _offline_words(text, words)
                    sentences.append(_Sentence(rank, position, passage, text, stems, len(words)))
        if not sentences:
            return []
        frequency: dict[str, int] = {}
        for sentence in sentences:
            for word in sentence.stems & asked:
                frequency[word] = frequency.get(word, 0) + 1
        if not frequency:
            return []
        total = len(sentences) + 1
        idf = {word: math.log(total / count) + 0.1 for word, count in frequency.items()}
        ranks = len(passages)
        scored: list[tuple[float, _Sentence]] = []
        for sentence in sentences:
            matched = sentence.stems & asked
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
        chosen = [lead] if lead is best else [lead, best]
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
                and not any(_similar(s.stems, other.stems) for other in chosen)
            ][:1]
        covered = set().union(*(s.stems & asked for s in chosen))
        for score, sentence in scored[1:]:
            if len(chosen) >= MAX_SENTENCES or score < QUOTE_SHARE * best_score:
                break
            if (
                sentence is lead
                or not sentence.stems - asked
                or any(_similar(sentence.stems, other.stems) for other in chosen)
            ):
                continue
            matched = sentence.stems & asked
            new = matched - covered
            # what it adds: its score's share from question words not answered yet
            gain = score * sum(idf[w] for w in new) / sum(idf[w] for w in matched)
            if gain >= 0.3 * best_score or score >= 0.75 * best_score:
                chosen.append(sentence)
                covered |= new
        if closeness:
            nearest = _nearest(sentences, closeness)
            if nearest is not None and all(nearest is not s for s in chosen):
                chosen.append(nearest)
        return chosen


#: A number standing alone (``14 days``), not part of a hyphened word (``14-year-old``).
_LONE_NUMBER = re.compile(r"(?<![a-z0-9])(?<![a-z]-)[0-9]+(?![a-z0-9]|-[a-z])")


def _offline_words(text: str, words: Sequence[str] | None = None) -> frozenset[str]:
    """``text``'s content words (``words``, if already computed), a number only where it
    stands alone: the 14 of ``14-year-old`` does not match the 14 of ``14 days``."""
    if words is None:
        words = content_words(text)
    numbers = set(_LONE_NUMBER.findall(text.lower()))
    return frozenset(w for w in words if not w.isdigit() or w in numbers)


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

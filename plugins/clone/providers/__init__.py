"""LLM providers: what writes a clone's answer from the question, the conversation and the
retrieved passages. (Interfaces; the providers helper fills in the implementations.)"""

from __future__ import annotations

import functools
import json
import math
import os
import re
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol
from urllib.parse import urlsplit, urlunsplit

from plugins.clone.registry import collect_named

if TYPE_CHECKING:
    import openai
    from openai import AsyncOpenAI
    from openai.types.chat import (
        ChatCompletionAssistantMessageParam,
        ChatCompletionMessageParam,
        ChatCompletionMessageToolCallParam,
        ChatCompletionToolParam,
    )
    from openai.types.chat.chat_completion_chunk import ChoiceDeltaToolCall

    import sdk


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk the answer may use; ``index`` is how the prompt numbers it."""

    index: int
    source_id: str
    knowledge_id: str
    title: str
    text: str
    score: float


@dataclass(frozen=True)
class ChatMessage:
    role: Literal["system", "user", "assistant", "tool"]
    content: str
    tool_call_id: str | None = None
    tool_calls: list[dict[str, Any]] | None = None


@dataclass(frozen=True)
class ToolSpec:
    """A function the model may call: name, description, JSON schema of the arguments."""

    name: str
    description: str
    parameters: dict[str, Any]


@dataclass
class AnswerRequest:
    """Everything a provider needs for one answer."""

    system_prompt: str
    history: Sequence[ChatMessage]
    question: str
    passages: Sequence[Passage]
    model: str = ""
    temperature: float = 0.3
    tools: Sequence[ToolSpec] = ()
    max_tokens: int = 800
    #: How close each sentence of the passages is to the question, where training
    #: embedded them: ``{knowledge_id: {position in split_sentences(text): cosine}}``
    #: (:mod:`plugins.clone.sentences`). The offline provider uses it; models ignore it.
    closeness: Mapping[str, Mapping[int, float]] = field(default_factory=dict)


@dataclass(frozen=True)
class TextDelta:
    """Part of the answer's text, streamed as it is written."""

    text: str


@dataclass(frozen=True)
class ToolRequest:
    """The model asks for a tool call; the caller runs it and asks again with the result."""

    id: str
    name: str
    arguments: str


@dataclass(frozen=True)
class Finished:
    """The answer is complete. ``cited`` are the passage indexes the answer used."""

    cited: list[int] = field(default_factory=list)
    model: str = ""


StreamItem = TextDelta | ToolRequest | Finished


class LLMProvider(Protocol):
    name: str

    def stream(self, request: AnswerRequest) -> AsyncIterator[StreamItem]:
        """Yield the answer as ``TextDelta`` pieces, possibly ``ToolRequest`` items (then
        stop: the caller runs the tools and calls again with their results in
        ``history``), and one ``Finished`` last."""
        ...


def collect_providers(platform: sdk.Platform) -> dict[str, LLMProvider]:
    """The LLM providers of the enabled plugins, by name."""
    providers: dict[str, LLMProvider] = collect_named(
        platform, "register_llm_providers", ("stream",)
    )
    return providers


# -- citations -----------------------------------------------------------------------------

#: ``[1]``, ``[1, 2]``, ``[1;2]``, ``[1-3]``: a bracket holding only passage numbers.
_CITATION = re.compile(r"\[\s*(\d{1,4}(?:\s*(?:[,;]|-|\u2013|\u2014)\s*\d{1,4})*)\s*\]")
_CITED_NUMBER = re.compile(r"(\d{1,4})(?:\s*(?:-|\u2013|\u2014)\s*(\d{1,4}))?")
#: Longest range (``[1-3]``) read as a list of passages.
_MAX_RANGE = 20


def citations_in(text: str, passages: Sequence[Passage]) -> list[int]:
    """The passage indexes ``text`` cites as ``[n]`` (also ``[1, 2]``, ``[1][2]`` and
    ``[1-3]``): in the order of their first citation, each once, only indexes of
    ``passages``."""
    valid = {p.index for p in passages}
    found: dict[int, None] = {}
    for match in _CITATION.finditer(text):
        for number in _CITED_NUMBER.finditer(match.group(1)):
            first = int(number.group(1))
            last = int(number.group(2)) if number.group(2) else first
            if not first <= last <= first + _MAX_RANGE:
                last = first
            for index in range(first, last + 1):
                if index in valid:
                    found.setdefault(index, None)
    return list(found)


# -- offline: an extractive answerer ---------------------------------------------------------

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

_STOP_WORDS = frozenset(
    """
    a about above after again against all also am an and any are aren as at be because been
    before being below between both but by can cannot could couldn did didn do does doesn
    doing don down during each either else ever every few for from further get gets got had
    hadn has hasn have haven having he her here hers herself him himself his how however i
    if in into is isn it its itself just know let like ll me might more most much must
    mustn my myself need no nor not now of off on once one only or other ought our ours
    ourselves out over own please re really same say shall shan she should shouldn so some
    such tell than thank thanks that the their theirs them themselves then there these they
    this those through to too under until up upon us ve very via want was wasn way we were
    weren what whats when where whether which while who whom whose why will with within
    without won would wouldn yes yet you your yours yourself yourselves
    """.split()
)
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_DOUBLED = re.compile(r"([b-df-hj-km-npqrtv-y])\1$")
_BREAK = re.compile(r"[.!?\u2026]+[\"'\u201d\u2019)\]]*\s+")
_ABBREVIATIONS = frozenset(
    "mr mrs ms dr prof sr jr st vs etc eg ie e.g i.e no fig approx inc ltd co".split()
)
_LIST_MARK = re.compile(r"^\s*(?:#{1,6}\s+|[-*•+>]\s+|\d{1,3}[.)]\s+)")
_END = re.compile(r"([.!?\u2026]+)([\"'\u201d\u2019)\]]*)$")


@functools.lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """A light suffix-stripping stemmer: the same stem for ``refund``, ``refunds`` and
    ``refunded``, ``policy`` and ``policies``, ``ship``, ``ships`` and ``shipping``,
    ``retail`` and ``retailers``, ``teach`` and ``teacher``."""
    if len(word) <= 3 or word.isdigit():
        return word
    if word.endswith("'s"):
        word = word[:-2]
    elif "'" in word:
        word = word.replace("'", "")
    if word[-1] not in "sgdyer":
        return word  # no suffix below ends so
    if word.endswith("ies") and len(word) > 4:
        word = word[:-3] + "y"
    elif word.endswith("sses"):
        word = word[:-2]
    elif word.endswith(("xes", "ches", "shes", "zes")):
        word = word[:-2]
    elif word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    for suffix in ("ingly", "edly", "ing", "ed", "ly"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)]
            if suffix in ("ing", "ed", "ingly", "edly") and _DOUBLED.search(word):
                word = word[:-1]  # shipped, shipping → ship
            break
    if word.endswith("er") and len(word) >= 7:
        # one who does it, or more of it (Porter's -er), kept off short words where it is
        # no suffix: member, order, offer, water. After -ed and -ing, so that deliver,
        # delivered and delivering keep one stem.
        word = word[:-2]
        if _DOUBLED.search(word):
            word = word[:-1]  # beginner → begin
    if word.endswith("e") and len(word) > 3:
        word = word[:-1]  # price, priced, pricing → pric
    return word


def content_words(text: str) -> list[str]:
    """The stems of ``text``'s words that are not stop words."""
    words = _WORD.findall(text.lower().replace("\u2019", "'"))
    return [stem(w) for w in words if w.split("'")[0] not in _STOP_WORDS]


def split_sentences(text: str) -> list[str]:
    """``text`` cut into sentences: at line breaks and after ``.``, ``!`` or ``?`` followed
    by a capital letter or digit (not after a common abbreviation); list markers and
    heading marks dropped, whitespace collapsed."""
    sentences: list[str] = []
    for line in text.splitlines():
        line = _LIST_MARK.sub("", line).strip()
        if not line:
            continue
        start = 0
        for match in _BREAK.finditer(line):
            after = line[match.end() : match.end() + 2].lstrip("\"'\u201c\u2018([")
            if not after or not (after[0].isupper() or after[0].isdigit()):
                continue
            before = line[start : match.start()].rsplit(None, 1)
            if before and before[-1].lower().rstrip(".") in _ABBREVIATIONS:
                continue
            sentences.append(line[start : match.end()])
            start = match.end()
        sentences.append(line[start:])
    return [" ".join(s.split()) for s in sentences if s.strip()]


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
    word with it. Deterministic and fast (a few milliseconds for eight long passages): it
    embeds nothing itself; without ``closeness`` it answers on words alone.

    On the clone's evaluation corpus it cites a passage holding the answer for 0.823 of
    the answerable questions (0.833 of those held out), 0.797 (0.778) on words alone,
    0.734 before it quoted the closest passage's sentence
    (``tests/plugins/clone/test_retrieval_quality.py``)."""

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


# -- openai: any OpenAI-compatible chat completions API ----------------------------------------

DEFAULT_CHAT_MODEL = "gpt-4o-mini"

#: Appended to the clone's system prompt.
GROUNDING = (
    "Answer only from the numbered passages below. After each statement, cite the passages "
    "it comes from by their numbers in square brackets, like [1] or [2][3]. If the passages "
    "do not contain the answer, say that you don't know; never make anything up."
)


#: Added to the grounding when the model has tools.
TOOL_GROUNDING = (
    " You may also call the tools you are given and answer from their results; say which "
    "tool the facts come from. Record a lead only when the visitor asked to be contacted "
    "and gave their name and email."
)


class ProviderError(Exception):
    """An LLM provider could not answer: the service is unreachable, too slow, refuses the
    key, is rate-limited or fails. The message says which, and never holds a secret.
    ``status`` is the HTTP status the service answered with, if any."""

    def __init__(self, message: str, *, status: int | None = None, provider: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.provider = provider


def passages_block(passages: Sequence[Passage]) -> str:
    """The passages as the numbered block the prompt gives the model."""
    if not passages:
        return "Passages: (none)"
    parts = ["Passages:"]
    for p in passages:
        head = f"[{p.index}] {p.title}".rstrip()
        parts.append(f"{head}\n{p.text.strip()}")
    return "\n\n".join(parts)


def _tool_call_param(call: dict[str, Any]) -> ChatCompletionMessageToolCallParam:
    """A tool call of the history in the API's shape; accepts that shape or a flat
    ``{"id", "name", "arguments"}`` (arguments as a JSON string or a dict)."""
    function = call.get("function")
    fn: dict[str, Any] = function if isinstance(function, dict) else call
    arguments = fn.get("arguments", "{}")
    if not isinstance(arguments, str):
        arguments = json.dumps(arguments)
    return {
        "id": str(call.get("id", "")),
        "type": "function",
        "function": {"name": str(fn.get("name", "")), "arguments": arguments or "{}"},
    }


def _message_param(message: ChatMessage) -> ChatCompletionMessageParam:
    if message.role == "tool":
        if not message.tool_call_id:
            raise ValueError("a tool message in the history has no tool_call_id")
        return {"role": "tool", "tool_call_id": message.tool_call_id, "content": message.content}
    if message.role == "assistant":
        assistant: ChatCompletionAssistantMessageParam = {"role": "assistant"}
        if message.content or not message.tool_calls:
            assistant["content"] = message.content
        if message.tool_calls:
            assistant["tool_calls"] = [_tool_call_param(c) for c in message.tool_calls]
        return assistant
    if message.role == "system":
        return {"role": "system", "content": message.content}
    return {"role": "user", "content": message.content}


def build_messages(request: AnswerRequest) -> list[ChatCompletionMessageParam]:
    """The conversation sent for ``request``: one system message (the clone's prompt, the
    grounding rules and the numbered passages: one, because some local servers' chat
    templates refuse more), the history, and the question. When the history ends with a
    round of tool calls and their results (the caller asking again after running them),
    the question goes before that round, where it was asked."""
    grounding = GROUNDING + (TOOL_GROUNDING if request.tools else "")
    system = "\n\n".join(
        part
        for part in (request.system_prompt.strip(), grounding, passages_block(request.passages))
        if part
    )
    history = list(request.history)
    cut = len(history)
    while cut > 0 and history[cut - 1].role == "tool":
        cut -= 1
        while cut > 0 and history[cut - 1].role == "tool":
            cut -= 1
        if cut > 0 and history[cut - 1].role == "assistant" and history[cut - 1].tool_calls:
            cut -= 1
        else:
            cut = len(history)
            break
    before, tool_round = history[:cut], history[cut:]
    messages: list[ChatCompletionMessageParam] = [{"role": "system", "content": system}]
    messages.extend(_message_param(m) for m in before)
    asked = bool(before) and before[-1].role == "user" and before[-1].content == request.question
    if not asked:
        messages.append({"role": "user", "content": request.question})
    messages.extend(_message_param(m) for m in tool_round)
    return messages


def _tool_param(tool: ToolSpec) -> ChatCompletionToolParam:
    return {
        "type": "function",
        "function": {
            "name": tool.name,
            "description": tool.description,
            "parameters": tool.parameters,
        },
    }


_KEY_LIKE = re.compile(r"\b(sk|pk|rk|key)-[A-Za-z0-9_\-*.]{6,}")


@dataclass
class _PendingCall:
    id: str = ""
    name: str = ""
    arguments: list[str] = field(default_factory=list)


class OpenAIChatProvider:
    """Answers through any OpenAI-compatible chat completions API (OpenAI, a local Ollama,
    vLLM or llama.cpp server) with the ``openai`` SDK, streaming (``stream=True``).

    ``base_url`` unset means OpenAI's own; ``api_key`` unset means ``$OPENAI_API_KEY``
    (and, with a ``base_url``, a placeholder: a self-hosted server may not check it).
    ``default_model`` (or its alias ``model``) is used when a request names none. Failed
    requests (connection errors, 408/409/429/5xx) are retried by the SDK ``max_retries``
    times; what still fails is raised as :class:`ProviderError`."""

    name = "openai"
    #: It offers the clone's tools to the model and reports its calls.
    supports_tools = True

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        default_model: str = DEFAULT_CHAT_MODEL,
        *,
        model: str | None = None,
        timeout: float = 60.0,
        max_retries: int = 2,
    ) -> None:
        self.base_url = base_url
        self.api_key = api_key
        self.default_model = model or default_model
        self.timeout = timeout
        self.max_retries = max_retries
        self._client: AsyncOpenAI | None = None

    @property
    def where(self) -> str:
        """The API's address for messages: no credentials, no query."""
        if not self.base_url:
            return "https://api.openai.com/v1"
        parts = urlsplit(self.base_url)
        host = parts.hostname or ""
        if parts.port:
            host = f"{host}:{parts.port}"
        return urlunsplit((parts.scheme, host, parts.path, "", ""))

    @property
    def client(self) -> AsyncOpenAI:
        """The ``AsyncOpenAI`` client, made on first use."""
        if self._client is None:
            from openai import AsyncOpenAI

            key = self.api_key or os.environ.get("OPENAI_API_KEY")
            if not key:
                if not self.base_url:
                    raise ProviderError(
                        "the openai LLM provider has no API key: set the clone plugin's "
                        "openai_api_key setting or $OPENAI_API_KEY",
                        provider=self.name,
                    )
                key = "unused"  # a self-hosted OpenAI-compatible server may not check it
            self._client = AsyncOpenAI(
                base_url=self.base_url,
                api_key=key,
                max_retries=self.max_retries,
                timeout=self.timeout,
            )
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None

    async def stream(self, request: AnswerRequest) -> AsyncIterator[StreamItem]:
        import openai

        model = request.model or self.default_model
        messages = build_messages(request)
        tools = [_tool_param(t) for t in request.tools]
        text: list[str] = []
        calls: dict[int, _PendingCall] = {}
        reported = ""
        try:
            client = self.client
            if tools:
                chunks = await client.chat.completions.create(
                    model=model,
                    messages=messages,
                    tools=tools,
                    temperature=request.temperature,
                    max_tokens=request.max_tokens,
                    stream=True,
                )
            else:
                chunks = await client.chat.completions.create(
                    model=model,
                    messages=messages,
                    temperature=request.temperature,
                    max_tokens=request.max_tokens,
                    stream=True,
                )
            try:
                async for chunk in chunks:
                    # lenient with servers that leave fields out of their chunks
                    reported = reported or getattr(chunk, "model", None) or ""
                    for choice in getattr(chunk, "choices", None) or ():
                        if (getattr(choice, "index", 0) or 0) != 0:
                            continue
                        delta = choice.delta
                        if delta.content:
                            text.append(delta.content)
                            yield TextDelta(delta.content)
                        for call in delta.tool_calls or ():
                            self._add_call_delta(calls, call)
            finally:
                await chunks.close()
        except openai.OpenAIError as exc:
            raise self._error(exc, model) from None
        for index, pending in sorted(calls.items()):
            if pending.name:
                yield ToolRequest(
                    id=pending.id or f"call_{index}",
                    name=pending.name,
                    arguments="".join(pending.arguments) or "{}",
                )
        yield Finished(cited=citations_in("".join(text), request.passages), model=reported or model)

    @staticmethod
    def _add_call_delta(calls: dict[int, _PendingCall], call: ChoiceDeltaToolCall) -> None:
        """Accumulate a streamed piece of a tool call: its id and name come once (some
        servers repeat them), its arguments in pieces, keyed by ``index``."""
        index = getattr(call, "index", None)
        if not isinstance(index, int):  # a server that leaves it out: a new id, a new call
            index = len(calls) if call.id or not calls else max(calls)
        pending = calls.setdefault(index, _PendingCall())
        if call.id:
            pending.id = call.id
        if call.function is not None:
            if call.function.name and call.function.name != pending.name:
                pending.name += call.function.name
            if call.function.arguments:
                pending.arguments.append(call.function.arguments)

    def _redact(self, text: str) -> str:
        if self.api_key:
            text = text.replace(self.api_key, "***")
        return _KEY_LIKE.sub(r"\1-***", text)[:300]

    def _server_said(self, exc: openai.APIError) -> str:
        body = exc.body
        message: object = None
        if isinstance(body, dict):
            message = body.get("message") or body.get("error") or body.get("detail")
        if not isinstance(message, str) or not message:
            message = exc.message
        return self._redact(str(message).strip())

    def _error(self, exc: Exception, model: str) -> ProviderError:
        """``exc`` of the SDK as a :class:`ProviderError` with a message that says what to
        do, without the key."""
        import openai

        if isinstance(exc, ProviderError):
            return exc
        where = self.where
        retries = f" (after {self.max_retries} retries)" if self.max_retries else ""
        status: int | None = None
        if isinstance(exc, openai.APITimeoutError):
            message = f"the LLM API at {where} did not answer within {self.timeout:g}s{retries}"
        elif isinstance(exc, openai.APIConnectionError):
            cause = type(exc.__cause__).__name__ if exc.__cause__ else "connection error"
            message = f"could not reach the LLM API at {where} ({cause}){retries}"
        elif isinstance(exc, openai.APIStatusError):
            status = exc.status_code
            said = self._server_said(exc)
            if isinstance(exc, openai.AuthenticationError):
                message = (
                    f"authentication failed at the LLM API at {where} (HTTP 401): check the "
                    f"API key (openai_api_key); the server said: {said}"
                )
            elif isinstance(exc, openai.PermissionDeniedError):
                message = (
                    f"the LLM API at {where} refused access to model {model!r} (HTTP 403): {said}"
                )
            elif isinstance(exc, openai.NotFoundError):
                message = (
                    f"the LLM API at {where} does not know model {model!r} or the endpoint "
                    f"(HTTP 404): check openai_model and openai_base_url; the server said: "
                    f"{said}"
                )
            elif isinstance(exc, openai.RateLimitError):
                message = (
                    f"the LLM API at {where} is rate-limiting requests or the account is out "
                    f"of quota (HTTP 429){retries}: {said}"
                )
            elif status >= 500:
                message = f"the LLM API at {where} failed (HTTP {status}){retries}: {said}"
            else:
                message = f"the LLM API at {where} rejected the request (HTTP {status}): {said}"
        elif isinstance(exc, openai.APIError):
            message = f"the LLM API at {where} reported an error: {self._server_said(exc)}"
        else:
            message = f"the openai SDK failed: {self._redact(str(exc))}"
        return ProviderError(message, status=status, provider=self.name)

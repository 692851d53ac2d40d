"""The clone's LLM providers, without the platform: the ``offline`` extractive answerer,
``citations_in``, and the ``openai`` provider driven through the real ``openai`` SDK
against a local HTTP server that speaks the chat completions API with SSE streaming."""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from plugins.clone.providers import (
    OFFLINE_DONT_KNOW,
    AnswerRequest,
    ChatMessage,
    Finished,
    OfflineProvider,
    OpenAIChatProvider,
    Passage,
    ProviderError,
    StreamItem,
    TextDelta,
    ToolRequest,
    ToolSpec,
    build_messages,
    citations_in,
)
from plugins.clone.text import split_sentences, stem
from sdk import BudgetExhausted
from sdk.testing import assert_problem

REFUNDS = (
    "Refund policy. If a course is not right for you, ask for a refund within 30 days of "
    "buying it and you get all your money back. Write to help@studio.example with your "
    "order number."
)
COACHING = (
    "Coaching sessions. One-to-one coaching calls happen on Tuesdays and Thursdays over "
    "video. Each session lasts 45 minutes and can be booked from the members area."
)
SHIPPING = (
    "## Shipping\n"
    "Hoodies and mugs ship from our workshop in Lisbon within 3 working days. Shipping "
    "inside the EU is free; everywhere else it costs 8 euros per order.\n"
    "- Tracking numbers are emailed when a parcel leaves the workshop."
)
PRICING = (
    "Membership costs 12 euros a month or 120 euros a year. Members get every new course "
    "and a monthly live Q&A. You can cancel your membership at any time from your account."
)


def passages(*texts: tuple[str, str]) -> list[Passage]:
    return [
        Passage(
            index=i,
            source_id=f"s{i}",
            knowledge_id=f"k{i}",
            title=title,
            text=text,
            score=1.0 - i / 10,
        )
        for i, (title, text) in enumerate(texts, start=1)
    ]


LIBRARY = passages(
    ("Refunds", REFUNDS), ("Coaching", COACHING), ("Shipping", SHIPPING), ("Pricing", PRICING)
)


def request(question: str, found: Sequence[Passage] = LIBRARY, **kwargs: Any) -> AnswerRequest:
    kwargs.setdefault("system_prompt", "You are Ada, a friendly teacher.")
    kwargs.setdefault("history", [])
    return AnswerRequest(question=question, passages=found, **kwargs)


async def collect(provider: Any, req: AnswerRequest) -> list[StreamItem]:
    return [item async for item in provider.stream(req)]


def text_of(items: Sequence[StreamItem]) -> str:
    return "".join(item.text for item in items if isinstance(item, TextDelta))


def last(items: Sequence[StreamItem]) -> Finished:
    assert isinstance(items[-1], Finished), items
    assert sum(isinstance(item, Finished) for item in items) == 1, items
    return items[-1]


# -- offline ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("question", "cited", "expected"),
    [
        ("How long does a coaching session last?", 2, "45 minutes"),
        ("Can I get my money back?", 1, "money back"),
        ("What is your refund policy?", 1, "within 30 days"),
        ("Where are the hoodies shipped from?", 3, "Lisbon"),
        ("How much is shipping outside the EU?", 3, "8 euros"),
        ("What does a yearly membership cost?", 4, "120 euros a year"),
        ("Can I cancel my membership?", 4, "cancel your membership"),
        ("On which days are coaching calls?", 2, "Tuesdays and Thursdays"),
    ],
)
async def test_offline_quotes_and_cites_the_passage_with_the_answer(
    question: str, cited: int, expected: str
) -> None:
    items = await collect(OfflineProvider(), request(question))
    text = text_of(items)
    finished = last(items)
    assert expected in text, text
    assert finished.cited[0] == cited, (text, finished)
    assert finished.model == "extractive"
    assert f"[{cited}]" in text
    assert citations_in(text, LIBRARY) == finished.cited


async def test_offline_only_quotes_the_passages() -> None:
    items = await collect(OfflineProvider(), request("When can I book coaching calls?"))
    deltas = [item for item in items[:-1] if isinstance(item, TextDelta)]
    assert len(deltas) == len(items) - 1 and 1 <= len(deltas) <= 3  # one piece per sentence
    sources = {p.index: " ".join(p.text.split()) for p in LIBRARY}
    for delta in deltas:
        match = re.fullmatch(r"\s*(.+?) \[(\d+)\]([.!?]?)", delta.text)
        assert match, delta.text
        quoted, index = match.group(1) + match.group(3), int(match.group(2))
        assert quoted.rstrip(".") in sources[index], (quoted, index)


async def test_offline_prefers_the_better_ranked_passage_on_a_tie() -> None:
    same = "Workshops run every Saturday morning in the studio."
    found = passages(("A", same), ("B", same))
    items = await collect(OfflineProvider(), request("When do workshops run?", found))
    assert last(items).cited == [1]
    assert text_of(items) == "Workshops run every Saturday morning in the studio [1]."
    found = list(reversed(found))  # retrieval ranked passage 2 first this time
    assert last(
        await collect(OfflineProvider(), request("When do workshops run?", found))
    ).cited == [2]


async def test_offline_cites_several_passages_when_the_answer_spans_them() -> None:
    question = "How long is a coaching session, and how much does shipping cost outside the EU?"
    items = await collect(OfflineProvider(), request(question))
    text = text_of(items)
    assert "45 minutes" in text and "8 euros" in text, text
    assert sorted(last(items).cited) == [2, 3]


async def test_offline_also_quotes_the_passage_closest_in_meaning() -> None:
    """A paraphrase ("shut") may share only a common word with its answer ("close"): the
    passage whose cosine is highest is quoted too, the others only on their words."""
    texts = [
        (
            "Workshops",
            "Saturday workshops in the studio last three hours. Book a studio workshop online.",
        ),
        ("Members", "Members use the studio wheels during open hours."),
        ("Cleaning", "We close the studio on Mondays to clean and load the kilns."),
    ]

    def found(closest: int) -> list[Passage]:
        return [
            Passage(
                index=i,
                source_id=f"s{i}",
                knowledge_id=f"k{i}",
                title=title,
                text=text,
                score=0.86 if i == closest else 0.80 - i / 100,
            )
            for i, (title, text) in enumerate(texts, start=1)
        ]

    question = "Which day of the week is the studio shut?"
    items = await collect(OfflineProvider(), request(question, found(closest=3)))
    assert "We close the studio on Mondays to clean and load the kilns [3]." in text_of(items)
    assert last(items).cited[:2] == [1, 3]  # retrieval's first passage still leads
    for closest in (1, 2):
        items = await collect(OfflineProvider(), request(question, found(closest)))
        assert 3 not in last(items).cited, text_of(items)
    # all scores equal (no cosines known): the first passage counts as the closest
    same = [replace(p, score=0.0) for p in found(closest=3)]
    assert 3 not in last(await collect(OfflineProvider(), request(question, same))).cited


async def test_offline_also_quotes_the_sentence_closest_by_its_vector() -> None:
    """Given how close each sentence is to the question (``closeness``: vectors training
    made), the closest one is quoted too, even when it shares no word with the question;
    without it the answer is as it was on words alone."""
    found = passages(
        ("Studio", "The studio is in Lisbon. Members use the studio wheels during open hours."),
        ("Cleaning", "Every Monday the doors stay shut so the kilns can be loaded."),
    )
    question = "When is the studio closed?"
    words_only = await collect(OfflineProvider(), request(question, found))
    assert last(words_only).cited == [1], text_of(words_only)

    closeness = {"k1": {0: 0.81, 1: 0.80}, "k2": {0: 0.88}}
    items = await collect(OfflineProvider(), replace(request(question, found), closeness=closeness))
    assert text_of(items) == text_of(words_only) + (
        " Every Monday the doors stay shut so the kilns can be loaded [2]."
    )
    assert last(items).cited == [1, 2]
    # the closest sentence already quoted: nothing more; unknown passages are ignored
    closest_chosen = {"k1": {0: 0.8, 1: 0.9}, "k2": {}, "other": {0: 0.99}}
    items = await collect(
        OfflineProvider(), replace(request(question, found), closeness=closest_chosen)
    )
    assert items == words_only
    # no sentence shares a word with the question: it still does not know
    unrelated = replace(request("Who won the match?", found), closeness=closeness)
    assert text_of(await collect(OfflineProvider(), unrelated)) == OFFLINE_DONT_KNOW


@pytest.mark.parametrize(
    "question",
    ["What is the capital of France?", "Who won the football match yesterday?", "Hello?", "?"],
)
async def test_offline_says_it_does_not_know_for_unrelated_questions(question: str) -> None:
    items = await collect(OfflineProvider(), request(question))
    assert text_of(items) == OFFLINE_DONT_KNOW
    assert "don't know" in OFFLINE_DONT_KNOW
    assert last(items) == Finished(cited=[], model="extractive")


async def test_offline_says_it_does_not_know_without_passages() -> None:
    items = await collect(OfflineProvider(), request("How long is a coaching session?", []))
    assert text_of(items) == OFFLINE_DONT_KNOW
    assert last(items).cited == []
    empty = passages(("Empty", "   \n\n  "))
    items = await collect(OfflineProvider(), request("How long is a coaching session?", empty))
    assert last(items).cited == []


async def test_offline_is_deterministic() -> None:
    provider = OfflineProvider()
    for question in ("How does shipping work?", "Tell me about the membership and coaching"):
        first = await collect(provider, request(question))
        for _ in range(3):
            assert await collect(OfflineProvider(), request(question)) == first


async def test_offline_cuts_a_runaway_sentence() -> None:
    long = "Coaching " + " ".join(f"word{i}" for i in range(200)) + " ends here."
    items = await collect(OfflineProvider(), request("coaching?", passages(("Long", long))))
    text = text_of(items)
    assert text.endswith("… [1]") and len(text.split()) < 70, text


def test_sentences_and_stems() -> None:
    assert split_sentences(
        "## Title\nDr. Smith teaches. Classes start at 9. 3 rooms are free!\n- a bullet, no end"
    ) == [
        "Title",
        "Dr. Smith teaches.",
        "Classes start at 9.",
        "3 rooms are free!",
        "a bullet, no end",
    ]
    assert {stem(w) for w in ("refund", "refunds", "refunded", "refunding")} == {"refund"}
    assert stem("policies") == stem("policy")
    assert stem("shipping") == stem("shipped") == stem("ships") == "ship"
    assert stem("boxes") == stem("box")
    assert stem("retailers") == stem("retailer") == stem("retail")
    assert stem("beginners") == stem("beginning") == stem("begin")
    # short words whose -er is no suffix keep it, singular and plural alike
    assert stem("members") == stem("member") == "member" and stem("orders") == "order"
    # -er goes after -ed and -ing, so a verb keeps one stem in every form
    assert stem("deliver") == stem("delivered") == stem("delivering") == stem("delivers")
    assert stem("register") == stem("registered") == stem("registering")


# -- citations_in ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Refunds take 30 days [1].", [1]),
        ("See [2] and then [1].", [2, 1]),
        ("Both say so [1, 2].", [1, 2]),
        ("Both say so [1,3;2].", [1, 3, 2]),
        ("Both say so [1][2].", [1, 2]),
        ("A range [1-3].", [1, 2, 3]),
        ("Again [1] and again [1] [1].", [1]),
        ("Out of range [7] and zero [0], then [3].", [3]),
        ("No citations here, only [brackets] and [a1] and [1a].", []),
        ("A list [1, x] is not a citation.", []),
        ("", []),
    ],
)
def test_citations_in(text: str, expected: list[int]) -> None:
    assert citations_in(text, LIBRARY[:3]) == expected


def test_citations_in_uses_the_passage_indexes() -> None:
    found = [Passage(5, "s", "k", "t", "x", 0.1), Passage(9, "s", "k", "t", "x", 0.1)]
    assert citations_in("[1] [9] [5] [2]", found) == [9, 5]


# -- a local OpenAI-compatible chat completions server ---------------------------------------


@dataclass
class Reply:
    """One answer of the server: an SSE stream of ``events`` (JSON objects or raw
    strings), or an error ``status`` with ``body``; ``hold_after``: wait for the test's
    ``release`` after that many events; ``delay``: seconds before answering."""

    events: list[Any] = field(default_factory=list)
    status: int = 200
    body: dict[str, Any] | None = None
    hold_after: int | None = None
    delay: float = 0.0


@dataclass
class ChatServer:
    url: str = ""
    requests: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    replies: list[Reply] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)
    released_in_time: list[bool] = field(default_factory=list)

    def reset(self) -> None:
        self.requests.clear()
        self.headers.clear()
        self.paths.clear()
        self.replies.clear()
        self.released_in_time.clear()
        self.release = threading.Event()

    @staticmethod
    def chunk(delta: dict[str, Any], finish: str | None = None, model: str = "") -> dict[str, Any]:
        return {
            "id": "chatcmpl-test",
            "object": "chat.completion.chunk",
            "created": 1700000000,
            "model": model or "served-model-1",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }

    def text(
        self,
        *pieces: str,
        model: str = "",
        hold_after: int | None = None,
        usage: dict[str, int] | None = None,
    ) -> Reply:
        """Queue a streamed answer written in ``pieces`` (then a chunk with ``usage``, as
        OpenAI sends with ``stream_options.include_usage``)."""
        events: list[Any] = [self.chunk({"role": "assistant", "content": ""}, model=model)]
        events += [self.chunk({"content": piece}, model=model) for piece in pieces]
        events.append(self.chunk({}, "stop", model=model))
        if usage is not None:
            events.append({**self.chunk({}, model=model), "choices": [], "usage": usage})
        events.append("[DONE]")
        reply = Reply(events, hold_after=hold_after)
        self.replies.append(reply)
        return reply

    def tool_calls(self, *calls: tuple[str, str, list[str]], text: str = "") -> Reply:
        """Queue a streamed answer calling tools: ``(id, name, argument pieces)`` each, their
        pieces interleaved across chunks the way OpenAI streams parallel calls."""
        events: list[Any] = [self.chunk({"role": "assistant", "content": text or None})]
        for index, (call_id, name, _) in enumerate(calls):
            first = {
                "index": index,
                "id": call_id,
                "type": "function",
                "function": {"name": name, "arguments": ""},
            }
            events.append(self.chunk({"tool_calls": [first]}))
        longest = max(len(pieces) for _, _, pieces in calls)
        for step in range(longest):
            for index, (_, _, pieces) in enumerate(calls):
                if step < len(pieces):
                    piece = {"index": index, "function": {"arguments": pieces[step]}}
                    events.append(self.chunk({"tool_calls": [piece]}))
        events += [self.chunk({}, "tool_calls"), "[DONE]"]
        reply = Reply(events)
        self.replies.append(reply)
        return reply

    def fail(self, status: int, message: str, times: int = 1) -> None:
        body = {"error": {"message": message, "type": "test_error", "code": None}}
        self.replies.extend(Reply(status=status, body=body) for _ in range(times))


def _handler(state: ChatServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _json(self, status: int, body: dict[str, Any]) -> None:
            raw = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.send_header("retry-after-ms", "10")
            self.end_headers()
            try:
                self.wfile.write(raw)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (the timeout test)

        def _write_chunk(self, data: bytes) -> None:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = json.loads(self.rfile.read(length) or b"{}")
            state.paths.append(self.path)
            state.requests.append(body)
            state.headers.append({k.lower(): v for k, v in self.headers.items()})
            if self.path != "/v1/chat/completions":
                self._json(404, {"error": {"message": "no such route", "type": "x"}})
                return
            if state.replies:
                reply = state.replies.pop(0)
            else:
                reply = state.text("Hello there.")
                state.replies.remove(reply)
            if reply.delay:
                time.sleep(reply.delay)
            if reply.status != 200:
                self._json(reply.status, reply.body or {})
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            try:
                for number, event in enumerate(reply.events):
                    if reply.hold_after is not None and number == reply.hold_after:
                        state.released_in_time.append(state.release.wait(10))
                    data = event if isinstance(event, str) else json.dumps(event)
                    self._write_chunk(f"data: {data}\n\n".encode())
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                pass

    return Handler


@pytest.fixture(scope="module")
def chat_server_process() -> Iterator[ChatServer]:
    """The server on 127.0.0.1 (a free port), in a thread, for the module."""
    state = ChatServer()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def chat_server(chat_server_process: ChatServer) -> Iterator[ChatServer]:
    chat_server_process.reset()
    yield chat_server_process
    chat_server_process.reset()


def chat_provider(server: ChatServer, **kwargs: Any) -> OpenAIChatProvider:
    kwargs.setdefault("api_key", "sk-test-123456")
    kwargs.setdefault("max_retries", 0)
    return OpenAIChatProvider(server.url, default_model="clone-model", **kwargs)


HISTORY = [
    ChatMessage("user", "Hi! Who are you?"),
    ChatMessage("assistant", "I'm Ada. Ask me about courses [1]."),
]
TOOLS = [
    ToolSpec(
        "book_call",
        "Book a coaching call.",
        {"type": "object", "properties": {"day": {"type": "string"}}, "required": ["day"]},
    )
]


# -- openai: the request -----------------------------------------------------------------------


async def test_openai_sends_the_prompt_passages_history_and_question(
    chat_server: ChatServer,
) -> None:
    chat_server.text("Each session lasts ", "45 minutes [2].")
    provider = chat_provider(chat_server)
    req = request(
        "How long is a coaching session?", history=HISTORY, temperature=0.2, max_tokens=321
    )
    items = await collect(provider, req)
    await provider.aclose()
    assert text_of(items) == "Each session lasts 45 minutes [2]."
    assert last(items) == Finished(cited=[2], model="served-model-1")

    (sent,) = chat_server.requests
    assert chat_server.paths == ["/v1/chat/completions"]
    assert chat_server.headers[0]["authorization"] == "Bearer sk-test-123456"
    assert sent["model"] == "clone-model"
    assert sent["stream"] is True
    assert sent["temperature"] == 0.2 and sent["max_tokens"] == 321
    assert "tools" not in sent
    messages = sent["messages"]
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user"]
    system = messages[0]["content"]
    assert system.startswith("You are Ada, a friendly teacher.")
    assert "only from the numbered passages" in system and "[1]" in system
    assert "don't know" in system
    for p in LIBRARY:
        assert f"[{p.index}] {p.title}\n{p.text.strip()}" in system
    assert system.index("[1] Refunds") < system.index("[2] Coaching") < system.index("[4]")
    assert messages[1:3] == [
        {"role": "user", "content": "Hi! Who are you?"},
        {"role": "assistant", "content": "I'm Ada. Ask me about courses [1]."},
    ]
    assert messages[-1] == {"role": "user", "content": "How long is a coaching session?"}


async def test_openai_uses_the_requests_model_and_the_key_from_the_environment(
    chat_server: ChatServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env-999")
    chat_server.text("Fine [9].", model="llama-3.1-8b")
    provider = OpenAIChatProvider(chat_server.url, None, "clone-model", max_retries=0)
    items = await collect(provider, request("Hi?", model="llama-3.1-8b"))
    await provider.aclose()
    assert chat_server.requests[0]["model"] == "llama-3.1-8b"
    assert chat_server.headers[0]["authorization"] == "Bearer sk-from-env-999"
    assert last(items) == Finished(cited=[], model="llama-3.1-8b")  # [9] is no passage


async def test_openai_streams_text_as_it_arrives(chat_server: ChatServer) -> None:
    pieces = ["Refunds ", "are possible ", "within ", "30 days ", "[1]", "."]
    # the server stops after the first piece until the test has received it
    chat_server.text(*pieces, hold_after=2)
    provider = chat_provider(chat_server)
    received: list[str] = []
    items: list[StreamItem] = []
    async for item in provider.stream(request("Can I get a refund?")):
        items.append(item)
        if isinstance(item, TextDelta):
            received.append(item.text)
            if len(received) == 1:
                chat_server.release.set()
    await provider.aclose()
    assert received == pieces
    assert chat_server.released_in_time == [True]  # the first piece came before the rest
    assert last(items).cited == [1]
    assert items.index(last(items)) == len(items) - 1


async def test_openai_sends_tools_and_reassembles_streamed_tool_calls(
    chat_server: ChatServer,
) -> None:
    chat_server.tool_calls(
        ("call_abc", "book_call", ['{"da', 'y": "Tue', 'sday"', "}"]),
        ("call_def", "lookup_order", ["{", '"order": 4', "2}"]),
    )
    provider = chat_provider(chat_server)
    items = await collect(provider, request("Book me a call on Tuesday", tools=TOOLS))
    await provider.aclose()
    sent = chat_server.requests[0]
    assert sent["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "book_call",
                "description": "Book a coaching call.",
                "parameters": TOOLS[0].parameters,
            },
        }
    ]
    calls = [item for item in items if isinstance(item, ToolRequest)]
    assert calls == [
        ToolRequest("call_abc", "book_call", '{"day": "Tuesday"}'),
        ToolRequest("call_def", "lookup_order", '{"order": 42}'),
    ]
    assert json.loads(calls[0].arguments) == {"day": "Tuesday"}
    assert not any(isinstance(item, TextDelta) for item in items)
    assert isinstance(items[-1], Finished) and items[-1].cited == []


async def test_openai_sends_tool_results_back_in_the_api_shape(chat_server: ChatServer) -> None:
    chat_server.text("Booked for Tuesday [2].")
    history = [
        *HISTORY,
        ChatMessage(
            "assistant",
            "",
            tool_calls=[
                {
                    "id": "call_abc",
                    "type": "function",
                    "function": {"name": "book_call", "arguments": '{"day": "Tuesday"}'},
                }
            ],
        ),
        ChatMessage("tool", '{"booked": true}', tool_call_id="call_abc"),
    ]
    provider = chat_provider(chat_server)
    items = await collect(provider, request("Book me a call on Tuesday", history=history))
    await provider.aclose()
    assert text_of(items) == "Booked for Tuesday [2]."
    messages = chat_server.requests[0]["messages"]
    assert [m["role"] for m in messages] == [
        "system",
        "user",
        "assistant",
        "user",
        "assistant",
        "tool",
    ]
    assert messages[3] == {"role": "user", "content": "Book me a call on Tuesday"}
    assert messages[4] == {
        "role": "assistant",
        "tool_calls": [
            {
                "id": "call_abc",
                "type": "function",
                "function": {"name": "book_call", "arguments": '{"day": "Tuesday"}'},
            }
        ],
    }
    assert messages[5] == {
        "role": "tool",
        "tool_call_id": "call_abc",
        "content": '{"booked": true}',
    }


def test_build_messages_accepts_flat_tool_calls_and_does_not_repeat_the_question() -> None:
    history = [
        ChatMessage("user", "Book me a call"),
        ChatMessage(
            "assistant",
            "",
            tool_calls=[{"id": "c1", "name": "book_call", "arguments": {"day": "Monday"}}],
        ),
        ChatMessage("tool", "ok", tool_call_id="c1"),
    ]
    messages = build_messages(request("Book me a call", history=history))
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "tool"]
    sent: Any = messages[2]
    call = sent["tool_calls"][0]
    assert call["function"] == {"name": "book_call", "arguments": '{"day": "Monday"}'}
    with pytest.raises(ValueError, match="tool_call_id"):
        build_messages(request("x", history=[ChatMessage("tool", "ok")]))


# -- openai: errors ----------------------------------------------------------------------------


async def test_openai_server_error_after_retries(chat_server: ChatServer) -> None:
    chat_server.fail(500, "the GPU caught fire", times=3)
    provider = chat_provider(chat_server, max_retries=2)
    with pytest.raises(ProviderError, match=r"HTTP 500\) \(after 2 retries\)") as caught:
        await collect(provider, request("Anything?"))
    await provider.aclose()
    assert len(chat_server.requests) == 3  # the SDK retried twice
    assert caught.value.status == 500 and "the GPU caught fire" in str(caught.value)
    assert chat_server.url.removesuffix("/v1") in str(caught.value)


async def test_openai_retries_then_answers(chat_server: ChatServer) -> None:
    chat_server.fail(503, "busy")
    chat_server.text("Here [1].")
    provider = chat_provider(chat_server, max_retries=1)
    items = await collect(provider, request("Refund?"))
    await provider.aclose()
    assert text_of(items) == "Here [1]." and len(chat_server.requests) == 2


async def test_openai_bad_key_names_authentication_without_the_key(
    chat_server: ChatServer,
) -> None:
    key = "sk-live-SECRET-abcdef123456"
    chat_server.fail(401, f"Incorrect API key provided: {key}. Find your key at ...")
    provider = chat_provider(chat_server, api_key=key)
    with pytest.raises(ProviderError, match="authentication failed") as caught:
        await collect(provider, request("Anything?"))
    await provider.aclose()
    assert caught.value.status == 401 and "openai_api_key" in str(caught.value)
    assert "SECRET" not in str(caught.value) and key not in repr(caught.value)
    assert caught.value.__cause__ is None  # the SDK's error (with the key) is not chained
    assert len(chat_server.requests) == 1  # a 401 is not retried


@pytest.mark.parametrize(
    ("status", "words"),
    [(429, "rate-limiting"), (404, "does not know model 'clone-model'"), (400, "rejected")],
)
async def test_openai_other_status_errors(chat_server: ChatServer, status: int, words: str) -> None:
    chat_server.fail(status, "nope")
    provider = chat_provider(chat_server)
    with pytest.raises(ProviderError, match=re.escape(words)) as caught:
        await collect(provider, request("Anything?"))
    await provider.aclose()
    assert caught.value.status == status and "nope" in str(caught.value)


async def test_openai_error_in_the_middle_of_the_stream(chat_server: ChatServer) -> None:
    chat_server.replies.append(
        Reply([chat_server.chunk({"content": "Partly "}), {"error": {"message": "overloaded"}}])
    )
    provider = chat_provider(chat_server)
    items: list[StreamItem] = []
    with pytest.raises(ProviderError, match="reported an error: overloaded"):
        async for item in provider.stream(request("Anything?")):
            items.append(item)
    await provider.aclose()
    assert items == [TextDelta("Partly ")]


async def test_openai_unreachable_server() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    provider = OpenAIChatProvider(
        f"http://user:pw@127.0.0.1:{port}/v1", "sk-x-123456", "m", max_retries=0
    )
    with pytest.raises(ProviderError, match="could not reach the LLM API") as caught:
        await collect(provider, request("Anything?"))
    await provider.aclose()
    assert f"http://127.0.0.1:{port}/v1" in str(caught.value) and "pw" not in str(caught.value)
    assert caught.value.status is None


async def test_openai_timeout(chat_server: ChatServer) -> None:
    chat_server.replies.append(Reply(delay=1.0, status=500))
    provider = chat_provider(chat_server, timeout=0.2)
    with pytest.raises(ProviderError, match=r"did not answer within 0.2s"):
        await collect(provider, request("Anything?"))
    await provider.aclose()


async def test_openai_without_any_key_for_openai_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    provider = OpenAIChatProvider(None, None, "gpt-4o-mini")
    with pytest.raises(ProviderError, match="openai_api_key"):
        await collect(provider, request("Anything?"))


def test_openai_constructor_names() -> None:
    assert OpenAIChatProvider(default_model="a").default_model == "a"
    assert OpenAIChatProvider(base_url=None, api_key=None, model="b").default_model == "b"
    assert OpenAIChatProvider().name == "openai" and OfflineProvider().name == "offline"


# -- openai: metered against the group's monthly budget ---------------------------------------


async def test_openai_meters_what_the_api_reports_and_refuses_a_spent_month(
    chat_server: ChatServer, creator_platform_factory: Any
) -> None:
    cp = await creator_platform_factory(plugins=[], hosted_llm_tokens_per_month=1000)
    usage = cp.platform.usage
    group = (await cp.tenant()).group.id
    provider = chat_provider(chat_server, usage=usage)
    chat_server.text(
        "Hello [1].", usage={"prompt_tokens": 30, "completion_tokens": 12, "total_tokens": 42}
    )
    async for item in provider.stream(request("Can I get a refund?", group_id=group)):
        if isinstance(item, Finished):
            break  # as the chat does: counted by the time Finished arrives
    assert chat_server.requests[0]["stream_options"] == {"include_usage": True}
    assert (await usage.report(group, "llm_tokens")).used == 42
    chat_server.text("No usage reported here.")  # a server that leaves it out: an estimate
    await collect(provider, request("And coaching?", group_id=group))
    used = (await usage.report(group, "llm_tokens")).used
    prompt = sum(len(str(m["content"])) for m in chat_server.requests[1]["messages"]) / 4
    assert used - 42 >= prompt  # the prompt's estimate and the answer's
    await usage.record(group, "llm_tokens", 1000 - used)
    with pytest.raises(BudgetExhausted) as err:
        await collect(provider, request("One more?", group_id=group))
    assert err.value.extra["kind"] == "llm_tokens"
    assert len(chat_server.requests) == 2  # refused before calling
    # a request that names no group is not metered
    await collect(provider, request("Unmetered?"))
    assert (await usage.report(group, "llm_tokens")).used == 1000
    await provider.aclose()


async def test_openai_failure_gives_the_estimate_back(
    chat_server: ChatServer, creator_platform_factory: Any
) -> None:
    cp = await creator_platform_factory(plugins=[], hosted_llm_tokens_per_month=10_000)
    group = (await cp.tenant()).group.id
    provider = chat_provider(chat_server, usage=cp.platform.usage)
    chat_server.fail(500, "boom")
    with pytest.raises(ProviderError):
        await collect(provider, request("Hi?", group_id=group))
    assert (await cp.platform.usage.report(group, "llm_tokens")).used == 0
    await provider.aclose()


async def test_a_spent_month_is_a_402_for_the_clones_questions(
    chat_server: ChatServer, creator_platform_factory: Any, api_for: Any, docs: dict[str, str]
) -> None:
    settings = {"openai_base_url": chat_server.url, "openai_model": "clone-model"}
    cp = await creator_platform_factory(
        plugins=["clone"],
        worker=True,
        job_retry_base_seconds=0.02,
        worker_poll_delay_seconds=0.02,
        hosted_llm_tokens_per_month=50,
        plugin_settings={"clone": {**settings, "openai_max_retries": 0}},
    )
    owner = await cp.tenant(name="Studio Nova")
    api = api_for(owner)
    clone = await api.clone("Ada", provider="openai")
    await api.text(clone["id"], "Refunds", docs["refunds"])
    assert (await api.train(clone["id"]))["clone"]["status"] == "active"
    thread = await api.thread(clone["id"])
    chat_server.text("Within 30 days [1].", usage={"total_tokens": 60})
    answer = (await api.ask(clone["id"], thread["id"], "How do refunds work?"))["answer"]
    assert answer["provider"] == "openai"
    r = await api.client.post(
        api.thread_url(clone["id"], thread["id"], "/messages"),
        json={"content": "And how long do I have for a refund?"},
    )
    body = assert_problem(r, 402, "budget_exhausted")
    assert (body["budget"], body["used"]) == (50, 60)
    assert len(chat_server.requests) == 1


# -- offline: whole sentences (the evaluation's fluency check has the corpus-wide figures) --

ORDERS = (
    "Orders and delivery\n\n"
    "Shipping: we ship every order within 3 working days by tracked post.\n"
    "Pickup is possible on Fridays between 2pm and 6pm at the workshop.\n"
    "Returns are accepted within 14 days if the item is unused."
)
KIT = (
    "# The starter kit\n\n"
    "Each starter kit has:\n"
    "- a bag of stoneware clay\n"
    "- six basic tools\n"
    "- a printed guide\n\n"
    "The kit ships in a recycled box."
)


async def test_offline_answers_when_with_the_sentence_that_says_when() -> None:
    found = passages(("Orders", ORDERS))
    answer = text_of(
        await collect(OfflineProvider(), request("When can I pick up my order?", found))
    )
    assert answer == "Pickup is possible on Fridays between 2pm and 6pm at the workshop [1]."
    items = await collect(OfflineProvider(), request("When can I pick up my order?", found))
    assert last(items).quotes == {
        1: ["Pickup is possible on Fridays between 2pm and 6pm at the workshop."]
    }


async def test_offline_never_quotes_a_heading_nor_ends_on_a_colon() -> None:
    found = passages(("Kit", KIT))
    answer = text_of(
        await collect(OfflineProvider(), request("What is in the starter kit?", found))
    )
    assert answer.startswith(
        "Each starter kit has: a bag of stoneware clay; six basic tools; a printed guide [1]."
    ), answer
    assert "The starter kit [1]" not in answer
    items = await collect(OfflineProvider(), request("What is in the starter kit?", found))
    assert last(items).quotes[1][:4] == [
        "Each starter kit has:",
        "a bag of stoneware clay",
        "six basic tools",
        "a printed guide",
    ]


async def test_offline_starts_a_quoted_list_item_with_a_capital() -> None:
    found = passages(("Kit", "Perks\n\n- members get free glaze firings every month"))
    answer = text_of(
        await collect(OfflineProvider(), request("Do members get glaze firings?", found))
    )
    assert answer == "Members get free glaze firings every month [1]."

"""The ``openai`` LLM provider: any OpenAI-compatible chat completions API (OpenAI, a local
Ollama, vLLM or llama.cpp server) through the ``openai`` SDK, streaming.

It is hosted: each answer is metered (``llm_tokens``) against the asking group's monthly
budget through ``platform.usage``, refused with ``budget_exhausted`` before the request
is sent once the month is spent, and counted by the ``usage`` the API reports with the
stream (``stream_options``), else by an estimate of the prompt and the answer."""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

import sdk
from plugins.clone.providers.base import (
    AnswerRequest,
    ChatMessage,
    Finished,
    Passage,
    ProviderError,
    StreamItem,
    TextDelta,
    ToolRequest,
    ToolSpec,
)
from plugins.clone.providers.citations import citations_in

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


def _reported_tokens(chunk: Any) -> int | None:
    """The API's token count, on the chunk that carries ``usage`` (the last, with
    ``stream_options``)."""
    total = getattr(getattr(chunk, "usage", None), "total_tokens", None)
    return total if isinstance(total, int) else None


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
    #: It spends the operator's key: allow-listed models only, metered.
    hosted = True

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        default_model: str = DEFAULT_CHAT_MODEL,
        *,
        model: str | None = None,
        timeout: float = 60.0,
        max_retries: int = 2,
        usage: sdk.Usage | None = None,
        stream_usage: bool = True,
    ) -> None:
        self.base_url = base_url
        #: ``platform.usage``: meters requests that name a group (unset: none metered).
        self.usage = usage
        self.stream_usage = stream_usage
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
        model = request.model or self.default_model
        messages = build_messages(request)
        if self.usage is None or request.group_id is None:
            async for item in self._stream(request, model, messages, None):
                yield item
            return
        prompt = sum(sdk.estimate_tokens(str(m.get("content") or "")) for m in messages)
        finished = Finished(model=model)
        async with self.usage.metered(
            request.group_id,
            "llm_tokens",
            estimate=prompt + request.max_tokens,
            provider=self.name,
            model=model,
        ) as meter:
            async for item in self._stream(request, model, messages, (meter, prompt)):
                if isinstance(item, Finished):
                    finished = item
                    break
                yield item
        # counted before the last item: a caller stops reading at Finished
        yield finished

    async def _stream(
        self,
        request: AnswerRequest,
        model: str,
        messages: list[ChatCompletionMessageParam],
        metering: tuple[sdk.Meter, int] | None,
    ) -> AsyncIterator[StreamItem]:
        import openai

        tools = [_tool_param(t) for t in request.tools]
        text: list[str] = []
        calls: dict[int, _PendingCall] = {}
        reported = ""
        counted: int | None = None  # tokens the API says the request used
        written = 0  # characters of the answer and its tool calls so far
        extra: dict[str, Any] = {}
        if self.stream_usage:
            extra["stream_options"] = {"include_usage": True}
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
                    **extra,
                )
            else:
                chunks = await client.chat.completions.create(
                    model=model,
                    messages=messages,
                    temperature=request.temperature,
                    max_tokens=request.max_tokens,
                    stream=True,
                    **extra,
                )
            try:
                async for chunk in chunks:
                    # lenient with servers that leave fields out of their chunks
                    reported = reported or getattr(chunk, "model", None) or ""
                    counted = _reported_tokens(chunk) or counted
                    for choice in getattr(chunk, "choices", None) or ():
                        if (getattr(choice, "index", 0) or 0) != 0:
                            continue
                        delta = choice.delta
                        written += len(delta.content or "")
                        if metering is not None:
                            # what it cost so far: an answer cut short still counts
                            meter, prompt = metering
                            meter.used = counted or prompt + math.ceil(written / 4)
                        if delta.content:
                            text.append(delta.content)
                            yield TextDelta(delta.content)
                        for call in delta.tool_calls or ():
                            written += len(call.function.arguments or "") if call.function else 0
                            self._add_call_delta(calls, call)
                    if metering is not None and counted is not None:
                        metering[0].used = counted
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

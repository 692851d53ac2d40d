"""What an LLM provider is: the request it answers (question, conversation, numbered
passages, tools), the items it streams back, the :class:`LLMProvider` protocol, its error,
and :func:`collect_providers`, which gathers the providers plugins register."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol
from uuid import UUID

from plugins.clone.registry import collect_named

if TYPE_CHECKING:
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
    #: The group asking: a hosted provider spends its organisation's monthly budget
    #: (``platform.usage``); ``None`` is not metered (a test, an operator's tool).
    group_id: UUID | None = None


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
    #: The sentences the answer quoted, by passage index, when the provider knows them
    #: (the offline provider): a citation shows them rather than guessing.
    quotes: dict[int, list[str]] = field(default_factory=dict)


StreamItem = TextDelta | ToolRequest | Finished


class LLMProvider(Protocol):
    """``hosted = True`` (optional) says the provider spends the operator's money: the
    allow-list then limits it to its ``default_model`` unless the operator lists more,
    and it meters its calls (``platform.usage``, kind ``llm_tokens``)."""

    name: str

    def stream(self, request: AnswerRequest) -> AsyncIterator[StreamItem]:
        """Yield the answer as ``TextDelta`` pieces, possibly ``ToolRequest`` items (then
        stop: the caller runs the tools and calls again with their results in
        ``history``), and one ``Finished`` last."""
        ...


def collect_providers(platform: sdk.Platform) -> dict[str, LLMProvider]:
    """The LLM providers of the enabled plugins, by name."""
    providers: dict[str, LLMProvider] = collect_named(
        platform, "register_llm_providers", ("stream",), "LLM provider"
    )
    return providers


class ProviderError(Exception):
    """An LLM provider could not answer: the service is unreachable, too slow, refuses the
    key, is rate-limited or fails. The message says which, and never holds a secret.
    ``status`` is the HTTP status the service answered with, if any."""

    def __init__(self, message: str, *, status: int | None = None, provider: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.provider = provider

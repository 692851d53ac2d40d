"""What a question carries on its way to an answer (:class:`Turn`), the history a model
is given, and the error a failed model call becomes (for outsiders, without what the
provider said)."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import ClassVar

import sdk
from plugins.clone.providers import AnswerRequest, ChatMessage, LLMProvider, Passage
from plugins.clone.services.base import log
from plugins.clone.tools import CloneTool

#: What a clone says when nothing it learned is relevant (no model is asked).
I_DONT_KNOW = (
    "I don't know — nothing I have learned covers that yet. Could you ask it another way, "
    "or get in touch directly?"
)
#: Most earlier messages read for a question's history (before the token budget).
HISTORY_MESSAGES = 50
#: Rounds of tool calls one answer may make before the model must answer.
MAX_TOOL_ROUNDS = 3


class LLMUnavailable(sdk.PlatformError):
    """The clone's language model could not answer (the question is kept)."""

    status: ClassVar[int] = 502
    code: ClassVar[str] = "llm_unavailable"
    title: ClassVar[str] = "The clone's language model is unavailable"


def for_outsiders(exc: LLMUnavailable) -> LLMUnavailable:
    """``exc`` as a customer or a widget visitor sees it: what a provider said (its URL,
    an upstream message that may hold anything) stays in the log, under the request id
    the visitor is given as a reference."""
    reference = sdk.current_request_id()
    log.warning("the clone could not answer (the asker sees a generic error): %s", exc.detail)
    return LLMUnavailable(
        "the clone cannot answer right now; your message was kept, try again in a moment"
        + (f" (reference {reference})" if reference else ""),
        **({"reference": reference} if reference else {}),
    )


def approx_tokens(text: str) -> int:
    """Tokens of ``text`` for a chat model, roughly: 1.3 per word."""
    return math.ceil(len(text.split()) * 1.3)


def bounded_history(messages: list[sdk.Thing], budget: int) -> list[ChatMessage]:
    """The newest messages (``messages`` newest first) that fit in ``budget`` tokens, in
    conversation order."""
    kept: list[ChatMessage] = []
    used = 0
    for message in messages:
        props = message.properties
        content = props.get("content", "")
        cost = approx_tokens(content)
        if used + cost > budget:
            break
        used += cost
        kept.append(ChatMessage(role=props.get("role", "user"), content=content))
    kept.reverse()
    return kept


@dataclass
class Turn:
    """A question on its way to an answer: stored, with the passages found for it and the
    request for the provider (``None`` when nothing relevant was found)."""

    clone: sdk.Thing
    thread: sdk.Thing
    question: sdk.Thing
    passages: list[Passage]
    provider: LLMProvider | None
    request: AnswerRequest | None
    started: float
    tools: dict[str, CloneTool] = dataclasses.field(default_factory=dict)
    #: Who is asking, as tools see them.
    scope: sdk.Scope | None = None
    visitor: str = ""

    @property
    def text(self) -> str:
        content: str = self.question.properties["content"]
        return content

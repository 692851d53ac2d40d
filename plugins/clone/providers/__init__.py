"""LLM providers: what writes a clone's answer from the question, the conversation and the
retrieved passages.

* :mod:`~plugins.clone.providers.base`: the request, the streamed items, the
  :class:`LLMProvider` protocol, :class:`ProviderError` and :func:`collect_providers`;
* :mod:`~plugins.clone.providers.citations`: reading an answer's ``[n]`` back;
* :mod:`~plugins.clone.providers.offline`: the extractive ``offline`` provider;
* :mod:`~plugins.clone.providers.openai`: the ``openai`` provider (any OpenAI-compatible
  chat completions API).

The names other modules use are re-exported here."""

from plugins.clone.providers.base import (
    AnswerRequest,
    ChatMessage,
    Finished,
    LLMProvider,
    Passage,
    ProviderError,
    StreamItem,
    TextDelta,
    ToolRequest,
    ToolSpec,
    collect_providers,
)
from plugins.clone.providers.citations import citations_in
from plugins.clone.providers.offline import OFFLINE_DONT_KNOW, OFFLINE_MODEL, OfflineProvider
from plugins.clone.providers.openai import (
    DEFAULT_CHAT_MODEL,
    GROUNDING,
    TOOL_GROUNDING,
    OpenAIChatProvider,
    build_messages,
    passages_block,
)

__all__ = [
    "DEFAULT_CHAT_MODEL",
    "GROUNDING",
    "OFFLINE_DONT_KNOW",
    "OFFLINE_MODEL",
    "TOOL_GROUNDING",
    "AnswerRequest",
    "ChatMessage",
    "Finished",
    "LLMProvider",
    "OfflineProvider",
    "OpenAIChatProvider",
    "Passage",
    "ProviderError",
    "StreamItem",
    "TextDelta",
    "ToolRequest",
    "ToolSpec",
    "build_messages",
    "citations_in",
    "collect_providers",
    "passages_block",
]

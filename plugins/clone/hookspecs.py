"""Hooks the clone plugin adds, so other plugins can give clones more abilities.

Implement them with ``sdk.hookimpl`` like any core hook; they are listed on the hooks page
(``docs/plugin-hooks.md``).
"""

from __future__ import annotations

from sdk import hookspec


@hookspec
def register_llm_providers() -> list[object]:
    """Return :class:`plugins.clone.providers.LLMProvider` objects that write a clone's
    answers. Built in: ``offline`` (answers extractively from the best passages, with
    citations; no model needed) and ``openai`` (any OpenAI-compatible chat completions
    API: OpenAI, a local Ollama, vLLM or llama.cpp server). A clone names its provider;
    the ``llm_provider`` setting of the plugin is the default. Names must be unique."""


@hookspec
def register_clone_tools() -> list[object]:
    """Return :class:`plugins.clone.tools.CloneTool` objects a clone may call while
    answering (function calling): a name, a description, a msgspec struct of arguments and
    an async function run with the *visitor's* scope, never the creator's."""

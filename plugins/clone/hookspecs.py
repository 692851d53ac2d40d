"""Hooks the clone plugin adds, so other plugins can give clones more abilities.

(Tool calling, ``register_clone_tools``, comes with the tools themselves.)

Implement them with ``sdk.hookimpl`` like any core hook; they are listed on the hooks page
(``docs/plugin-hooks.md``).
"""

from __future__ import annotations

from sdk import Platform, hookspec


@hookspec
def register_llm_providers(platform: Platform) -> list[object]:
    """Return :class:`plugins.clone.providers.LLMProvider` objects that write a clone's
    answers. Built in: ``offline`` (answers extractively from the best passages, with
    citations; no model needed) and ``openai`` (any OpenAI-compatible chat completions
    API: OpenAI, a local Ollama, vLLM or llama.cpp server). A clone names its provider;
    the ``llm_provider`` setting of the plugin is the default. Names must be unique.
    ``platform`` gives access to settings (``platform.settings.plugin_settings``)."""

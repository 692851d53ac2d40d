"""Hooks the clone plugin adds, so other plugins can give clones more abilities.

Implement them with ``sdk.hookimpl`` like any core hook; they are listed on the hooks page
(``docs/plugin-hooks.md``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sdk import Platform, hookspec

if TYPE_CHECKING:  # the hooks' own modules import the plugin's services, which import these
    from plugins.clone.providers import LLMProvider
    from plugins.clone.tools import CloneTool
    from plugins.clone.voice import AvatarProvider, VoiceProvider


@hookspec
def register_llm_providers(platform: Platform) -> list[LLMProvider]:
    """Return :class:`plugins.clone.providers.LLMProvider` objects that write a clone's
    answers. Built in: ``offline`` (answers extractively from the best passages, with
    citations; no model needed) and ``openai`` (any OpenAI-compatible chat completions
    API: OpenAI, a local Ollama, vLLM or llama.cpp server). A clone names its provider;
    the ``llm_provider`` setting of the plugin is the default. Names must be unique.
    ``platform`` gives access to settings (``platform.settings.plugin_settings``)."""


@hookspec
def register_clone_tools(platform: Platform) -> list[CloneTool]:
    """Return :class:`plugins.clone.tools.CloneTool` objects: functions a clone's model may
    call while answering (with providers that support tools, such as ``openai``). Each has
    a name, a description the model reads, a msgspec struct of its arguments (the model's
    arguments are validated against it before ``run`` is called) and an async
    ``run(ctx, args)``. ``ctx`` (:class:`plugins.clone.tools.ToolContext`) carries the
    asking visitor's scope and stores bound to it, never the creator's: check
    ``ctx.can(action, thing)`` before returning or changing anything. A tool naming
    ``thing_types`` is offered only where those types are registered. Built in:
    ``get_product_info`` (``product`` things), ``get_course_info`` (``course``),
    ``get_schedule`` (``calendar_event``) and ``create_lead`` (records a ``lead``). Names
    must be unique. Every call is logged as an ``ai_tool_called`` event."""


@hookspec
def register_voice_providers(platform: Platform) -> list[VoiceProvider]:
    """Return :class:`plugins.clone.voice.VoiceProvider` objects that give clones a voice:
    ``clone_voice(name, samples)`` makes a voice from recordings of the creator and returns
    its id; ``speak(voice_id, text)`` returns the audio and its media type. Built in:
    ``elevenlabs`` (any ElevenLabs-compatible API), registered only when
    ``elevenlabs_api_key`` is set; there is no offline voice yet. The ``voice_provider``
    setting picks one (empty: the first registered). Names must be unique. Raise
    :class:`plugins.clone.voice.ProviderFailure` with a message safe to show (never a
    secret) when the service fails."""


@hookspec
def register_avatar_providers(platform: Platform) -> list[AvatarProvider]:
    """Return :class:`plugins.clone.voice.AvatarProvider` objects that give clones a face:
    ``create_appearance(photo)`` returns an appearance id for a photo of the creator;
    ``render(appearance_id, script)`` starts a talking-head video of a text (or of audio in
    the clone's voice) and returns the job; ``render_status(job_id)`` follows it. Built
    in: ``d-id`` (any D-ID-compatible API), registered only when ``did_api_key`` is set;
    there is no offline avatar yet. The ``avatar_provider`` setting picks one (empty: the
    first registered). Names must be unique."""

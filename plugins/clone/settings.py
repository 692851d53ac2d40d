"""The clone plugin's settings: ``[plugin_settings.clone]`` in the TOML file, or
``CREATOR_PLUGIN_SETTINGS='{"clone": {...}}'``."""

from __future__ import annotations

import os
from typing import Annotated, Literal

import msgspec
from msgspec import Meta

import sdk


class CloneSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    #: The LLM provider of clones that name none (``offline``, ``openai``, or a plugin's).
    llm_provider: Annotated[str, Meta(min_length=1, max_length=100)] = "offline"
    #: The LLM providers clones may use (``None``: every registered one). The default
    #: ``llm_provider`` must be among them.
    allowed_providers: list[Annotated[str, Meta(min_length=1, max_length=100)]] | None = None
    #: Models clones may name, per provider (``{openai = ["gpt-4o-mini", "gpt-4o"]}``).
    #: A hosted provider (one that spends the operator's key) not listed allows only its
    #: default model (``openai_model`` for ``openai``); a provider that is not hosted
    #: (``offline``) accepts any. Its default model is always allowed.
    allowed_models: dict[str, list[Annotated[str, Meta(min_length=1, max_length=200)]]] = (
        msgspec.field(default_factory=dict)
    )
    #: The ``openai`` provider: any OpenAI-compatible chat completions API (OpenAI, Ollama,
    #: vLLM, llama.cpp); unset means OpenAI's own.
    openai_base_url: str | None = None
    #: Its API key; unset means ``$OPENAI_API_KEY``.
    openai_api_key: str | None = None
    #: Its model when a clone names none.
    openai_model: Annotated[str, Meta(min_length=1, max_length=200)] = "gpt-4o-mini"
    #: Seconds the ``openai`` provider waits for an answer, and its retries of a failed
    #: request (connection errors, 408/409/429/5xx) before it gives up.
    openai_timeout_seconds: Annotated[float, Meta(gt=0, le=600)] = 60.0
    openai_max_retries: Annotated[int, Meta(ge=0, le=10)] = 2
    #: Ask the API to report a streamed answer's token usage (``stream_options``), which
    #: the monthly budget counts; turn off for a server that refuses the option (an
    #: estimate is counted instead).
    openai_stream_usage: bool = True
    #: How much of a conversation (approximate tokens) goes with each question.
    history_tokens: Annotated[int, Meta(ge=0, le=100_000)] = 2000
    #: Passages retrieved for each question.
    retrieval_limit: Annotated[int, Meta(ge=1, le=50)] = 6
    #: Largest uploaded source file, in bytes (at most 64 MiB).
    max_upload_bytes: Annotated[int, Meta(ge=1024, le=64 * 1024 * 1024)] = 10 * 1024 * 1024
    #: The embed widget: how long an anonymous visitor's session lasts, how many new
    #: conversations one address may start with a clone per hour, how many questions a
    #: session may ask per minute, how many questions all visitors together may ask one
    #: clone per UTC day, a ceiling on what anonymous use costs, and how many of those one
    #: address may ask, so that one client cannot spend the whole day's (``0``: no limit).
    widget_session_hours: Annotated[int, Meta(ge=1, le=24 * 30)] = 24
    widget_sessions_per_hour: Annotated[int, Meta(ge=0, le=100_000)] = 20
    widget_messages_per_minute: Annotated[int, Meta(ge=0, le=10_000)] = 10
    widget_questions_per_day: Annotated[int, Meta(ge=0, le=10_000_000)] = 2000
    widget_questions_per_address_per_day: Annotated[int, Meta(ge=0, le=10_000_000)] = 200
    #: Voice and appearance (``plugins/clone/voice/``): the providers to use
    #: (``register_voice_providers`` / ``register_avatar_providers``); empty means the first
    #: one registered. The built-in ones exist only once their API key is set.
    voice_provider: Annotated[str, Meta(max_length=100)] = ""
    avatar_provider: Annotated[str, Meta(max_length=100)] = ""
    #: The ``elevenlabs`` voice provider (voice cloning, text-to-speech): an
    #: ElevenLabs-compatible API; its key (unset: ``$ELEVENLABS_API_KEY``), model and format.
    elevenlabs_base_url: str = "https://api.elevenlabs.io"
    elevenlabs_api_key: str | None = None
    elevenlabs_model: Annotated[str, Meta(min_length=1, max_length=100)] = "eleven_multilingual_v2"
    elevenlabs_output_format: Annotated[str, Meta(min_length=1, max_length=50)] = "mp3_44100_128"
    #: The ``d-id`` avatar provider (talking-head video from a photo): a D-ID-compatible API;
    #: its key (unset: ``$DID_API_KEY``), sent as ``Authorization: <scheme> <key>``.
    did_base_url: str = "https://api.d-id.com"
    did_api_key: str | None = None
    did_auth_scheme: Literal["Basic", "Bearer"] = "Basic"
    #: Seconds a voice or avatar service may take to answer one request.
    media_timeout_seconds: Annotated[float, Meta(gt=0, le=600)] = 60.0
    #: Voice samples per upload, and the largest sample or photo, in bytes (at most 25 MiB).
    max_voice_samples: Annotated[int, Meta(ge=1, le=10)] = 5
    max_media_bytes: Annotated[int, Meta(ge=1024, le=25 * 1024 * 1024)] = 10 * 1024 * 1024


def load(platform: sdk.Platform) -> CloneSettings:
    raw = platform.settings.plugin_settings.get("clone", {})
    try:
        return msgspec.convert(raw, CloneSettings)
    except msgspec.ValidationError as exc:
        raise sdk.PlatformError(f"invalid plugin_settings.clone: {exc}") from None


def openai_api_key(settings: CloneSettings) -> str | None:
    return settings.openai_api_key or os.environ.get("OPENAI_API_KEY") or None


def elevenlabs_api_key(settings: CloneSettings) -> str | None:
    return settings.elevenlabs_api_key or os.environ.get("ELEVENLABS_API_KEY") or None


def did_api_key(settings: CloneSettings) -> str | None:
    return settings.did_api_key or os.environ.get("DID_API_KEY") or None

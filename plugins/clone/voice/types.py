"""A clone's voice and appearance: event payloads, request bodies and views."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from msgspec import Meta

MediaState = Literal["none", "processing", "ready", "failed"]
#: Longest text spoken or rendered at once.
MAX_SPEECH_CHARS = 2500


class VoiceCloned(msgspec.Struct, forbid_unknown_fields=True):
    clone_id: str
    provider: str
    voice_id: str
    samples: int
    bytes: int


class AppearanceCloned(msgspec.Struct, forbid_unknown_fields=True):
    clone_id: str
    provider: str
    appearance_id: str


SpeechText = Annotated[str, Meta(min_length=1, max_length=MAX_SPEECH_CHARS)]


class SpeechIn(msgspec.Struct, forbid_unknown_fields=True):
    text: SpeechText


class VideoIn(msgspec.Struct, forbid_unknown_fields=True):
    """What the talking head says (in the clone's voice when it has one)."""

    text: SpeechText


class Readiness(msgspec.Struct):
    """One of a clone's voice or appearance."""

    state: MediaState
    #: The provider holding ``id`` (empty until one is made).
    provider: str
    id: str
    #: A provider is registered to use it (or, without one yet, to make one).
    configured: bool
    #: The last failure, if the last attempt failed.
    error: str
    #: What to do next, in words.
    hint: str


class MediaStatus(msgspec.Struct):
    """What is ready of a clone's voice and appearance, and which providers are on."""

    clone_id: str
    voice: Readiness
    appearance: Readiness
    voice_providers: list[str]
    avatar_providers: list[str]


class VideoView(msgspec.Struct):
    id: str
    clone_id: str
    status: Literal["processing", "done", "failed"]
    url: str | None
    error: str | None

"""A clone's voice and appearance: what a voice or avatar provider is.

Kept thin on purpose (issue 5, item 7) until a real local provider exists: a voice is
made from recordings of the creator by a :class:`VoiceProvider` (built in: ``elevenlabs``,
an ElevenLabs-compatible API) and speaks any text; an appearance is made from a photo by an
:class:`AvatarProvider` (built in: ``d-id``, a D-ID-compatible API) and renders
talking-head videos. Both built-ins exist only once their API key is set; without one the
routes answer a 409 problem saying what to configure. Nothing here works offline.

This module is the contract plugins implement through ``register_voice_providers`` and
``register_avatar_providers``. The rest of the package: ``clients`` (the two hosted
clients), ``types`` (event payloads, bodies, views), ``service`` (choosing providers and
what clones do with them), ``uploads`` (reading recordings and photos) and ``routes``
(the API).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable


class ProviderFailure(Exception):
    """A voice or avatar service failed; the message is safe to show (no secret).
    ``status`` is the service's HTTP status when it answered one (404: it has no such
    thing)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class AudioSample:
    """A recording of the creator: its file name, bytes and (sniffed) media type."""

    filename: str
    content: bytes
    media_type: str


@dataclass(frozen=True)
class Speech:
    audio: bytes
    media_type: str


@dataclass(frozen=True)
class Photo:
    filename: str
    content: bytes
    media_type: str


@dataclass(frozen=True)
class Script:
    """What a talking head says: ``text``, spoken by the service's own voice, or ``audio``
    (the clone's voice speaking that text) when there is one."""

    text: str
    audio: Speech | None = None


@dataclass(frozen=True)
class RenderJob:
    """A talking-head video on its way: ``processing``, then ``done`` with its ``url``, or
    ``failed``. ``appearance_id`` is what it was rendered from, when the service says."""

    id: str
    status: Literal["processing", "done", "failed"]
    url: str | None = None
    appearance_id: str | None = None
    error: str | None = None


@runtime_checkable
class VoiceProvider(Protocol):
    name: str

    async def clone_voice(self, name: str, samples: Sequence[AudioSample]) -> str:
        """Make a voice from recordings; return its id."""
        ...

    async def speak(self, voice_id: str, text: str) -> Speech:
        """Say ``text`` in the voice."""
        ...


@runtime_checkable
class AvatarProvider(Protocol):
    name: str

    async def create_appearance(self, photo: Photo) -> str:
        """Make an appearance from a photo; return its id."""
        ...

    async def render(self, appearance_id: str, script: Script) -> RenderJob:
        """Start a talking-head video of the appearance saying ``script``."""
        ...

    async def render_status(self, job_id: str) -> RenderJob:
        """Follow a video started by :meth:`render`."""
        ...

"""A clone's voice and appearance: provider protocols, two hosted clients, and the API.

Kept thin on purpose (issue 5, item 7) until a real local provider exists: a voice is
made from recordings of the creator by a :class:`VoiceProvider` (built in: ``elevenlabs``,
an ElevenLabs-compatible API) and speaks any text; an appearance is made from a photo by an
:class:`AvatarProvider` (built in: ``d-id``, a D-ID-compatible API) and renders
talking-head videos. Both built-ins exist only once their API key is set; without one the
routes answer a 409 problem saying what to configure. Nothing here works offline.

The clone keeps the provider's ids (``voice_id``, ``appearance_id``) with their readiness
(``none``, ``processing``, ``ready``, ``failed``) and the last failure; its ``status`` stays
the training status. Success emits ``voice_cloned`` / ``appearance_cloned``. A failed
upload keeps the earlier voice or appearance, so the clone still speaks while the creator
tries again.

Routes, under ``/api/v1/clone/groups/{group_id}/clones/{clone_id}``: ``GET /media``
(readiness; ``clone.read``), ``POST /voice`` (samples) and ``POST /appearance`` (a photo;
both ``clone.manage``, multipart, read only after the permission check), ``POST /speech``
(audio of a text), ``POST /videos`` and ``GET /videos/{video_id}`` (a talking-head video;
all three ``clone.chat``, so customers may use an active clone's voice and face).
"""

from __future__ import annotations

import asyncio
import io
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Literal, Protocol, runtime_checkable
from urllib.parse import quote
from uuid import UUID

import httpx
import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.exceptions import HTTPException
from litestar.params import FromPath, JSONBody
from msgspec import Meta

import sdk
from plugins.clone.registry import collect_named
from plugins.clone.settings import CloneSettings, did_api_key, elevenlabs_api_key
from plugins.clone.types import CloneProps

log = logging.getLogger("creator.clone.voice")

MediaState = Literal["none", "processing", "ready", "failed"]
#: What a multipart body may add around its files: boundaries and part headers.
MULTIPART_SLACK = 64 * 1024
#: The upload routes' fixed body limits (the settings are enforced per request).
SAMPLES_BODY_CEILING = 10 * 25 * 1024 * 1024 + MULTIPART_SLACK
PHOTO_BODY_CEILING = 25 * 1024 * 1024 + MULTIPART_SLACK
#: Longest text spoken or rendered at once.
MAX_SPEECH_CHARS = 2500
#: Photo formats the avatar services take (Pillow names many phone cameras' JPEGs "MPO").
PHOTO_FORMATS = {"JPEG": "image/jpeg", "MPO": "image/jpeg", "PNG": "image/png"}
#: Smallest photo side, in pixels: a face must be visible.
MIN_PHOTO_SIDE = 64
_JOB_ID = re.compile(r"[A-Za-z0-9_.:-]{1,200}")


# -- problems ----------------------------------------------------------------------------


class VoiceUnavailable(sdk.PlatformError):
    """The voice service failed (its message, without secrets, is the detail)."""

    status: ClassVar[int] = 502
    code: ClassVar[str] = "voice_unavailable"
    title: ClassVar[str] = "The voice service is unavailable"


class AvatarUnavailable(sdk.PlatformError):
    status: ClassVar[int] = 502
    code: ClassVar[str] = "avatar_unavailable"
    title: ClassVar[str] = "The avatar service is unavailable"


class VoiceNotConfigured(sdk.PlatformError):
    """No voice provider is registered: an operator must configure one (a 4xx, since the
    request cannot succeed as the deployment stands, and nothing broke)."""

    status: ClassVar[int] = 409
    code: ClassVar[str] = "voice_not_configured"
    title: ClassVar[str] = "No voice provider is configured"


class AvatarNotConfigured(sdk.PlatformError):
    status: ClassVar[int] = 409
    code: ClassVar[str] = "avatar_not_configured"
    title: ClassVar[str] = "No avatar provider is configured"


class VoiceNotReady(sdk.PlatformError):
    status: ClassVar[int] = 409
    code: ClassVar[str] = "voice_not_ready"
    title: ClassVar[str] = "The clone has no voice yet"


class AppearanceNotReady(sdk.PlatformError):
    status: ClassVar[int] = 409
    code: ClassVar[str] = "appearance_not_ready"
    title: ClassVar[str] = "The clone has no appearance yet"


# -- provider protocols --------------------------------------------------------------------


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


# -- hosted clients ------------------------------------------------------------------------


def _display_url(base_url: str) -> str:
    """The base URL without credentials, for messages."""
    try:
        url = httpx.URL(base_url)
    except Exception:
        return "the configured URL"
    return str(url.copy_with(username=None, password=None, query=None, fragment=None))


class _HostedClient:
    """An httpx client for one hosted API that turns every failure into a
    :class:`ProviderFailure` with a message fit for a problem: no key, no request body."""

    service: ClassVar[str] = "service"

    def __init__(
        self, *, base_url: str, api_key: str, headers: dict[str, str], timeout: float
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._secret = api_key
        self._client = httpx.AsyncClient(
            base_url=self.base_url, headers=headers, timeout=timeout, follow_redirects=False
        )

    def _clean(self, text: str) -> str:
        text = " ".join(text.split())
        if self._secret:
            text = text.replace(self._secret, "***")
        return text[:300]

    async def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        where = _display_url(self.base_url)
        try:
            response = await self._client.request(method, path, **kwargs)
        except httpx.TimeoutException:
            raise ProviderFailure(
                f"the {self.service} at {where} did not answer within {self.timeout:g} seconds"
            ) from None
        except httpx.HTTPError as exc:
            raise ProviderFailure(
                f"could not reach the {self.service} at {where} ({type(exc).__name__})"
            ) from None
        if response.status_code >= 400:
            raise ProviderFailure(self._refusal(response), response.status_code)
        return response

    def _refusal(self, response: httpx.Response) -> str:
        status = response.status_code
        if status in (401, 403):
            return (
                f"the {self.service} refused the API key (HTTP {status}): check the key in "
                "plugin_settings.clone"
            )
        if status == 429:
            return f"the {self.service} is rate limiting or out of credit (HTTP 429)"
        if status >= 500:
            return f"the {self.service} failed (HTTP {status}); try again later"
        said = self._service_message(response)
        return f"the {self.service} refused the request (HTTP {status})" + (
            f": {said}" if said else ""
        )

    def _service_message(self, response: httpx.Response) -> str:
        try:
            body = response.json()
        except ValueError:
            return ""
        found: Any = body
        for key in ("detail", "description", "message", "error"):
            if isinstance(found, dict) and key in found:
                found = found[key]
        if isinstance(found, dict):
            found = found.get("message") or found.get("description") or ""
        if isinstance(found, list):
            found = "; ".join(
                str(item.get("msg", item) if isinstance(item, dict) else item) for item in found[:3]
            )
        return self._clean(str(found)) if found else ""

    def _json(self, response: httpx.Response, *keys: str) -> dict[str, Any]:
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict) or any(
            not isinstance(body.get(k), str) or not body[k] for k in keys
        ):
            raise ProviderFailure(
                f"the {self.service} answered without {' and '.join(keys)} "
                f"(HTTP {response.status_code})"
            )
        return body

    async def aclose(self) -> None:
        await self._client.aclose()


class ElevenLabsVoice(_HostedClient):
    """Voice cloning and text-to-speech over an ElevenLabs-compatible API:
    ``POST /v1/voices/add`` (multipart ``name`` and ``files``) and
    ``POST /v1/text-to-speech/{voice_id}``, authenticated by the ``xi-api-key`` header."""

    name = "elevenlabs"
    service = "voice service"

    def __init__(
        self,
        *,
        base_url: str,
        api_key: str,
        model: str = "eleven_multilingual_v2",
        output_format: str = "mp3_44100_128",
        timeout: float = 60.0,
    ) -> None:
        super().__init__(
            base_url=base_url, api_key=api_key, headers={"xi-api-key": api_key}, timeout=timeout
        )
        self.model = model
        self.output_format = output_format

    async def clone_voice(self, name: str, samples: Sequence[AudioSample]) -> str:
        files = [("files", (s.filename, s.content, s.media_type)) for s in samples]
        response = await self._send(
            "POST",
            "/v1/voices/add",
            data={"name": name[:100], "description": "An AI clone's voice"},
            files=files,
        )
        voice_id: str = self._json(response, "voice_id")["voice_id"]
        if len(voice_id) > 200:
            raise ProviderFailure(f"the {self.service} answered a voice id over 200 characters")
        return voice_id

    async def speak(self, voice_id: str, text: str) -> Speech:
        response = await self._send(
            "POST",
            f"/v1/text-to-speech/{quote(voice_id, safe='')}",
            params={"output_format": self.output_format},
            json={"text": text, "model_id": self.model},
            headers={"Accept": "audio/*"},
        )
        media_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
        if not media_type.startswith("audio/") or not response.content:
            raise ProviderFailure(f"the {self.service} answered no audio ({media_type or '?'})")
        return Speech(audio=response.content, media_type=media_type)


class DIDAvatar(_HostedClient):
    """Talking-head video over a D-ID-compatible API: ``POST /images`` (the photo; its
    ``url`` is the appearance id), ``POST /audios`` (the clone's voice, when it has one),
    ``POST /talks`` and ``GET /talks/{id}``; ``Authorization: Basic <key>`` (or Bearer)."""

    name = "d-id"
    service = "avatar service"
    STATUSES: ClassVar[dict[str, Literal["processing", "done", "failed"]]] = {
        "created": "processing",
        "started": "processing",
        "done": "done",
        "error": "failed",
        "rejected": "failed",
    }

    def __init__(
        self, *, base_url: str, api_key: str, auth_scheme: str = "Basic", timeout: float = 60.0
    ) -> None:
        super().__init__(
            base_url=base_url,
            api_key=api_key,
            headers={"Authorization": f"{auth_scheme} {api_key}"},
            timeout=timeout,
        )

    async def create_appearance(self, photo: Photo) -> str:
        response = await self._send(
            "POST", "/images", files={"image": (photo.filename, photo.content, photo.media_type)}
        )
        url: str = self._json(response, "url")["url"]
        if len(url) > 200:
            raise ProviderFailure(f"the {self.service} answered an image URL over 200 characters")
        return url

    async def render(self, appearance_id: str, script: Script) -> RenderJob:
        if script.audio is not None:
            extension = script.audio.media_type.rsplit("/", 1)[-1]
            uploaded = await self._send(
                "POST",
                "/audios",
                files={
                    "audio": (f"speech.{extension}", script.audio.audio, script.audio.media_type)
                },
            )
            spoken: dict[str, Any] = {
                "type": "audio",
                "audio_url": self._json(uploaded, "url")["url"],
            }
        else:
            spoken = {"type": "text", "input": script.text}
        response = await self._send(
            "POST", "/talks", json={"source_url": appearance_id, "script": spoken}
        )
        return self._job(self._json(response, "id"), appearance_id)

    async def render_status(self, job_id: str) -> RenderJob:
        response = await self._send("GET", f"/talks/{quote(job_id, safe='')}")
        return self._job(self._json(response, "id"))

    def _job(self, body: dict[str, Any], appearance_id: str | None = None) -> RenderJob:
        status = self.STATUSES.get(str(body.get("status", "created")), "processing")
        error = body.get("error")
        if isinstance(error, dict):
            error = error.get("description") or error.get("kind")
        source = body.get("source_url")
        return RenderJob(
            id=body["id"],
            status=status,
            url=body.get("result_url") if isinstance(body.get("result_url"), str) else None,
            appearance_id=source if isinstance(source, str) else appearance_id,
            error=self._clean(str(error)) if error and status == "failed" else None,
        )


def builtin_voice_providers(settings: CloneSettings) -> list[VoiceProvider]:
    """``elevenlabs`` when its key is set; nothing otherwise (there is no offline voice)."""
    key = elevenlabs_api_key(settings)
    if not key:
        return []
    return [
        ElevenLabsVoice(
            base_url=settings.elevenlabs_base_url, api_key=key, model=settings.elevenlabs_model,
            output_format=settings.elevenlabs_output_format,
            timeout=settings.media_timeout_seconds,
        )
    ]  # fmt: skip


def builtin_avatar_providers(settings: CloneSettings) -> list[AvatarProvider]:
    """``d-id`` when its key is set; nothing otherwise (there is no offline avatar)."""
    key = did_api_key(settings)
    if not key:
        return []
    return [
        DIDAvatar(
            base_url=settings.did_base_url, api_key=key, auth_scheme=settings.did_auth_scheme,
            timeout=settings.media_timeout_seconds,
        )
    ]  # fmt: skip


# -- types: event payloads, bodies, views --------------------------------------------------


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


# -- behaviour -----------------------------------------------------------------------------


def _choose(
    providers: dict[str, Any], wanted: str, kind: str, error: type[sdk.PlatformError], key: str
) -> Any:
    """The ``kind`` provider the ``{kind}_provider`` setting names (empty: the first
    registered), or ``error`` saying what to configure."""
    if wanted:
        if wanted in providers:
            return providers[wanted]
        raise error(
            f"plugin_settings.clone.{kind}_provider is {wanted!r}, which no enabled plugin "
            f"registers (registered: {', '.join(sorted(providers)) or 'none'})"
        )
    if not providers:
        raise error(
            f"no {kind} provider is configured: set plugin_settings.clone.{key}, or enable a "
            "plugin that registers one"
        )
    return next(iter(providers.values()))


class CloneMedia:
    """The voice and avatar providers of a running platform, and what clones do with
    them. One instance per platform (``app.state.clone_media``)."""

    def __init__(
        self,
        platform: sdk.Platform,
        settings: CloneSettings,
        voices: dict[str, VoiceProvider],
        avatars: dict[str, AvatarProvider],
    ) -> None:
        self.platform = platform
        self.settings = settings
        self.voices = voices
        self.avatars = avatars

    @classmethod
    def collect(cls, platform: sdk.Platform, settings: CloneSettings) -> CloneMedia:
        voices = collect_named(platform, "register_voice_providers", ("clone_voice", "speak"))
        avatars = collect_named(
            platform,
            "register_avatar_providers",
            ("create_appearance", "render", "render_status"),
        )
        return cls(platform, settings, voices, avatars)

    async def aclose(self) -> None:
        for provider in [*self.voices.values(), *self.avatars.values()]:
            close = getattr(provider, "aclose", None)
            if close is not None:
                await close()

    # -- choosing providers ---------------------------------------------------------------

    def voice_provider(self) -> VoiceProvider:
        provider: VoiceProvider = _choose(
            self.voices, self.settings.voice_provider, "voice", VoiceNotConfigured,
            "elevenlabs_api_key (or $ELEVENLABS_API_KEY)",
        )  # fmt: skip
        return provider

    def avatar_provider(self) -> AvatarProvider:
        provider: AvatarProvider = _choose(
            self.avatars, self.settings.avatar_provider, "avatar", AvatarNotConfigured,
            "did_api_key (or $DID_API_KEY)",
        )  # fmt: skip
        return provider

    def _voice_of(self, props: CloneProps) -> VoiceProvider:
        if not props.voice_id:
            raise VoiceNotReady("the clone has no voice yet: upload recordings to POST .../voice")
        provider = self.voices.get(props.voice_provider)
        if provider is None:
            raise VoiceNotConfigured(
                f"the clone's voice was made by the voice provider {props.voice_provider!r}, "
                "which is not configured now (set its API key in plugin_settings.clone)"
            )
        return provider

    def _avatar_of(self, props: CloneProps) -> AvatarProvider:
        if not props.appearance_id:
            raise AppearanceNotReady(
                "the clone has no appearance yet: upload a photo to POST .../appearance"
            )
        provider = self.avatars.get(props.appearance_provider)
        if provider is None:
            raise AvatarNotConfigured(
                f"the clone's appearance was made by the avatar provider "
                f"{props.appearance_provider!r}, which is not configured now (set its API key "
                "in plugin_settings.clone)"
            )
        return provider

    # -- clones ---------------------------------------------------------------------------

    @staticmethod
    async def clone_thing(group: sdk.GroupContext, clone_id: UUID) -> sdk.Thing:
        try:
            return await group.stores.things.get(clone_id, type="ai_clone")
        except sdk.NotFound:
            raise sdk.NotFound(f"clone {clone_id} not found") from None

    async def chat_clone(self, group: sdk.GroupContext, clone_id: UUID) -> sdk.Thing:
        """The clone, for someone who may talk to it: members who may read clones use any;
        customers only active ones (others are 404 to them, as in chat)."""
        group.require("clone.chat")
        clone = await self.clone_thing(group, clone_id)
        resource = group.resource("ai_clone", clone.id, clone.status)
        if clone.status != "active" and not group.permissions.can(
            group.scope, "clone.read", resource
        ):
            raise sdk.NotFound(f"clone {clone_id} not found")
        group.require("clone.chat", resource)
        return clone

    def _readiness(
        self, kind: Literal["voice", "appearance"], props: CloneProps, registered: dict[str, Any]
    ) -> Readiness:
        holder = getattr(props, f"{kind}_provider")
        item_id = getattr(props, f"{kind}_id")
        state: MediaState = getattr(props, f"{kind}_state")
        if item_id and state == "none":
            state = "ready"  # set before readiness was recorded
        chosen = self.settings.voice_provider if kind == "voice" else self.settings.avatar_provider
        configured = (
            holder in registered
            if item_id
            else bool((chosen in registered) if chosen else registered)
        )
        upload = (
            "recordings to POST .../voice" if kind == "voice" else "a photo to POST .../appearance"
        )
        key = "elevenlabs_api_key" if kind == "voice" else "did_api_key"
        if not configured:
            hint = f"configure a provider first (plugin_settings.clone.{key})"
        elif state == "processing":
            hint = "being made"
        elif state == "failed":
            hint = f"the last upload failed; upload {upload} again"
        elif item_id:
            hint = "ready" if kind == "appearance" else "ready to speak"
        else:
            hint = f"upload {upload}"
        return Readiness(
            state=state, provider=holder if item_id else "", id=item_id, configured=configured,
            error=getattr(props, f"{kind}_error"), hint=hint,
        )  # fmt: skip

    async def status(self, group: sdk.GroupContext, clone_id: UUID) -> MediaStatus:
        group.require("clone.read")
        clone = await self.clone_thing(group, clone_id)
        return self.status_of(clone)

    def status_of(self, clone: sdk.Thing) -> MediaStatus:
        props = msgspec.convert(clone.properties, CloneProps)
        return MediaStatus(
            clone_id=str(clone.id),
            voice=self._readiness("voice", props, dict(self.voices)),
            appearance=self._readiness("appearance", props, dict(self.avatars)),
            voice_providers=list(self.voices),
            avatar_providers=list(self.avatars),
        )

    async def _mark(
        self, group: sdk.GroupContext, clone_id: UUID, properties: dict[str, Any]
    ) -> None:
        async with self.platform.ontology.transaction(group.scope) as o:
            await o.things.update(clone_id, properties=properties)
            if properties.get("voice_state") == "failed" or (
                properties.get("appearance_state") == "failed"
            ):
                await o.events.emit(
                    "clone_updated",
                    {"clone_id": str(clone_id), "changed": sorted(properties)},
                    target_id=clone_id,
                )

    async def make_voice(
        self, group: sdk.GroupContext, clone: sdk.Thing, samples: Sequence[AudioSample]
    ) -> MediaStatus:
        provider = self.voice_provider()
        await self._mark(group, clone.id, {"voice_state": "processing"})
        try:
            voice_id = await provider.clone_voice(clone.name, samples)
        except ProviderFailure as exc:
            message = str(exc)[:1000]
            await self._mark(group, clone.id, {"voice_state": "failed", "voice_error": message})
            raise VoiceUnavailable(message, provider=provider.name) from None
        except Exception:
            log.exception("voice provider %r failed", provider.name)
            message = f"the voice provider {provider.name!r} failed unexpectedly"
            await self._mark(group, clone.id, {"voice_state": "failed", "voice_error": message})
            raise VoiceUnavailable(message, provider=provider.name) from None
        size = sum(len(s.content) for s in samples)
        async with self.platform.ontology.transaction(group.scope) as o:
            updated = await o.things.update(
                clone.id,
                properties={"voice_id": voice_id, "voice_provider": provider.name,
                            "voice_state": "ready", "voice_error": None},
            )  # fmt: skip
            payload = VoiceCloned(str(clone.id), provider.name, voice_id, len(samples), size)
            await o.events.emit("voice_cloned", msgspec.to_builtins(payload), target_id=clone.id)
        return self.status_of(updated)

    async def make_appearance(
        self, group: sdk.GroupContext, clone: sdk.Thing, photo: Photo
    ) -> MediaStatus:
        provider = self.avatar_provider()
        await self._mark(group, clone.id, {"appearance_state": "processing"})
        try:
            appearance_id = await provider.create_appearance(photo)
        except ProviderFailure as exc:
            message = str(exc)[:1000]
            await self._mark(
                group, clone.id, {"appearance_state": "failed", "appearance_error": message}
            )
            raise AvatarUnavailable(message, provider=provider.name) from None
        except Exception:
            log.exception("avatar provider %r failed", provider.name)
            message = f"the avatar provider {provider.name!r} failed unexpectedly"
            await self._mark(
                group, clone.id, {"appearance_state": "failed", "appearance_error": message}
            )
            raise AvatarUnavailable(message, provider=provider.name) from None
        async with self.platform.ontology.transaction(group.scope) as o:
            updated = await o.things.update(
                clone.id,
                properties={"appearance_id": appearance_id, "appearance_provider": provider.name,
                            "appearance_state": "ready", "appearance_error": None},
            )  # fmt: skip
            payload = AppearanceCloned(str(clone.id), provider.name, appearance_id)
            await o.events.emit(
                "appearance_cloned", msgspec.to_builtins(payload), target_id=clone.id
            )
        return self.status_of(updated)

    async def speak(self, group: sdk.GroupContext, clone_id: UUID, text: str) -> Speech:
        clone = await self.chat_clone(group, clone_id)
        props = msgspec.convert(clone.properties, CloneProps)
        return await self._speak(props, text)

    async def _speak(self, props: CloneProps, text: str) -> Speech:
        provider = self._voice_of(props)
        try:
            return await provider.speak(props.voice_id, text)
        except ProviderFailure as exc:
            raise VoiceUnavailable(str(exc)[:1000], provider=provider.name) from None

    async def render(self, group: sdk.GroupContext, clone_id: UUID, text: str) -> VideoView:
        """A talking-head video of the clone saying ``text``: in its own voice when it has
        one whose provider is on, else in the avatar service's voice."""
        clone = await self.chat_clone(group, clone_id)
        props = msgspec.convert(clone.properties, CloneProps)
        provider = self._avatar_of(props)
        audio = None
        if props.voice_id and props.voice_provider in self.voices:
            audio = await self._speak(props, text)
        try:
            job = await provider.render(props.appearance_id, Script(text=text, audio=audio))
        except ProviderFailure as exc:
            raise AvatarUnavailable(str(exc)[:1000], provider=provider.name) from None
        return VideoView(job.id, str(clone_id), job.status, job.url, job.error)

    async def video(self, group: sdk.GroupContext, clone_id: UUID, video_id: str) -> VideoView:
        """A video of this clone's current appearance; another's (another group's too) is
        404, since the service knows which photo each video was rendered from."""
        clone = await self.chat_clone(group, clone_id)
        props = msgspec.convert(clone.properties, CloneProps)
        missing = sdk.NotFound(f"video {video_id} not found for clone {clone_id}")
        if not _JOB_ID.fullmatch(video_id):
            raise missing
        provider = self._avatar_of(props)
        try:
            job = await provider.render_status(video_id)
        except ProviderFailure as exc:
            if exc.status == 404:
                raise missing from None
            raise AvatarUnavailable(str(exc)[:1000], provider=provider.name) from None
        if job.appearance_id != props.appearance_id:
            raise missing
        return VideoView(job.id, str(clone_id), job.status, job.url, job.error)


# -- reading uploads -----------------------------------------------------------------------


def sniff_audio(data: bytes) -> str | None:
    """The media type of an audio file from its first bytes (``None``: not audio we know).
    The name and the declared type are not trusted."""
    if len(data) < 12:
        return None
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        return "audio/wav"
    if data[:4] == b"OggS":
        return "audio/ogg"
    if data[:4] == b"fLaC":
        return "audio/flac"
    if data[:4] == b"\x1a\x45\xdf\xa3":
        return "audio/webm"
    if data[4:8] == b"ftyp":
        return "audio/mp4"
    if data[:3] == b"ID3":
        return "audio/mpeg"
    if data[0] == 0xFF and data[1] & 0xE0 == 0xE0:
        return "audio/aac" if (data[1] >> 1) & 0x03 == 0 else "audio/mpeg"
    return None


def check_photo(data: bytes) -> str:
    """The media type of a JPEG or PNG photo that Pillow can read whole; 415 for anything
    else, 422 for a damaged or tiny image."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            kind, size = image.format, image.size
            image.verify()
    except (UnidentifiedImageError, Image.DecompressionBombError):
        raise sdk.UnsupportedMediaType("send the photo as a JPEG or PNG image") from None
    except Exception:
        raise sdk.ValidationFailed("the image is damaged", field="file") from None
    if kind not in PHOTO_FORMATS:
        raise sdk.UnsupportedMediaType(f"send the photo as a JPEG or PNG image, not {kind}")
    if min(size) < MIN_PHOTO_SIDE:
        raise sdk.ValidationFailed(
            f"the photo is too small: at least {MIN_PHOTO_SIDE}x{MIN_PHOTO_SIDE} pixels",
            field="file",
        )
    return PHOTO_FORMATS[kind]


def _filename(upload: UploadFile, fallback: str) -> str:
    name = (upload.filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable() and ch not in "\"';")
    return name.strip()[:100] or fallback


async def _read_files(request: Request[Any, Any, Any], most: int) -> list[UploadFile]:
    """The files of the ``file`` field of a multipart body (1 to ``most``), or a 4xx."""
    if request.content_type[0] != "multipart/form-data":
        raise sdk.UnsupportedMediaType("send the files as multipart/form-data in a field 'file'")
    try:
        form = await request.form()
    except (sdk.PlatformError, HTTPException):
        raise
    except Exception:
        raise sdk.ValidationFailed("the multipart body could not be read", field="file") from None
    everything = [v for v in form.values() if isinstance(v, UploadFile)]
    files = [
        v for v in (form.getall("file") if "file" in form else []) if isinstance(v, UploadFile)
    ]
    problem: sdk.PlatformError | None = None
    if not files:
        problem = sdk.ValidationFailed("send the file in the field 'file'", field="file")
    elif len(files) > most:
        problem = sdk.ValidationFailed(f"send at most {most} files at once", field="file")
    if problem is not None:
        for upload in everything:
            await upload.close()
        raise problem
    return files


async def _contents(files: Sequence[UploadFile], limit: int) -> list[tuple[UploadFile, bytes]]:
    read: list[tuple[UploadFile, bytes]] = []
    try:
        for upload in files:
            data = await upload.read(limit + 1)
            if len(data) > limit:
                raise sdk.PayloadTooLarge(
                    f"{_filename(upload, 'a file')} is larger than the {limit} bytes a file may "
                    "have",
                    limit=limit,
                )
            if not data:
                raise sdk.ValidationFailed(f"{_filename(upload, 'a file')} is empty", field="file")
            read.append((upload, data))
    finally:
        for upload in files:
            await upload.close()
    return read


# -- routes --------------------------------------------------------------------------------


def media(request: Request[Any, Any, Any]) -> CloneMedia:
    found: CloneMedia = request.app.state.clone_media
    return found


def _refuse_over(limit: int) -> None:
    raise sdk.PayloadTooLarge(f"the request is larger than the {limit} bytes allowed", limit=limit)


def _announced(request: Request[Any, Any, Any]) -> int | None:
    length = request.headers.get("content-length", "")
    return int(length) if length.isascii() and length.isdigit() else None


async def _refuse_large_samples(request: Request[Any, Any, Any]) -> None:
    settings = media(request).settings
    limit = settings.max_voice_samples * settings.max_media_bytes + MULTIPART_SLACK
    announced = _announced(request)
    if announced is not None and announced > limit:
        _refuse_over(limit)


async def _refuse_large_photo(request: Request[Any, Any, Any]) -> None:
    limit = media(request).settings.max_media_bytes + MULTIPART_SLACK
    announced = _announced(request)
    if announced is not None and announced > limit:
        _refuse_over(limit)


CLONE = "/clones/{clone_id:uuid}"


class CloneMediaController(Controller):
    path = "/groups/{group_id:uuid}"

    @get(CLONE + "/media", summary="What is ready of a clone's voice and appearance")
    async def media_status(
        self,
        request: Request[Any, Any, Any],
        group: NamedDependency[sdk.GroupContext],
        clone_id: FromPath[UUID],
    ) -> MediaStatus:
        return await media(request).status(group, clone_id)

    @post(
        CLONE + "/voice",
        summary="Give a clone a voice from recordings of the creator (multipart 'file')",
        before_request=_refuse_large_samples,
        request_max_body_size=SAMPLES_BODY_CEILING,
        status_code=201,
    )
    async def upload_voice(
        self,
        request: Request[Any, Any, Any],
        group: NamedDependency[sdk.GroupContext],
        clone_id: FromPath[UUID],
    ) -> MediaStatus:
        """One or more recordings (MP3, WAV, OGG, FLAC, M4A or WebM, sniffed from their
        bytes) in the ``file`` field. 409 ``voice_not_configured`` without a voice
        provider; 502 ``voice_unavailable`` if the service fails (the earlier voice stays).
        The body is read only once the caller may manage this group's clones."""
        group.require("clone.manage")
        service = media(request)
        clone = await service.clone_thing(group, clone_id)
        service.voice_provider()  # say what to configure before reading any upload
        settings = service.settings
        files = await _read_files(request, settings.max_voice_samples)
        samples = []
        for number, (upload, data) in enumerate(
            await _contents(files, settings.max_media_bytes), start=1
        ):
            kind = sniff_audio(data)
            if kind is None:
                raise sdk.UnsupportedMediaType(
                    f"{_filename(upload, 'a file')} is not a recording: send MP3, WAV, OGG, "
                    "FLAC, M4A or WebM audio"
                )
            samples.append(AudioSample(_filename(upload, f"sample-{number}"), data, kind))
        return await service.make_voice(group, clone, samples)

    @post(
        CLONE + "/appearance",
        summary="Give a clone a face from a photo of the creator (multipart 'file')",
        before_request=_refuse_large_photo,
        request_max_body_size=PHOTO_BODY_CEILING,
        status_code=201,
    )
    async def upload_appearance(
        self,
        request: Request[Any, Any, Any],
        group: NamedDependency[sdk.GroupContext],
        clone_id: FromPath[UUID],
    ) -> MediaStatus:
        """A JPEG or PNG photo of a face in the ``file`` field. 409
        ``avatar_not_configured`` without an avatar provider; 502 ``avatar_unavailable``
        if the service fails."""
        group.require("clone.manage")
        service = media(request)
        clone = await service.clone_thing(group, clone_id)
        service.avatar_provider()
        limit = service.settings.max_media_bytes
        [(upload, data)] = await _contents(await _read_files(request, 1), limit)
        kind = await asyncio.to_thread(check_photo, data)
        photo = Photo(_filename(upload, "photo." + kind.rsplit("/", 1)[-1]), data, kind)
        return await service.make_appearance(group, clone, photo)

    @post(CLONE + "/speech", summary="Say a text in the clone's voice (audio)", status_code=200)
    async def speech(
        self,
        request: Request[Any, Any, Any],
        group: NamedDependency[sdk.GroupContext],
        clone_id: FromPath[UUID],
        data: JSONBody[SpeechIn],
    ) -> Response[bytes]:
        """Answers the audio (``audio/mpeg`` by default). 409 ``voice_not_ready`` before
        the clone has a voice; 502 ``voice_unavailable`` if the service fails."""
        spoken = await media(request).speak(group, clone_id, data.text)
        return Response(
            spoken.audio, media_type=spoken.media_type, headers={"Cache-Control": "no-store"}
        )

    @post(CLONE + "/videos", summary="Start a talking-head video of the clone", status_code=202)
    async def start_video(
        self,
        request: Request[Any, Any, Any],
        group: NamedDependency[sdk.GroupContext],
        clone_id: FromPath[UUID],
        data: JSONBody[VideoIn],
    ) -> VideoView:
        """Answers 202 with the video's id; follow it at ``GET .../videos/{id}`` until its
        ``status`` is ``done`` (with its ``url``) or ``failed``."""
        return await media(request).render(group, clone_id, data.text)

    @get(CLONE + "/videos/{video_id:str}", summary="A talking-head video of the clone")
    async def get_video(
        self,
        request: Request[Any, Any, Any],
        group: NamedDependency[sdk.GroupContext],
        clone_id: FromPath[UUID],
        video_id: FromPath[str],
    ) -> VideoView:
        return await media(request).video(group, clone_id, video_id)


ROUTES = [sdk.api_router("clone", [CloneMediaController])]

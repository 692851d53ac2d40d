"""What clones do with their voice and appearance: choosing the providers, making a voice
from recordings and an appearance from a photo, speaking, rendering videos.

The clone keeps the provider's ids (``voice_id``, ``appearance_id``) with their readiness
(``none``, ``processing``, ``ready``, ``failed``) and the last failure; its ``status`` stays
the training status. Success emits ``voice_cloned`` / ``appearance_cloned``. A failed
upload keeps the earlier voice or appearance, so the clone still speaks while the creator
tries again.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, ClassVar, Literal
from uuid import UUID

import msgspec

import sdk
from plugins.clone.registry import collect_named
from plugins.clone.settings import CloneSettings
from plugins.clone.types import CloneProps
from plugins.clone.voice import (
    AudioSample,
    AvatarProvider,
    Photo,
    ProviderFailure,
    Script,
    Speech,
    VoiceProvider,
)
from plugins.clone.voice.types import (
    AppearanceCloned,
    MediaState,
    MediaStatus,
    Readiness,
    VideoView,
    VoiceCloned,
)

log = logging.getLogger("creator.clone.voice")

MediaKind = Literal["voice", "appearance"]
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
        voices = collect_named(
            platform, "register_voice_providers", ("clone_voice", "speak"), "voice provider"
        )
        avatars = collect_named(
            platform,
            "register_avatar_providers",
            ("create_appearance", "render", "render_status"),
            "avatar provider",
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
            self.voices,
            self.settings.voice_provider,
            "voice",
            VoiceNotConfigured,
            "elevenlabs_api_key (or $ELEVENLABS_API_KEY)",
        )
        return provider

    def avatar_provider(self) -> AvatarProvider:
        provider: AvatarProvider = _choose(
            self.avatars,
            self.settings.avatar_provider,
            "avatar",
            AvatarNotConfigured,
            "did_api_key (or $DID_API_KEY)",
        )
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

    async def _chat_props(self, group: sdk.GroupContext, clone_id: UUID) -> CloneProps:
        clone = await self.chat_clone(group, clone_id)
        return msgspec.convert(clone.properties, CloneProps)

    def _readiness(
        self, kind: MediaKind, props: CloneProps, registered: dict[str, Any]
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
            state=state,
            provider=holder if item_id else "",
            id=item_id,
            configured=configured,
            error=getattr(props, f"{kind}_error"),
            hint=hint,
        )

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
        size = sum(len(s.content) for s in samples)
        return await self._make(
            group,
            clone,
            "voice",
            provider.name,
            lambda: provider.clone_voice(clone.name, samples),
            lambda voice_id: VoiceCloned(
                str(clone.id), provider.name, voice_id, len(samples), size
            ),
        )

    async def make_appearance(
        self, group: sdk.GroupContext, clone: sdk.Thing, photo: Photo
    ) -> MediaStatus:
        provider = self.avatar_provider()
        return await self._make(
            group,
            clone,
            "appearance",
            provider.name,
            lambda: provider.create_appearance(photo),
            lambda appearance_id: AppearanceCloned(str(clone.id), provider.name, appearance_id),
        )

    async def _make(
        self,
        group: sdk.GroupContext,
        clone: sdk.Thing,
        kind: MediaKind,
        provider: str,
        make: Callable[[], Awaitable[str]],
        payload: Callable[[str], msgspec.Struct],
    ) -> MediaStatus:
        """Make the clone's ``kind`` with ``make`` (processing meanwhile), keep its id and
        emit ``{kind}_cloned``; a failure is recorded on the clone, whose earlier one stays."""
        label = "voice" if kind == "voice" else "avatar"
        unavailable = VoiceUnavailable if kind == "voice" else AvatarUnavailable
        await self._mark(group, clone.id, {f"{kind}_state": "processing"})
        try:
            made = await make()
        except ProviderFailure as exc:
            message = str(exc)[:1000]
            await self._mark(group, clone.id, {f"{kind}_state": "failed", f"{kind}_error": message})
            raise unavailable(message, provider=provider) from None
        except Exception:
            log.exception("%s provider %r failed", label, provider)
            message = f"the {label} provider {provider!r} failed unexpectedly"
            await self._mark(group, clone.id, {f"{kind}_state": "failed", f"{kind}_error": message})
            raise unavailable(message, provider=provider) from None
        async with self.platform.ontology.transaction(group.scope) as o:
            updated = await o.things.update(
                clone.id,
                properties={
                    f"{kind}_id": made,
                    f"{kind}_provider": provider,
                    f"{kind}_state": "ready",
                    f"{kind}_error": None,
                },
            )
            await o.events.emit(
                f"{kind}_cloned", msgspec.to_builtins(payload(made)), target_id=clone.id
            )
        return self.status_of(updated)

    async def speak(self, group: sdk.GroupContext, clone_id: UUID, text: str) -> Speech:
        props = await self._chat_props(group, clone_id)
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
        props = await self._chat_props(group, clone_id)
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
        props = await self._chat_props(group, clone_id)
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

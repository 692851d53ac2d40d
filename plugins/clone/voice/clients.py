"""The built-in voice and avatar providers: httpx clients for an ElevenLabs-compatible
and a D-ID-compatible API, each registered only once its API key is set."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, Literal
from urllib.parse import quote

import httpx

from plugins.clone.settings import CloneSettings, did_api_key, elevenlabs_api_key
from plugins.clone.voice import (
    AudioSample,
    AvatarProvider,
    Photo,
    ProviderFailure,
    RenderJob,
    Script,
    Speech,
    VoiceProvider,
)


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
            base_url=settings.elevenlabs_base_url,
            api_key=key,
            model=settings.elevenlabs_model,
            output_format=settings.elevenlabs_output_format,
            timeout=settings.media_timeout_seconds,
        )
    ]


def builtin_avatar_providers(settings: CloneSettings) -> list[AvatarProvider]:
    """``d-id`` when its key is set; nothing otherwise (there is no offline avatar)."""
    key = did_api_key(settings)
    if not key:
        return []
    return [
        DIDAvatar(
            base_url=settings.did_base_url,
            api_key=key,
            auth_scheme=settings.did_auth_scheme,
            timeout=settings.media_timeout_seconds,
        )
    ]

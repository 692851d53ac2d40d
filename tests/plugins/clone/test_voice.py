"""A clone's voice and appearance: the ``elevenlabs`` and ``d-id`` clients (real httpx)
against a local HTTP server speaking those APIs, through the real routes; the hooks with a
third-party provider; what happens with no key, with failing services, bad uploads and
another tenant."""

from __future__ import annotations

import asyncio
import io
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import pytest_asyncio
import uvicorn
from litestar import Litestar, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.params import FromPath
from PIL import Image

from plugins.clone.voice import AudioSample, ProviderFailure, RenderJob, Script, Speech
from sdk import hookimpl
from sdk.testing import CreatorPlatform, Tenant, assert_problem

XI_KEY = "xi-secret-key-0123456789"
DID_KEY = "ZGlkQGV4YW1wbGU:did-secret-9876"
WAV = b"RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00" + bytes(64)
MP3 = b"ID3\x03\x00\x00\x00\x00\x00\x00" + bytes(64)
OGG = b"OggS\x00\x02" + bytes(64)


def png(size: tuple[int, int] = (128, 128), fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    image = Image.new("RGB", size, (200, 120, 80))
    if fmt == "MPO":  # what many phone cameras write: a JPEG with a second image
        image.save(buffer, format=fmt, save_all=True, append_images=[image.copy()])
    else:
        image.save(buffer, format=fmt)
    return buffer.getvalue()


# -- a local server speaking the ElevenLabs and D-ID APIs -----------------------------------


@dataclass
class Services:
    """What the fake services received, and how they misbehave (``fail``: answer that
    status to every request; ``slow``: seconds to wait first)."""

    received: list[dict[str, Any]] = field(default_factory=list)
    fail: int | None = None
    fail_body: Any = None
    slow: float = 0.0
    voices: dict[str, dict[str, Any]] = field(default_factory=dict)
    images: dict[str, str] = field(default_factory=dict)
    talks: dict[str, dict[str, Any]] = field(default_factory=dict)
    url: str = ""

    def reset(self) -> None:
        """Forget what was received; behave again."""
        self.received.clear()
        self.fail, self.fail_body, self.slow = None, None, 0.0

    def forget(self) -> None:
        """Forget everything made (between tests: each starts with voice0001, img_1)."""
        self.reset()
        self.voices.clear()
        self.images.clear()
        self.talks.clear()

    def paths(self) -> list[str]:
        return [f"{r['method']} {r['path']}" for r in self.received]


def fake_services(state: Services) -> Litestar:
    async def gate(request: Request[Any, Any, Any], header: str, expected: str) -> Any:
        state.received.append(
            {
                "method": request.method,
                "path": request.url.path,
                "auth": request.headers.get(header),
            }
        )
        if state.slow:
            await asyncio.sleep(state.slow)
        if state.fail is not None:
            return Response(state.fail_body or {"detail": "boom"}, status_code=state.fail)
        if request.headers.get(header) != expected:
            given = request.headers.get(header, "")
            return Response(
                {"detail": {"status": "invalid_api_key", "message": f"Invalid key {given}"}},
                status_code=401,
            )
        return None

    async def files_of(request: Request[Any, Any, Any], name: str) -> list[tuple[str, str, bytes]]:
        form = await request.form()
        found = []
        for upload in form.getall(name) if name in form else []:
            assert isinstance(upload, UploadFile)
            found.append((upload.filename, upload.content_type, await upload.read()))
        return found

    @post("/v1/voices/add", status_code=200)
    async def add_voice(request: Request[Any, Any, Any]) -> Any:
        if (refused := await gate(request, "xi-api-key", XI_KEY)) is not None:
            return refused
        form = await request.form()
        files = await files_of(request, "files")
        voice_id = f"voice{len(state.voices) + 1:04d}"
        state.voices[voice_id] = {"name": form.get("name"), "files": files}
        state.received[-1].update(name=form.get("name"), files=files)
        return {"voice_id": voice_id, "requires_verification": False}

    @post("/v1/text-to-speech/{voice_id:str}", status_code=200)
    async def speak(request: Request[Any, Any, Any], voice_id: FromPath[str]) -> Any:
        if (refused := await gate(request, "xi-api-key", XI_KEY)) is not None:
            return refused
        body = await request.json()
        state.received[-1].update(body=body, query=dict(request.query_params))
        if voice_id not in state.voices:
            return Response({"detail": {"message": "voice not found"}}, status_code=404)
        audio = b"ID3" + f"{voice_id}:{body['text']}".encode()
        return Response(audio, media_type="audio/mpeg")

    @post("/images", status_code=201)
    async def add_image(request: Request[Any, Any, Any]) -> Any:
        if (refused := await gate(request, "authorization", f"Basic {DID_KEY}")) is not None:
            return refused
        [(filename, content_type, data)] = await files_of(request, "image")
        image_id = f"img_{len(state.images) + 1}"
        url = f"s3://d-id-images-prod/user/{image_id}/{filename}"
        state.images[image_id] = url
        state.received[-1].update(filename=filename, content_type=content_type, size=len(data))
        return {"id": image_id, "url": url}

    @post("/audios", status_code=201)
    async def add_audio(request: Request[Any, Any, Any]) -> Any:
        if (refused := await gate(request, "authorization", f"Basic {DID_KEY}")) is not None:
            return refused
        [(filename, content_type, data)] = await files_of(request, "audio")
        state.received[-1].update(content_type=content_type, data=data)
        return {"id": "aud_1", "url": f"s3://d-id-audios-prod/user/aud_1/{filename}"}

    @post("/talks", status_code=201)
    async def add_talk(request: Request[Any, Any, Any]) -> Any:
        if (refused := await gate(request, "authorization", f"Basic {DID_KEY}")) is not None:
            return refused
        body = await request.json()
        state.received[-1].update(body=body)
        talk_id = f"tlk_{len(state.talks) + 1}"
        state.talks[talk_id] = body
        return {"id": talk_id, "created_at": "2026-01-01T00:00:00Z", "status": "created"}

    @get("/talks/{talk_id:str}")
    async def get_talk(request: Request[Any, Any, Any], talk_id: FromPath[str]) -> Any:
        if (refused := await gate(request, "authorization", f"Basic {DID_KEY}")) is not None:
            return refused
        if talk_id not in state.talks:
            return Response({"kind": "NotFoundError", "description": "not found"}, status_code=404)
        return {
            "id": talk_id,
            "status": "done",
            "source_url": state.talks[talk_id]["source_url"],
            "result_url": f"https://d-id-talks-prod.example/{talk_id}.mp4",
        }

    return Litestar([add_voice, speak, add_image, add_audio, add_talk, get_talk])


@pytest.fixture(scope="module")
def services() -> Iterator[Services]:
    """The fake ElevenLabs and D-ID APIs on 127.0.0.1 (a random port), in a thread."""
    state = Services()
    server = uvicorn.Server(
        uvicorn.Config(fake_services(state), host="127.0.0.1", port=0, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "fake services did not start"
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    state.url = f"http://127.0.0.1:{port}"
    yield state
    server.should_exit = True
    thread.join(10)


def hosted(services: Services, **extra: Any) -> dict[str, Any]:
    return {
        "elevenlabs_base_url": services.url,
        "elevenlabs_api_key": XI_KEY,
        "did_base_url": services.url,
        "did_api_key": DID_KEY,
        **extra,
    }


@pytest_asyncio.fixture
async def platform_with(creator_platform_factory: Any, services: Services) -> Any:
    """``await platform_with(**clone_settings)``: the platform with the clone plugin."""
    services.forget()

    async def make(**clone: Any) -> CreatorPlatform:
        started: CreatorPlatform = await creator_platform_factory(
            plugins=["clone"], plugin_settings={"clone": clone}
        )
        return started

    return make


@pytest_asyncio.fixture
async def hosted_platform(platform_with: Any, services: Services) -> CreatorPlatform:
    started: CreatorPlatform = await platform_with(**hosted(services))
    return started


@pytest_asyncio.fixture
async def owner(hosted_platform: CreatorPlatform) -> Tenant:
    return await hosted_platform.tenant(name="Studio Nova")


@pytest.fixture
def api(owner: Tenant, api_for: Any) -> Any:
    return api_for(owner)


async def upload_voice(api: Any, clone_id: str, *files: tuple[str, bytes]) -> Any:
    return await api.client.post(
        api.url(clone_id, "/voice"), files=[("file", item) for item in files]
    )


async def upload_photo(api: Any, clone_id: str, name: str, data: bytes) -> Any:
    return await api.client.post(api.url(clone_id, "/appearance"), files={"file": (name, data)})


async def media(api: Any, clone_id: str) -> dict[str, Any]:
    r = await api.client.get(api.url(clone_id, "/media"))
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def activate(platform: CreatorPlatform, tenant: Tenant, clone_id: str) -> None:
    """Arrange an active clone (as training would leave it)."""
    from uuid import UUID

    await platform.ontology(tenant).things.update(UUID(clone_id), status="active")


# -- the hosted clients through the routes --------------------------------------------------


async def test_a_voice_from_recordings_speaks(api, services, events) -> None:
    clone = await api.clone("Ada")
    before = await media(api, clone["id"])
    assert before["voice"] == {
        "state": "none",
        "provider": "",
        "id": "",
        "configured": True,
        "error": "",
        "hint": "upload recordings to POST .../voice",
    }
    assert before["voice_providers"] == ["elevenlabs"] and before["avatar_providers"] == ["d-id"]

    r = await upload_voice(api, clone["id"], ("talk.wav", WAV), ("intro.bin", MP3))
    assert r.status_code == 201, r.text
    voice = r.json()["voice"]
    assert voice["state"] == "ready" and voice["provider"] == "elevenlabs"
    assert voice["id"] == "voice0001" and voice["configured"] is True
    [call] = services.received
    assert call["path"] == "/v1/voices/add" and call["auth"] == XI_KEY
    assert call["name"] == "Ada"
    # the media types come from the bytes, not from the names
    assert call["files"] == [("talk.wav", "audio/wav", WAV), ("intro.bin", "audio/mpeg", MP3)]
    assert (await media(api, clone["id"]))["voice"] == voice
    assert (await api.get(clone["id"]))["status"] == "draft"  # the training status, unchanged

    [event] = await events(api.tenant, "voice_cloned", clone["id"])
    assert event["payload"] == {
        "clone_id": clone["id"],
        "provider": "elevenlabs",
        "voice_id": "voice0001",
        "samples": 2,
        "bytes": len(WAV) + len(MP3),
    }

    services.reset()
    r = await api.client.post(api.url(clone["id"], "/speech"), json={"text": "Hello there!"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "audio/mpeg"
    assert r.content == b"ID3voice0001:Hello there!"
    [call] = services.received
    assert call["path"] == "/v1/text-to-speech/voice0001" and call["auth"] == XI_KEY
    assert call["body"] == {"text": "Hello there!", "model_id": "eleven_multilingual_v2"}
    assert call["query"] == {"output_format": "mp3_44100_128"}


async def test_an_appearance_from_a_photo_renders_talking_videos(api, services, events) -> None:
    clone = await api.clone("Ada")
    photo = png()
    r = await upload_photo(api, clone["id"], "me.png", photo)
    assert r.status_code == 201, r.text
    appearance = r.json()["appearance"]
    assert appearance["state"] == "ready" and appearance["provider"] == "d-id"
    assert appearance["id"] == "s3://d-id-images-prod/user/img_1/me.png"
    [call] = services.received
    assert call["auth"] == f"Basic {DID_KEY}"
    assert (call["filename"], call["content_type"], call["size"]) == (
        "me.png",
        "image/png",
        len(photo),
    )
    [event] = await events(api.tenant, "appearance_cloned", clone["id"])
    assert event["payload"] == {
        "clone_id": clone["id"],
        "provider": "d-id",
        "appearance_id": appearance["id"],
    }

    # without a voice, the service's own voice reads the text
    services.reset()
    r = await api.client.post(api.url(clone["id"], "/videos"), json={"text": "Welcome!"})
    assert r.status_code == 202, r.text
    video = r.json()
    assert video == {
        "id": "tlk_1",
        "clone_id": clone["id"],
        "status": "processing",
        "url": None,
        "error": None,
    }
    assert services.received[-1]["body"] == {
        "source_url": appearance["id"],
        "script": {"type": "text", "input": "Welcome!"},
    }
    r = await api.client.get(api.url(clone["id"], "/videos/tlk_1"))
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "done"
    assert r.json()["url"] == "https://d-id-talks-prod.example/tlk_1.mp4"

    # with a voice, the video speaks in it
    assert (await upload_voice(api, clone["id"], ("a.ogg", OGG))).status_code == 201
    services.reset()
    r = await api.client.post(api.url(clone["id"], "/videos"), json={"text": "Bonjour"})
    assert r.status_code == 202, r.text
    assert services.paths() == ["POST /v1/text-to-speech/voice0001", "POST /audios", "POST /talks"]
    assert services.received[1]["data"] == b"ID3voice0001:Bonjour"
    assert services.received[1]["content_type"] == "audio/mpeg"
    assert services.received[2]["body"]["script"] == {
        "type": "audio",
        "audio_url": "s3://d-id-audios-prod/user/aud_1/speech.mpeg",
    }
    status = await media(api, clone["id"])
    assert status["voice"]["state"] == status["appearance"]["state"] == "ready"


async def test_customers_use_an_active_clones_voice(hosted_platform, owner, api, api_for) -> None:
    clone = await api.clone("Ada")
    assert (await upload_voice(api, clone["id"], ("a.wav", WAV))).status_code == 201
    customer = api_for(await hosted_platform.member(owner, "customer"))
    speech = {"text": "Hi"}
    assert_problem(
        await customer.client.post(customer.url(clone["id"], "/speech"), json=speech), 404
    )
    await activate(hosted_platform, owner, clone["id"])
    r = await customer.client.post(customer.url(clone["id"], "/speech"), json=speech)
    assert r.status_code == 200 and r.content == b"ID3voice0001:Hi"
    # but only the creator's team gives it a voice or a face, or reads its readiness
    assert_problem(await upload_voice(customer, clone["id"], ("a.wav", WAV)), 403, "forbidden")
    assert_problem(await upload_photo(customer, clone["id"], "me.png", png()), 403, "forbidden")
    assert_problem(await customer.client.get(customer.url(clone["id"], "/media")), 403)
    # the permission is checked before the body is read: a broken body is still a 403
    broken = {"content-type": "multipart/form-data; boundary=zz"}
    for path in ("/voice", "/appearance"):
        r = await customer.client.post(
            customer.url(clone["id"], path), content=b"--zz\r\nbroken", headers=broken
        )
        assert_problem(r, 403, "forbidden")
        r = await api.client.post(
            api.url(clone["id"], path), content=b"--zz\r\nbroken", headers=broken
        )
        assert_problem(r, 400)


# -- not configured ------------------------------------------------------------------------


async def test_without_keys_the_routes_say_what_to_configure(
    platform_with, api_for, services
) -> None:
    platform = await platform_with()
    api = api_for(await platform.tenant())
    clone = await api.clone("Ada")
    status = await media(api, clone["id"])
    assert status["voice_providers"] == [] and status["avatar_providers"] == []
    assert status["voice"]["configured"] is False and status["voice"]["state"] == "none"
    assert "elevenlabs_api_key" in status["voice"]["hint"]
    assert "did_api_key" in status["appearance"]["hint"]

    body = assert_problem(
        await upload_voice(api, clone["id"], ("a.wav", WAV)), 409, "voice_not_configured"
    )
    assert "plugin_settings.clone.elevenlabs_api_key" in body["detail"]
    body = assert_problem(await upload_photo(api, clone["id"], "me.png", png()), 409)
    assert body["code"] == "avatar_not_configured" and "did_api_key" in body["detail"]
    # a body that is not even an upload still gets the configuration problem first
    r = await api.client.post(api.url(clone["id"], "/voice"), json={"x": 1})
    assert_problem(r, 409, "voice_not_configured")
    r = await api.client.post(api.url(clone["id"], "/speech"), json={"text": "Hi"})
    assert_problem(r, 409, "voice_not_ready")
    r = await api.client.post(api.url(clone["id"], "/videos"), json={"text": "Hi"})
    assert_problem(r, 409, "appearance_not_ready")
    assert services.received == []
    schema = (await platform.client.get("/schema/openapi.json")).json()
    clone_paths = "/api/v1/clone/groups/{group_id}/clones/{clone_id}"
    for path in ("/media", "/voice", "/appearance", "/speech", "/videos", "/videos/{video_id}"):
        assert clone_paths + path in schema["paths"], path


async def test_a_named_provider_that_is_not_registered(platform_with, api_for) -> None:
    platform = await platform_with(voice_provider="acme", avatar_provider="acme")
    api = api_for(await platform.tenant())
    clone = await api.clone("Ada")
    body = assert_problem(await upload_voice(api, clone["id"], ("a.wav", WAV)), 409)
    assert "voice_provider is 'acme'" in body["detail"]
    body = assert_problem(await upload_photo(api, clone["id"], "a.png", png()), 409)
    assert "avatar_provider is 'acme'" in body["detail"]


# -- failing services ------------------------------------------------------------------------


async def test_service_errors_are_clear_problems_without_secrets(api, services, events) -> None:
    clone = await api.clone("Ada")
    assert (await upload_voice(api, clone["id"], ("a.wav", WAV))).status_code == 201

    services.fail = 500
    body = assert_problem(
        await upload_voice(api, clone["id"], ("b.wav", WAV)), 502, "voice_unavailable"
    )
    assert body["detail"] == "the voice service failed (HTTP 500); try again later"
    assert body["provider"] == "elevenlabs"
    voice = (await media(api, clone["id"]))["voice"]
    assert voice["state"] == "failed" and voice["error"] == body["detail"]
    # the earlier voice stays and still speaks
    assert voice["id"] == "voice0001"
    [failed] = await events(api.tenant, "clone_updated", clone["id"])
    assert failed["payload"]["changed"] == ["voice_error", "voice_state"]
    services.fail = None
    r = await api.client.post(api.url(clone["id"], "/speech"), json={"text": "Still here"})
    assert r.status_code == 200 and r.content == b"ID3voice0001:Still here"

    # the service's own message is passed on, with the key blanked out
    services.fail, services.fail_body = 400, {"detail": {"message": f"bad sample for {XI_KEY}"}}
    body = assert_problem(
        await upload_voice(api, clone["id"], ("b.wav", WAV)), 502, "voice_unavailable"
    )
    assert body["detail"] == "the voice service refused the request (HTTP 400): bad sample for ***"
    services.fail, services.fail_body = 422, {"detail": ["odd", {"msg": "name is required"}]}
    body = assert_problem(
        await upload_voice(api, clone["id"], ("b.wav", WAV)), 502, "voice_unavailable"
    )
    assert body["detail"].endswith("(HTTP 422): odd; name is required")

    services.fail, services.fail_body = 500, None
    r = await api.client.post(api.url(clone["id"], "/speech"), json={"text": "Hi"})
    assert_problem(r, 502, "voice_unavailable")
    body = assert_problem(await upload_photo(api, clone["id"], "me.png", png()), 502)
    assert body["code"] == "avatar_unavailable"
    assert (await media(api, clone["id"]))["appearance"]["state"] == "failed"

    services.fail = 429
    body = assert_problem(await upload_photo(api, clone["id"], "me.png", png()), 502)
    assert "rate limiting" in body["detail"]
    for response in services.received:
        assert response["auth"] in (XI_KEY, f"Basic {DID_KEY}")


async def test_a_wrong_key_is_a_502_that_names_the_setting(
    platform_with, api_for, services
) -> None:
    wrong = "wrong-key-that-must-not-leak"
    platform = await platform_with(**hosted(services, elevenlabs_api_key=wrong, did_api_key=wrong))
    api = api_for(await platform.tenant())
    clone = await api.clone("Ada")
    r = await upload_voice(api, clone["id"], ("a.wav", WAV))
    body = assert_problem(r, 502, "voice_unavailable")
    assert (
        "refused the API key (HTTP 401)" in body["detail"]
        and "plugin_settings.clone" in body["detail"]
    )
    r2 = await upload_photo(api, clone["id"], "me.png", png())
    assert_problem(r2, 502, "avatar_unavailable")
    assert services.received[-1]["auth"] == f"Basic {wrong}"
    for response in (r, r2, await api.client.get(api.url(clone["id"], "/media"))):
        assert wrong not in response.text


async def test_a_slow_or_absent_service_is_a_502(platform_with, api_for, services) -> None:
    platform = await platform_with(**hosted(services, media_timeout_seconds=0.3))
    api = api_for(await platform.tenant())
    clone = await api.clone("Ada")
    services.slow = 3.0
    body = assert_problem(
        await upload_voice(api, clone["id"], ("a.wav", WAV)), 502, "voice_unavailable"
    )
    assert (
        body["detail"] == f"the voice service at {services.url} did not answer within 0.3 seconds"
    )
    services.slow = 0.0

    gone = await platform_with(elevenlabs_base_url="http://127.0.0.1:9", elevenlabs_api_key="k")
    api = api_for(await gone.tenant())
    clone = await api.clone("Ada")
    body = assert_problem(
        await upload_voice(api, clone["id"], ("a.wav", WAV)), 502, "voice_unavailable"
    )
    assert body["detail"].startswith("could not reach the voice service at http://127.0.0.1:9")


# -- bad input -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("files", "status", "code"),
    [
        ([], 422, "validation_failed"),
        ([("file", ("notes.txt", b"just some words, not audio"))], 415, "unsupported_media_type"),
        ([("file", ("tiny.wav", b"RIFF"))], 415, "unsupported_media_type"),
        ([("file", ("empty.wav", b""))], 422, "validation_failed"),
        ([("other", ("a.wav", WAV))], 422, "validation_failed"),
        ([("file", (f"{n}.wav", WAV)) for n in range(6)], 422, "validation_failed"),
        ([("file", ("a.wav", WAV)), ("file", ("b.txt", b"hello there, words"))], 415, None),
    ],
)
async def test_bad_voice_uploads(api, services, files, status, code) -> None:
    clone = await api.clone("Ada")
    files = files or [("note", (None, b"no file here"))]
    r = await api.client.post(api.url(clone["id"], "/voice"), files=files)
    assert_problem(r, status, code)
    assert services.received == []
    assert (await media(api, clone["id"]))["voice"]["state"] == "none"


async def test_bad_photos(api, services) -> None:
    clone = await api.clone("Ada")
    for name, data, status in (
        ("me.gif", png(fmt="GIF"), 415),
        ("me.png", b"not an image at all", 415),
        ("me.png", png()[:60], 422),
        ("me.png", png((20, 20)), 422),
        ("me.png", b"", 422),
    ):
        assert_problem(await upload_photo(api, clone["id"], name, data), status)
    assert_problem(
        await api.client.post(api.url(clone["id"], "/appearance"), json={"file": "x"}), 415
    )
    r = await api.client.post(
        api.url(clone["id"], "/appearance"),
        files=[("file", ("a.png", png())), ("file", ("b.png", png()))],
    )
    assert_problem(r, 422)
    for fmt in ("JPEG", "MPO"):
        r = await upload_photo(api, clone["id"], "me.jpg", png(fmt=fmt))
        assert r.status_code == 201, r.text
        assert services.received[-1]["content_type"] == "image/jpeg"


async def test_bad_texts_and_ids(api) -> None:
    clone = await api.clone("Ada")
    await upload_voice(api, clone["id"], ("a.wav", WAV))
    await upload_photo(api, clone["id"], "me.png", png())
    for body in ({"text": ""}, {"text": "x" * 2501}, {"words": "hi"}, {"text": 3}):
        assert_problem(await api.client.post(api.url(clone["id"], "/speech"), json=body), 422)
        assert_problem(await api.client.post(api.url(clone["id"], "/videos"), json=body), 422)
    assert_problem(await api.client.post(api.url(clone["id"], "/speech"), content=b"{"), 400)
    assert_problem(await api.client.get(api.url(clone["id"], "/videos/tlk_404")), 404)
    assert_problem(await api.client.get(api.url(clone["id"], "/videos/bad%20id%3F")), 404)
    assert_problem(await api.client.get(api.url(clone["id"], "/videos/" + "x" * 300)), 404)


@pytest.mark.parametrize("limit", [2048])
async def test_files_over_the_size_limit_are_413(platform_with, api_for, services, limit) -> None:
    platform = await platform_with(**hosted(services, max_media_bytes=limit))
    api = api_for(await platform.tenant())
    clone = await api.clone("Ada")
    big = WAV + bytes(limit)
    assert_problem(await upload_voice(api, clone["id"], ("big.wav", big)), 413, "payload_too_large")
    # announced as small enough in total, but one sample is too large
    assert_problem(
        await upload_voice(api, clone["id"], ("a.wav", WAV), ("big.wav", WAV + bytes(limit))),
        413,
    )
    assert_problem(await upload_photo(api, clone["id"], "me.png", png() + bytes(70 * 1024)), 413)
    assert services.received == []
    assert (await upload_voice(api, clone["id"], ("a.wav", WAV))).status_code == 201


# -- tenancy ---------------------------------------------------------------------------------


async def test_another_group_reaches_nothing(hosted_platform, api, api_for, services) -> None:
    ours = await api.clone("Ada")
    await upload_voice(api, ours["id"], ("a.wav", WAV))
    await upload_photo(api, ours["id"], "me.png", png())
    video = (await api.client.post(api.url(ours["id"], "/videos"), json={"text": "Hi"})).json()
    other = api_for(await hosted_platform.tenant())
    theirs = await other.clone("Bea")
    await upload_photo(other, theirs["id"], "bea.png", png())
    services.reset()
    for base in (other.url(ours["id"]), api.url(ours["id"])):
        for method, path, kwargs in (
            ("GET", "/media", {}),
            ("POST", "/voice", {"files": {"file": ("a.wav", WAV)}}),
            ("POST", "/appearance", {"files": {"file": ("me.png", png())}}),
            ("POST", "/speech", {"json": {"text": "Hi"}}),
            ("POST", "/videos", {"json": {"text": "Hi"}}),
            ("GET", f"/videos/{video['id']}", {}),
        ):
            r = await other.client.request(method, base + path, **kwargs)
            assert_problem(r, 404, "not_found")
            assert "voice0001" not in r.text and "img_1" not in r.text
    assert services.received == []
    # their own clone does not show our video either: it was rendered from our photo
    r = await other.client.get(other.url(theirs["id"], f"/videos/{video['id']}"))
    assert_problem(r, 404, "not_found")
    assert (await media(api, ours["id"]))["voice"]["id"] == "voice0001"


# -- the hooks -------------------------------------------------------------------------------


class EchoVoice:
    """A third party's voice provider: says the text back as "audio"."""

    name = "echo"

    def __init__(self) -> None:
        self.made: list[tuple[str, list[AudioSample]]] = []

    async def clone_voice(self, name: str, samples: Any) -> str:
        if name == "Broken":
            raise ProviderFailure("the echo chamber is closed")
        self.made.append((name, list(samples)))
        return f"echo-{len(self.made)}"

    async def speak(self, voice_id: str, text: str) -> Speech:
        return Speech(audio=f"{voice_id}|{text}".encode(), media_type="audio/x-echo")


class StillAvatar:
    """A third party's avatar provider: a "video" is finished at once."""

    name = "still"

    async def create_appearance(self, photo: Any) -> str:
        return f"still-{len(photo.content)}"

    async def render(self, appearance_id: str, script: Script) -> RenderJob:
        spoken = script.audio.audio.decode() if script.audio else script.text
        return RenderJob(
            id=f"{appearance_id}.{len(spoken)}",
            status="done",
            url=f"https://still.example/{spoken}",
            appearance_id=appearance_id,
        )

    async def render_status(self, job_id: str) -> RenderJob:
        appearance_id = job_id.rsplit(".", 1)[0]
        return RenderJob(id=job_id, status="done", appearance_id=appearance_id)


async def test_hook_register_voice_providers(
    creator_platform_factory, api_for, services, events
) -> None:
    services.forget()
    echo = EchoVoice()

    class ThirdParty:
        @hookimpl
        def register_voice_providers(self, platform: Any) -> list[object]:
            return [echo]

    platform = await creator_platform_factory(
        plugins=["clone"],
        extra_plugins={"echo": ThirdParty()},
        plugin_settings={"clone": hosted(services, voice_provider="echo")},
    )
    api = api_for(await platform.tenant())
    clone = await api.clone("Ada")
    status = await media(api, clone["id"])
    assert status["voice_providers"] == ["elevenlabs", "echo"]
    r = await upload_voice(api, clone["id"], ("a.flac", b"fLaC" + bytes(40)))
    assert r.status_code == 201, r.text
    assert r.json()["voice"]["provider"] == "echo" and r.json()["voice"]["id"] == "echo-1"
    [(name, [sample])] = echo.made
    assert (name, sample.filename, sample.media_type) == ("Ada", "a.flac", "audio/flac")
    r = await api.client.post(api.url(clone["id"], "/speech"), json={"text": "Hi"})
    assert r.content == b"echo-1|Hi" and r.headers["content-type"] == "audio/x-echo"
    assert [e["payload"]["provider"] for e in await events(api.tenant, "voice_cloned")] == ["echo"]
    assert services.received == []  # the hosted one was not used
    broken = await api.clone("Broken")
    body = assert_problem(
        await upload_voice(api, broken["id"], ("a.wav", WAV)), 502, "voice_unavailable"
    )
    assert body["detail"] == "the echo chamber is closed" and body["provider"] == "echo"

    with pytest.raises(Exception, match=r"'elevenlabs' is registered by both"):

        class Clash:
            @hookimpl
            def register_voice_providers(self) -> list[object]:
                clash = EchoVoice()
                clash.name = "elevenlabs"
                return [clash]

        await creator_platform_factory(
            plugins=["clone"],
            extra_plugins={"clash": Clash()},
            plugin_settings={"clone": hosted(services)},
        )


async def test_hook_register_avatar_providers(creator_platform_factory, api_for) -> None:
    class ThirdParty:
        @hookimpl
        def register_avatar_providers(self) -> list[object]:
            return [StillAvatar()]

        @hookimpl
        def register_voice_providers(self) -> list[object]:
            return [EchoVoice()]

    platform = await creator_platform_factory(
        plugins=["clone"], extra_plugins={"still": ThirdParty()}
    )
    api = api_for(await platform.tenant())
    clone = await api.clone("Ada")
    photo = png()
    r = await upload_photo(api, clone["id"], "me.png", photo)
    assert r.status_code == 201, r.text
    assert r.json()["appearance"]["id"] == f"still-{len(photo)}"
    await upload_voice(api, clone["id"], ("a.wav", WAV))
    r = await api.client.post(api.url(clone["id"], "/videos"), json={"text": "Hi"})
    assert r.status_code == 202, r.text
    assert r.json()["status"] == "done" and r.json()["url"] == "https://still.example/echo-1|Hi"
    r = await api.client.get(api.url(clone["id"], f"/videos/{r.json()['id']}"))
    assert r.status_code == 200 and r.json()["status"] == "done"
    assert_problem(await api.client.get(api.url(clone["id"], "/videos/still-1.2")), 404)

    class NotAProvider:
        @hookimpl
        def register_avatar_providers(self) -> list[object]:
            return [object()]

    with pytest.raises(Exception, match=r"needs a name and create_appearance\(\)"):
        await creator_platform_factory(plugins=["clone"], extra_plugins={"bad": NotAProvider()})

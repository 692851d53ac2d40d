"""The API of a clone's voice and appearance, under
``/api/v1/clone/groups/{group_id}/clones/{clone_id}``: ``GET /media`` (readiness;
``clone.read``), ``POST /voice`` (samples) and ``POST /appearance`` (a photo; both
``clone.manage``, multipart, read only after the permission check), ``POST /speech``
(audio of a text), ``POST /videos`` and ``GET /videos/{video_id}`` (a talking-head video;
all three ``clone.chat``, so customers may use an active clone's voice and face).
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

import sdk
from plugins.clone.voice.service import CloneMedia
from plugins.clone.voice.types import MediaStatus, SpeechIn, VideoIn, VideoView
from plugins.clone.voice.uploads import read_photo, read_samples

#: What a multipart body may add around its files: boundaries and part headers.
MULTIPART_SLACK = 64 * 1024
#: The upload routes' fixed body limits (the settings are enforced per request).
SAMPLES_BODY_CEILING = 10 * 25 * 1024 * 1024 + MULTIPART_SLACK
PHOTO_BODY_CEILING = 25 * 1024 * 1024 + MULTIPART_SLACK


def media_of(request: Request[Any, Any, Any]) -> CloneMedia:
    """The clone's media service, for ``before_request`` hooks (handlers have it injected)."""
    found: CloneMedia = request.app.state.clone_media
    return found


def _refuse_announced_over(request: Request[Any, Any, Any], limit: int) -> None:
    """Refuse a body whose announced length is over ``limit`` before reading any of it."""
    length = request.headers.get("content-length", "")
    if length.isascii() and length.isdigit() and int(length) > limit:
        raise sdk.PayloadTooLarge(
            f"the request is larger than the {limit} bytes allowed", limit=limit
        )


async def _refuse_large_samples(request: Request[Any, Any, Any]) -> None:
    settings = media_of(request).settings
    limit = settings.max_voice_samples * settings.max_media_bytes + MULTIPART_SLACK
    _refuse_announced_over(request, limit)


async def _refuse_large_photo(request: Request[Any, Any, Any]) -> None:
    _refuse_announced_over(request, media_of(request).settings.max_media_bytes + MULTIPART_SLACK)


CLONE = "/clones/{clone_id:uuid}"


class CloneMediaController(Controller):
    path = "/groups/{group_id:uuid}"

    @get(CLONE + "/media", summary="What is ready of a clone's voice and appearance")
    async def media_status(
        self,
        media: NamedDependency[CloneMedia],
        group: NamedDependency[sdk.GroupContext],
        clone_id: FromPath[UUID],
    ) -> MediaStatus:
        return await media.status(group, clone_id)

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
        media: NamedDependency[CloneMedia],
        group: NamedDependency[sdk.GroupContext],
        clone_id: FromPath[UUID],
    ) -> MediaStatus:
        """One or more recordings (MP3, WAV, OGG, FLAC, M4A or WebM, sniffed from their
        bytes) in the ``file`` field. 409 ``voice_not_configured`` without a voice
        provider; 502 ``voice_unavailable`` if the service fails (the earlier voice stays).
        The body is read only once the caller may manage this group's clones."""
        group.require("clone.manage")
        clone = await media.clone_thing(group, clone_id)
        media.voice_provider()  # say what to configure before reading any upload
        settings = media.settings
        samples = await read_samples(request, settings.max_voice_samples, settings.max_media_bytes)
        return await media.make_voice(group, clone, samples)

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
        media: NamedDependency[CloneMedia],
        group: NamedDependency[sdk.GroupContext],
        clone_id: FromPath[UUID],
    ) -> MediaStatus:
        """A JPEG or PNG photo of a face in the ``file`` field. 409
        ``avatar_not_configured`` without an avatar provider; 502 ``avatar_unavailable``
        if the service fails."""
        group.require("clone.manage")
        clone = await media.clone_thing(group, clone_id)
        media.avatar_provider()
        photo = await read_photo(request, media.settings.max_media_bytes)
        return await media.make_appearance(group, clone, photo)

    @post(CLONE + "/speech", summary="Say a text in the clone's voice (audio)", status_code=200)
    async def speech(
        self,
        media: NamedDependency[CloneMedia],
        group: NamedDependency[sdk.GroupContext],
        clone_id: FromPath[UUID],
        data: JSONBody[SpeechIn],
    ) -> Response[bytes]:
        """Answers the audio (``audio/mpeg`` by default). 409 ``voice_not_ready`` before
        the clone has a voice; 502 ``voice_unavailable`` if the service fails."""
        spoken = await media.speak(group, clone_id, data.text)
        return Response(
            spoken.audio, media_type=spoken.media_type, headers={"Cache-Control": "no-store"}
        )

    @post(CLONE + "/videos", summary="Start a talking-head video of the clone", status_code=202)
    async def start_video(
        self,
        media: NamedDependency[CloneMedia],
        group: NamedDependency[sdk.GroupContext],
        clone_id: FromPath[UUID],
        data: JSONBody[VideoIn],
    ) -> VideoView:
        """Answers 202 with the video's id; follow it at ``GET .../videos/{id}`` until its
        ``status`` is ``done`` (with its ``url``) or ``failed``."""
        return await media.render(group, clone_id, data.text)

    @get(CLONE + "/videos/{video_id:str}", summary="A talking-head video of the clone")
    async def get_video(
        self,
        media: NamedDependency[CloneMedia],
        group: NamedDependency[sdk.GroupContext],
        clone_id: FromPath[UUID],
        video_id: FromPath[str],
    ) -> VideoView:
        return await media.video(group, clone_id, video_id)


ROUTES = [
    sdk.api_router(
        "clone",
        [CloneMediaController],
        dependencies={"media": sdk.from_app_state("clone_media", after_group=True)},
    )
]

"""The "Voice and video" screen (``/clones/{group_id}/voice``): which voice and avatar
services the platform has, and for each clone whether its voice and appearance are ready,
with the uploads that make them.

Without a provider it says so plainly, and what the platform's operator sets to turn one
on, instead of offering uploads that would be refused (409 ``voice_not_configured``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from litestar import Request, get
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Template

from plugins.clone.api import service_dependencies
from plugins.clone.manage import PAGES
from plugins.clone.services import Clones
from plugins.clone.voice.service import CloneMedia
from plugins.clone.voice.types import MediaStatus

#: How a readiness state reads, and the badge it wears.
STATES = {
    "none": ("Not made yet", ""),
    "processing": ("Being made", "ui-badge-draft"),
    "ready": ("Ready", "ui-badge-published"),
    "failed": ("Failed", "ui-badge-danger"),
}


@dataclass(frozen=True)
class CloneMediaRow:
    id: str
    name: str
    status: MediaStatus


@get(
    "/clones/{group_id:uuid}/voice",
    name="clone:voice",
    dependencies=service_dependencies("clones"),
    **PAGES.route_options,
)
async def voice_page(
    request: Request[Any, Any, Any], clones: NamedDependency[Clones], group_id: FromPath[UUID]
) -> Template:
    group, record = await PAGES.group(request, group_id)
    can_manage = group.permissions.can(group.scope, "clone.manage", group.resource())
    media: CloneMedia = request.app.state.clone_media
    found = await clones.list_clones(group, None, 200)
    rows = [CloneMediaRow(c.id, c.name, await media.status(group, UUID(c.id))) for c in found.items]
    return PAGES.render(
        "voice.html",
        title=f"Voice and video · {record.name}",
        view="voice",
        group=record,
        rows=rows,
        voice_providers=list(media.voices),
        avatar_providers=list(media.avatars),
        states=STATES,
        can_manage=can_manage,
        max_samples=media.settings.max_voice_samples,
        max_bytes=media.settings.max_media_bytes,
        crumbs=PAGES.crumbs((record.name, f"/clones/{record.id}"), ("Voice and video", None)),
    )


SCREEN_ROUTES = [voice_page]

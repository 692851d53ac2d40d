"""The live event stream: server-sent events of one group, resumable with Last-Event-ID.

Committed events are published to the group's Redis channel by whichever process
delivers them (``core.events``), so a client connected to any app process sees every
event. On connect the stream subscribes first, then replays from the events table what
is newer than ``Last-Event-ID`` (or ``?last_event_id=``), then goes live; an event both
replayed and received live is sent once. Ids are UUIDv7, so "newer" is "greater id".

Each message is ``id:`` the event id, ``event:`` its type, ``data:`` the event as JSON;
idle streams get a comment every ``stream_heartbeat_seconds``.
"""

from __future__ import annotations

import functools
import time
from collections.abc import AsyncIterator, Callable
from typing import Annotated
from uuid import UUID

import anyio
import msgspec
from litestar import get
from litestar.di import NamedDependency
from litestar.params import FromQuery, HeaderParameter
from litestar.response import ServerSentEvent, ServerSentEventMessage

from core.auth.permissions import Permissions, Resource
from core.errors import ValidationFailed
from core.events import channel
from core.ontology.scope import Scope
from core.platform import Platform

#: Events replayed per query on resume.
REPLAY_BATCH = 500
#: How long ids sent by the replay are remembered to drop their live duplicates.
DEDUP_SECONDS = 60.0

_encode = msgspec.json.Encoder().encode


class _Head(msgspec.Struct):
    id: UUID
    type: str


_decode_head = msgspec.json.Decoder(_Head).decode


def _message(event_id: UUID, type: str, data: bytes) -> ServerSentEventMessage:
    return ServerSentEventMessage(data=data.decode(), event=type, id=str(event_id))


def _parse_id(value: str | None) -> UUID | None:
    if not value:
        return None
    try:
        return UUID(value.strip())
    except ValueError:
        raise ValidationFailed(
            "Last-Event-ID must be an event id this stream sent", field="last_event_id"
        ) from None


async def _events(
    platform: Platform, scope: Scope, after: UUID | None, may_read: Callable[[str], bool]
) -> AsyncIterator[ServerSentEventMessage]:
    heartbeat = platform.settings.stream_heartbeat_seconds
    pubsub = platform.redis.pubsub()
    try:
        await pubsub.subscribe(channel(scope.group_id))
        # Only once Redis confirms the subscription is nothing published from now on missed.
        while True:
            confirmation = await pubsub.get_message(timeout=heartbeat)
            if confirmation is not None and confirmation["type"] == "subscribe":
                break
        replayed: dict[UUID, None] = {}
        if after is not None:
            events = platform.ontology.scoped(Scope.system(scope.group_id)).events
            while True:
                batch = await events.after(after, limit=REPLAY_BATCH)
                for event in batch:
                    replayed[event.id] = None
                    if may_read(event.type):
                        yield _message(event.id, event.type, _encode(event))
                if len(batch) < REPLAY_BATCH:
                    break
                after = batch[-1].id
        forget_at = time.monotonic() + DEDUP_SECONDS
        while True:
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=heartbeat)
            if replayed and time.monotonic() > forget_at:
                replayed = {}
            if message is None:
                yield ServerSentEventMessage(data=None, comment="keep-alive")
                continue
            if message["type"] != "message":
                continue
            data: bytes = message["data"]
            head = _decode_head(data)
            if head.id in replayed or not may_read(head.type):
                continue
            yield _message(head.id, head.type, data)
    finally:
        # The client went away: the task is being cancelled, so shield the clean-up.
        with anyio.CancelScope(shield=True):
            await pubsub.aclose()  # type: ignore[no-untyped-call]


@get(
    "/api/v1/groups/{group_id:uuid}/events/stream",
    summary="Live events of the group (server-sent events)",
    tags=["events"],
    media_type="text/event-stream",
)
async def stream_events(
    group_scope: NamedDependency[Scope],
    platform: NamedDependency[Platform],
    permissions: NamedDependency[Permissions],
    last_event_id_header: Annotated[
        str | None, HeaderParameter(name="Last-Event-ID", required=False)
    ] = None,
    last_event_id: FromQuery[UUID | None] = None,
) -> ServerSentEvent:
    """Send ``Last-Event-ID`` (browsers do on reconnect) or ``?last_event_id=`` to replay
    what happened since that event before the live events."""
    permissions.require(group_scope, "event.read", Resource(group_scope.group_id))
    after = _parse_id(last_event_id_header) if last_event_id_header else last_event_id

    @functools.cache
    def may_read(event_type: str) -> bool:
        """The per-type check listing and getting events make (a plugin may hide types)."""
        resource = Resource(group_scope.group_id, type=event_type)
        return permissions.can(group_scope, "event.read", resource)

    return ServerSentEvent(
        _events(platform, group_scope, after, may_read), headers={"Cache-Control": "no-cache"}
    )

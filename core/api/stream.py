"""The live event stream: server-sent events of one group, resumable with Last-Event-ID.

Delivery appends every committed event to the group's Redis Stream after its commit
(``core.streams``), so a message's ``id:`` is that stream entry's id (``<ms>-<seq>``),
in the order events were delivered, not the order their ids were taken: resuming from it
cannot miss an event whose transaction committed late. The process's
:class:`~core.streams.StreamHub` reads the streams once for all its clients; this module
is one client: it joins the hub, replays what came after ``Last-Event-ID`` (or
``?last_event_id=``), then sends what the hub hands it.

* A resume position older than the stream still holds (it keeps about
  ``stream_retention_events`` entries) gets ``event: reset`` instead of a silent gap: the
  client reloads through ``GET .../events`` and carries on from the reset's ``id:``.
* An event id (a UUID, what older clients kept) replays from the events table, as before
  this stream had entry ids; the live part that follows has entry ids.
* A client too slow to take what arrives has its stream closed once
  ``stream_client_buffer_events`` wait for it; it reconnects and resumes.
* Open streams are capped per person and per group (``stream_max_per_person``,
  ``stream_max_per_group``): one more is refused with 429 ``too_many_streams``.

Each message is ``id:``, ``event:`` the event's type, ``data:`` the event as JSON; idle
streams get a comment every ``stream_heartbeat_seconds``.
"""

from __future__ import annotations

import contextlib
import functools
from collections import deque
from collections.abc import AsyncIterator, Callable
from typing import Annotated
from uuid import UUID

import anyio
import msgspec
from litestar import get
from litestar.di import NamedDependency
from litestar.params import HeaderParameter, QueryParameter
from litestar.response import ServerSentEvent, ServerSentEventMessage

from core.auth.permissions import Permissions, Resource
from core.errors import ValidationFailed
from core.ontology.scope import Scope
from core.platform import Platform
from core.streams import Entry, Slot, StreamHub, parse_position

#: Events replayed per query from the events table (a resume from an event id).
REPLAY_BATCH = 500
#: Event ids of a table replay remembered to drop their live duplicates.
DEDUP_WINDOW = 1000
#: What ``Last-Event-ID`` may be: a stream entry id, or an event id (a UUID).
POSITION_PATTERN = r"^([0-9]{1,20}-[0-9]{1,20}|[0-9a-fA-F-]{32,36})$"

_encode = msgspec.json.Encoder().encode
#: The ``data:`` of ``event: reset``: the events between the client's id and the reset's
#: were trimmed away.
RESET_DATA = _encode(
    {
        "reason": "trimmed",
        "detail": "events after your last id are no longer kept; reload the state (GET "
        ".../events) and carry on from this message's id",
    }
).decode()

Position = tuple[int, int] | UUID | None


def _parse(value: str | None) -> Position:
    if not value:
        return None
    value = value.strip()
    position = parse_position(value)
    if position is not None:
        return position
    try:
        return UUID(value)
    except ValueError:
        raise ValidationFailed(
            "Last-Event-ID must be an id this stream sent", field="last_event_id"
        ) from None


def _message(entry: Entry) -> ServerSentEventMessage:
    return ServerSentEventMessage(data=entry.data.decode(), event=entry.type, id=entry.id)


async def _events(
    platform: Platform,
    hub: StreamHub,
    slot: Slot,
    scope: Scope,
    after: Position,
    may_read: Callable[[str], bool],
) -> AsyncIterator[ServerSentEventMessage]:
    heartbeat = platform.settings.stream_heartbeat_seconds
    hub.slots.hold(slot)
    try:
        client = await hub.join(scope.group_id)
    except BaseException:
        with anyio.CancelScope(shield=True), contextlib.suppress(Exception):
            await hub.slots.release(slot)
        raise
    try:
        last = parse_position(client.start)
        assert last is not None
        replayed: set[str] = set()
        if isinstance(after, tuple):
            if await hub.trimmed_after(scope.group_id, after):
                yield ServerSentEventMessage(data=RESET_DATA, event="reset", id=client.start)
            elif after < last:
                since = f"{after[0]}-{after[1]}"
                async for batch in hub.replay(scope.group_id, since, client.start):
                    for entry in batch:
                        if may_read(entry.type):
                            yield _message(entry)
            else:
                last = after  # the hub is behind the client: skip what it already has
        elif isinstance(after, UUID):
            # Only the newest replayed ids can come again live: a bounded window of them.
            newest: deque[str] = deque(maxlen=DEDUP_WINDOW)
            async for message, event_id in _replay_table(platform, scope, after, may_read):
                newest.append(event_id)
                yield message
            replayed = set(newest)
        while not client.overflowed:
            try:
                with anyio.fail_after(heartbeat):
                    entry = await client.queue.get()
            except TimeoutError:
                yield ServerSentEventMessage(data=None, comment="keep-alive")
                continue
            if entry.position <= last or entry.event_id in replayed:
                continue
            last = entry.position
            if may_read(entry.type):
                yield _message(entry)
    finally:
        # The client went away: the task is being cancelled, so shield the clean-up.
        hub.leave(client)
        # Redis unreachable: the slot expires by itself once the hub stops renewing it.
        with anyio.CancelScope(shield=True), contextlib.suppress(Exception):
            await hub.slots.release(slot)


async def _replay_table(
    platform: Platform, scope: Scope, after: UUID, may_read: Callable[[str], bool]
) -> AsyncIterator[tuple[ServerSentEventMessage, str]]:
    """Events with ids greater than ``after``, from the events table, a batch at a time."""
    events = platform.ontology.scoped(Scope.system(scope.group_id)).events
    while True:
        batch = await events.after(after, limit=REPLAY_BATCH)
        for event in batch:
            if may_read(event.type):
                message = ServerSentEventMessage(
                    data=_encode(event).decode(), event=event.type, id=str(event.id)
                )
                yield message, str(event.id)
        if len(batch) < REPLAY_BATCH:
            return
        after = batch[-1].id


LastEventId = Annotated[
    str | None,
    QueryParameter(
        max_length=64,
        pattern=POSITION_PATTERN,
        description="The id of the last message received (EventSource cannot set headers)",
    ),
]


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
        str | None, HeaderParameter(name="Last-Event-ID", required=False, max_length=64)
    ] = None,
    last_event_id: LastEventId = None,
) -> ServerSentEvent:
    """Send ``Last-Event-ID`` (browsers do on reconnect) or ``?last_event_id=`` to get
    what happened since that message before the live events; ``event: reset`` says the
    stream no longer holds all of it. 429 ``too_many_streams`` when the person or the
    group has as many open streams as allowed."""
    permissions.require(group_scope, "event.read", Resource(group_scope.group_id))
    after = _parse(last_event_id_header or last_event_id)

    @functools.cache
    def may_read(event_type: str) -> bool:
        """The per-type check listing and getting events make (a plugin may hide types)."""
        resource = Resource(group_scope.group_id, type=event_type)
        return permissions.can(group_scope, "event.read", resource)

    hub = platform.streams
    slot = await hub.slots.acquire(group_scope)
    return ServerSentEvent(
        _events(platform, hub, slot, group_scope, after, may_read),
        headers={"Cache-Control": "no-cache"},
    )

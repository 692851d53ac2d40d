"""Events: the group's append-only log, filtered by type, target and time, and the
handlers that failed on them. The live stream is in ``core.api.stream``."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery

from core.api.deps import GroupContext
from core.api.params import PageCursor, PageLimit, TypeFilter
from core.errors import ValidationFailed
from core.events import EventFailure
from core.ontology.records import Event, Page
from core.ontology.stores import DEFAULT_LIMIT


def _utc(value: datetime | None, field: str) -> datetime | None:
    """``value`` in UTC (a time without an offset is taken as UTC). A time at the edge of
    the calendar (``0001-01-01T00:00:00+01:00``) has no UTC equivalent: a 422, not a 500."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValidationFailed(f"{field} is out of the supported range", field=field) from None


class EventsController(Controller):
    path = "/api/v1/groups/{group_id:uuid}/events"
    tags = ["events"]

    @get("/", summary="List events, newest first")
    async def list_events(
        self,
        group: NamedDependency[GroupContext],
        type: TypeFilter = None,
        target_id: FromQuery[UUID | None] = None,
        since: FromQuery[datetime | None] = None,
        until: FromQuery[datetime | None] = None,
        cursor: PageCursor = None,
        limit: PageLimit = DEFAULT_LIMIT,
    ) -> Page[Event]:
        """``since`` is inclusive, ``until`` exclusive (ISO 8601 timestamps)."""
        group.require("event.read", group.resource(type=type))
        return await group.stores.events.list(
            type=type,
            target_id=target_id,
            since=_utc(since, "since"),
            until=_utc(until, "until"),
            cursor=cursor,
            limit=limit,
        )

    @get("/failed", summary="Event handlers that gave up (dead letters), newest first")
    async def list_failed(
        self,
        group: NamedDependency[GroupContext],
        cursor: PageCursor = None,
        limit: PageLimit = DEFAULT_LIMIT,
    ) -> Page[EventFailure]:
        """A durable handler lands here after its last retry, an in-process one after its
        only try; ``attempts`` says how many it had and ``error`` what the last one raised."""
        group.require("event.read", group.resource())
        return await group.stores.events.failures(cursor=cursor, limit=limit)

    @get("/{event_id:uuid}", summary="Get an event")
    async def get_event(
        self,
        event_id: FromPath[UUID],
        group: NamedDependency[GroupContext],
    ) -> Event:
        event = await group.stores.events.get(event_id)
        group.require("event.read", group.resource(event.type, event.id))
        return event

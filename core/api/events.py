"""Events: the group's append-only log, filtered by type, target and time."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery

from core.auth.permissions import Permissions, Resource
from core.ontology.records import Event, Page
from core.ontology.scope import Scope
from core.ontology.stores import DEFAULT_LIMIT, Ontology


class EventsController(Controller):
    path = "/api/v1/groups/{group_id:uuid}/events"
    tags = ["events"]

    @get("/", summary="List events, newest first")
    async def list_events(
        self,
        group_scope: NamedDependency[Scope],
        ontology: NamedDependency[Ontology],
        permissions: NamedDependency[Permissions],
        type: FromQuery[str | None] = None,
        target_id: FromQuery[UUID | None] = None,
        since: FromQuery[datetime | None] = None,
        until: FromQuery[datetime | None] = None,
        cursor: FromQuery[str | None] = None,
        limit: FromQuery[int] = DEFAULT_LIMIT,
    ) -> Page[Event]:
        """``since`` is inclusive, ``until`` exclusive (ISO 8601 timestamps)."""
        permissions.require(group_scope, "event.read", Resource(group_scope.group_id, type=type))
        return await ontology.scoped(group_scope).events.list(
            type=type, target_id=target_id, since=since, until=until, cursor=cursor, limit=limit
        )

    @get("/{event_id:uuid}", summary="Get an event")
    async def get_event(
        self,
        event_id: FromPath[UUID],
        group_scope: NamedDependency[Scope],
        ontology: NamedDependency[Ontology],
        permissions: NamedDependency[Permissions],
    ) -> Event:
        event = await ontology.scoped(group_scope).events.get(event_id)
        permissions.require(group_scope, "event.read", Resource(group_scope.group_id, event.type, event.id))
        return event

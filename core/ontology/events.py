"""The events store: an append-only log of what happened in a group. An event and its
outbox row are written in the caller's transaction, so the bus delivers exactly what
committed (see :mod:`core.ontology.session`).
"""

from __future__ import annotations

import base64
import binascii
import builtins
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

import asyncpg
import msgspec

from core.errors import NotFound, ValidationFailed
from core.events import EventFailure
from core.ontology.ids import uuid7
from core.ontology.queries import (
    DEFAULT_GROUPS,
    EVENTS,
    AggregateRow,
    Bucket,
    Metric,
    Range,
)
from core.ontology.queries import DEFAULT_LIMIT as DEFAULT_LIMIT
from core.ontology.queries import MAX_LIMIT as MAX_LIMIT
from core.ontology.queries import Query as _Query
from core.ontology.queries import check_limit as check_limit
from core.ontology.queries import decode_cursor as decode_cursor
from core.ontology.queries import encode_cursor as encode_cursor
from core.ontology.queries import page_of as _page
from core.ontology.records import Event, Page
from core.ontology.store_base import (
    EVENT_COLUMNS,
    _Store,
)

if TYPE_CHECKING:
    pass


#: The event and its outbox row, in one statement, in the caller's transaction.
_INSERT_EVENT_SQL = f"""
WITH e AS (
    INSERT INTO events (id, group_id, type, actor_id, target_id, payload)
    VALUES ($1, $2, $3, $4, $5, $6) RETURNING {EVENT_COLUMNS}
), o AS (
    INSERT INTO event_outbox (group_id, event_id) SELECT group_id, id FROM e
)
SELECT {EVENT_COLUMNS} FROM e
"""

#: Many events and their outbox rows in one statement (ids ascending, so rows come back in
#: the order given).
_INSERT_EVENTS_SQL = f"""
WITH e AS (
    INSERT INTO events (id, group_id, type, actor_id, target_id, payload)
    SELECT u.id, $2, u.type, $3, u.target_id, u.payload
    FROM unnest($1::uuid[], $4::text[], $5::uuid[], $6::jsonb[]) AS u(id, type, target_id, payload)
    RETURNING {EVENT_COLUMNS}
), o AS (
    INSERT INTO event_outbox (group_id, event_id) SELECT group_id, id FROM e
)
SELECT {EVENT_COLUMNS} FROM e ORDER BY id
"""


class Events(_Store):
    """The append-only log. ``emit`` writes the event and its ``event_outbox`` row in the
    caller's transaction (the transactional outbox, see ``core.events``)."""

    async def emit(
        self,
        type: str,
        payload: Mapping[str, Any] | None = None,
        *,
        target_id: UUID | None = None,
    ) -> Event:
        async with self.session.transaction() as conn:
            return await self._insert(conn, type, dict(payload or {}), target_id)

    async def emit_many(
        self, events: Sequence[tuple[str, Mapping[str, Any] | None, UUID | None]]
    ) -> list[Event]:
        """Emit ``(type, payload, target_id)`` events in one statement (one round trip), in
        the caller's transaction: the way to log many events at once (imports, batches)."""
        if not events:
            return []
        clean = [
            (type, self.registry.validate_payload(type, dict(payload or {})), target_id)
            for type, payload, target_id in events
        ]
        async with self.session.transaction() as conn:
            rows = await conn.fetch(
                _INSERT_EVENTS_SQL,
                [uuid7() for _ in clean],
                self.group_id,
                self.scope.person_id,
                [c[0] for c in clean],
                [c[2] for c in clean],
                [c[1] for c in clean],
            )
            emitted = [Event(**row) for row in rows]
            self.session.emitted.extend(emitted)
        return emitted

    async def _insert(
        self, conn: asyncpg.Connection, type: str, payload: dict[str, Any], target_id: UUID | None
    ) -> Event:
        """Write an event in the caller's transaction. Core's own events go through the same
        validation as a plugin's, so every stored payload has its type's shape."""
        payload = self.registry.validate_payload(type, payload)
        row = await conn.fetchrow(
            _INSERT_EVENT_SQL,
            uuid7(),
            self.group_id,
            type,
            self.scope.person_id,
            target_id,
            payload,
        )
        event = Event(**row)
        self.session.emitted.append(event)
        return event

    async def after(self, event_id: UUID, *, limit: int = 500) -> list[Event]:
        """Events newer than ``event_id`` (ids are UUIDv7: time order), oldest first."""
        async with self.session.reading() as conn:
            rows = await conn.fetch(
                f"SELECT {EVENT_COLUMNS} FROM events WHERE group_id = $1 AND id > $2 "
                "ORDER BY id LIMIT $3",
                self.group_id,
                event_id,
                limit,
            )
        return [Event(**row) for row in rows]

    async def failures(
        self, *, cursor: str | None = None, limit: int = DEFAULT_LIMIT
    ) -> Page[EventFailure]:
        """Handlers that gave up on this group's events (dead letters), newest first."""
        limit = check_limit(limit)
        args: list[Any] = [self.group_id, limit + 1]
        where = "group_id = $1"
        if cursor:
            try:
                at, event_id, handler = msgspec.json.decode(
                    base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)),
                    type=tuple[datetime, UUID, str],
                )
            except (ValueError, binascii.Error, msgspec.DecodeError):
                raise ValidationFailed(
                    "cursor is not one this API returned", field="cursor"
                ) from None
            args += [at, event_id, handler]
            where += " AND (failed_at, event_id, handler) < ($3, $4, $5)"
        async with self.session.reading() as conn:
            rows = await conn.fetch(
                "SELECT group_id, event_id, event_type, handler, error, attempts, failed_at "
                f"FROM event_failures WHERE {where} "
                "ORDER BY failed_at DESC, event_id DESC, handler DESC LIMIT $2",
                *args,
            )
        items = [EventFailure(**row) for row in rows]
        if len(items) <= limit:
            return Page(items=items)
        items = items[:limit]
        last = items[-1]
        raw = msgspec.json.encode((last.failed_at, last.event_id, last.handler))
        return Page(items=items, next_cursor=base64.urlsafe_b64encode(raw).decode().rstrip("="))

    async def get(self, event_id: UUID) -> Event:
        async with self.session.reading() as conn:
            row = await conn.fetchrow(
                f"SELECT {EVENT_COLUMNS} FROM events WHERE group_id = $1 AND id = $2",
                self.group_id,
                event_id,
            )
        if row is None:
            raise NotFound(f"event {event_id} not found")
        return Event(**row)

    async def list(
        self,
        *,
        type: str | None = None,
        target_id: UUID | None = None,
        actor_id: UUID | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        cursor: str | None = None,
        limit: int = DEFAULT_LIMIT,
    ) -> Page[Event]:
        """Newest first; ``since <= occurred_at < until``."""
        query = self._query(type=type, target_id=target_id, actor_id=actor_id)
        query.filter(since=since, until=until)
        sql, limit = query.page(EVENT_COLUMNS, "events", cursor, limit)
        async with self.session.reading() as conn:
            rows = await conn.fetch(sql, *query.args)
        return _page([Event(**row) for row in rows], limit)

    async def aggregate(
        self,
        metrics: Sequence[Metric],
        *,
        group_by: Sequence[str | Bucket] = (),
        type: str | None = None,
        target_id: UUID | None = None,
        actor_id: UUID | None = None,
        where: Mapping[str, Any] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        ranges: Mapping[str, Range | tuple[Any, Any]] | None = None,
        missing: Sequence[str] = (),
        order_by: Sequence[str] = (),
        limit: int = DEFAULT_GROUPS,
    ) -> builtins.list[AggregateRow]:
        """``metrics`` per group of ``group_by`` (``payload.<name>``, ``type``,
        ``actor_id``, ``target_id`` or a :class:`Bucket` of ``occurred_at``) over the
        events the filters keep (``where``: payload equality; ``missing``: payload keys
        absent); see :mod:`core.ontology.queries`."""
        query = self._query(type=type, target_id=target_id, actor_id=actor_id)
        if where:
            query.add("payload @> {}", dict(where))
        query.filter(since=since, until=until, ranges=ranges, missing=missing)
        sql, read = query.aggregate(metrics, group_by, order_by, limit)
        async with self.session.reading() as conn:
            return read(await conn.fetch(sql, *query.args))

    def _query(self, **columns: Any) -> _Query:
        query = _Query(self.group_id, EVENTS)
        for column, value in columns.items():
            if value is not None:
                query.add(f"{column} = {{}}", value)
        return query

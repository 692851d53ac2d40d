"""Scoped stores for the six dimensions. Every query here filters by the scope's group.

This module is the only place ontology SQL is written; plugins use the stores, so no
plugin can forget ``group_id``. Ids are UUIDv7, so ``ORDER BY id DESC`` is newest first
and the cursor is simply the last id seen.
"""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, TypeVar, get_args
from uuid import UUID

import asyncpg
import msgspec

from core.db import SET_GROUPS_SQL
from core.errors import Conflict, NotFound, PreconditionFailed, ValidationFailed
from core.events import EventFailure
from core.ontology.ids import uuid7
from core.ontology.records import Connection, Event, KnowledgeItem, Page, Thing
from core.ontology.scope import Scope
from core.ontology.session import Dispatcher, Session
from core.ontology.types import PERSON, ConnectionType, TypeRegistry

if TYPE_CHECKING:
    from core.db import Database

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
#: What a knowledge item is: a chunk of text, a label, a whole document.
KnowledgeKind = Literal["chunk", "label", "document"]

T = TypeVar("T")


async def every_item(list_page: Callable[..., Awaitable[Page[T]]], /, **filters: Any) -> list[T]:
    """Every item of a listing, read ``MAX_LIMIT`` at a time: ``list_page`` is a store's
    ``list`` (``things.list``, ``connections.list``, ``knowledge.list``), ``filters`` its
    keyword filters. For work that needs all of them, not for answering a request."""
    items: list[T] = []
    cursor: str | None = None
    while True:
        page = await list_page(**filters, cursor=cursor, limit=MAX_LIMIT)
        items += page.items
        cursor = page.next_cursor
        if cursor is None:
            return items


THING_COLUMNS = "id, group_id, type, name, status, properties, version, created_at, updated_at"
CONNECTION_COLUMNS = "id, group_id, type, from_id, to_id, metadata, created_at, valid_to"
EVENT_COLUMNS = "id, group_id, type, actor_id, target_id, payload, occurred_at"
KNOWLEDGE_COLUMNS = "id, group_id, kind, text, metadata, embedding_model, embedding_dim, created_at"


#: The ids of group $1 and of every group below it.
SUBGROUPS_SQL = (
    "WITH RECURSIVE tree (id, depth) AS (SELECT id, 0 FROM groups WHERE id = $1 "
    "UNION ALL SELECT g.id, t.depth + 1 FROM groups g JOIN tree t ON g.parent_id = t.id "
    "WHERE t.depth < 32) SELECT id FROM tree"
)


def encode_cursor(last_id: UUID) -> str:
    return base64.urlsafe_b64encode(last_id.bytes).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> UUID | None:
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        return UUID(bytes=raw)
    except (ValueError, binascii.Error):
        raise ValidationFailed("cursor is not one this API returned", field="cursor") from None


def check_limit(limit: int) -> int:
    if not 1 <= limit <= MAX_LIMIT:
        raise ValidationFailed(f"limit must be between 1 and {MAX_LIMIT}", field="limit")
    return limit


class _Query:
    """A WHERE clause built from optional filters, numbering parameters as it goes."""

    def __init__(self, group_id: UUID) -> None:
        self.args: list[Any] = [group_id]
        self.clauses = ["group_id = $1"]

    def add(self, clause: str, *values: Any) -> None:
        placeholders = []
        for value in values:
            self.args.append(value)
            placeholders.append(f"${len(self.args)}")
        self.clauses.append(clause.format(*placeholders))

    def page(self, columns: str, table: str, cursor: str | None, limit: int) -> tuple[str, int]:
        after = decode_cursor(cursor)
        if after is not None:
            self.add("id < {}", after)
        limit = check_limit(limit)
        self.args.append(limit + 1)
        sql = (
            f"SELECT {columns} FROM {table} WHERE {' AND '.join(self.clauses)} "
            f"ORDER BY id DESC LIMIT ${len(self.args)}"
        )
        return sql, limit


def _page(records: list[Any], limit: int) -> Page[Any]:
    if len(records) > limit:
        records = records[:limit]
        return Page(items=records, next_cursor=encode_cursor(records[-1].id))
    return Page(items=records)


class _Store:
    def __init__(self, scoped: ScopedOntology) -> None:
        self.scope = scoped.scope
        self.registry = scoped.registry
        self.session = scoped.session
        self._scoped = scoped

    @property
    def group_id(self) -> UUID:
        return self.scope.group_id


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
                [uuid7() for _ in clean], self.group_id, self.scope.person_id,
                [c[0] for c in clean], [c[2] for c in clean], [c[1] for c in clean],
            )  # fmt: skip
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
            uuid7(), self.group_id, type, self.scope.person_id, target_id, payload,
        )  # fmt: skip
        event = Event(**row)
        self.session.emitted.append(event)
        return event

    async def after(self, event_id: UUID, *, limit: int = 500) -> list[Event]:
        """Events newer than ``event_id`` (ids are UUIDv7: time order), oldest first."""
        async with self.session.reading() as conn:
            rows = await conn.fetch(
                f"SELECT {EVENT_COLUMNS} FROM events WHERE group_id = $1 AND id > $2 "
                "ORDER BY id LIMIT $3",
                self.group_id, event_id, limit,
            )  # fmt: skip
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
                self.group_id, event_id,
            )  # fmt: skip
        if row is None:
            raise NotFound(f"event {event_id} not found")
        return Event(**row)

    async def list(
        self,
        *,
        type: str | None = None,
        target_id: UUID | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        cursor: str | None = None,
        limit: int = DEFAULT_LIMIT,
    ) -> Page[Event]:
        query = _Query(self.group_id)
        if type is not None:
            query.add("type = {}", type)
        if target_id is not None:
            query.add("target_id = {}", target_id)
        if since is not None:
            query.add("occurred_at >= {}", since)
        if until is not None:
            query.add("occurred_at < {}", until)
        sql, limit = query.page(EVENT_COLUMNS, "events", cursor, limit)
        async with self.session.reading() as conn:
            rows = await conn.fetch(sql, *query.args)
        return _page([Event(**row) for row in rows], limit)


class Things(_Store):
    """Typed entities; ``properties`` always satisfy their type's struct."""

    async def create(
        self,
        type: str,
        *,
        name: str,
        properties: Mapping[str, Any] | None = None,
        status: str | None = None,
    ) -> Thing:
        decl = self.registry.thing_type(type)
        clean = self.registry.validate_properties(type, dict(properties or {}))
        status = status or decl.default_status
        _check_status(decl.statuses, status)
        async with self.session.transaction() as conn:
            row = await conn.fetchrow(
                f"INSERT INTO things (id, group_id, type, name, status, properties) "
                f"VALUES ($1, $2, $3, $4, $5, $6) RETURNING {THING_COLUMNS}",
                uuid7(), self.group_id, type, name, status, clean,
            )  # fmt: skip
            thing = Thing(**row)
            await self._scoped.events._insert(
                conn, "thing_created", {"type": type, "name": name}, thing.id
            )
        return thing

    async def get(self, thing_id: UUID, *, type: str | None = None) -> Thing:
        async with self.session.reading() as conn:
            row = await conn.fetchrow(
                f"SELECT {THING_COLUMNS} FROM things "
                "WHERE group_id = $1 AND id = $2 AND deleted_at IS NULL",
                self.group_id, thing_id,
            )  # fmt: skip
        if row is None or (type is not None and row["type"] != type):
            raise NotFound(f"{type or 'thing'} {thing_id} not found")
        return Thing(**row)

    async def list(
        self,
        *,
        type: str | None = None,
        status: str | None = None,
        where: Mapping[str, Any] | None = None,
        include_subgroups: bool = False,
        cursor: str | None = None,
        limit: int = DEFAULT_LIMIT,
    ) -> Page[Thing]:
        """Newest first. ``where`` matches property equality (uses the GIN index).
        ``include_subgroups`` adds the things of every group below this one (a role in a
        group applies to its sub-groups)."""
        query = _Query(self.group_id)
        if include_subgroups:
            query.clauses[0] = "group_id = ANY($1)"  # $1 becomes the tree's ids below
        query.clauses.append("deleted_at IS NULL")
        if type is not None:
            query.add("type = {}", type)
        if status is not None:
            query.add("status = {}", status)
        if where:
            query.add("properties @> {}", dict(where))
        sql, limit = query.page(THING_COLUMNS, "things", cursor, limit)
        async with self.session.reading() as conn:
            if include_subgroups:
                # The tree's ids, then widen what this connection may see to exactly them.
                tree = [r["id"] for r in await conn.fetch(SUBGROUPS_SQL, self.group_id)]
                # transaction-local inside a transaction; else until the pool resets it
                local = self.session.in_transaction
                await conn.execute(SET_GROUPS_SQL, ",".join(map(str, tree)), local)
                query.args[0] = tree
            rows = await conn.fetch(sql, *query.args)
        return _page([Thing(**row) for row in rows], limit)

    async def update(
        self,
        thing_id: UUID,
        *,
        name: str | None = None,
        status: str | None = None,
        properties: Mapping[str, Any] | None = None,
        replace_properties: bool = False,
        expected_version: int | None = None,
    ) -> Thing:
        """Change a thing. ``properties`` merge into the stored ones (top-level keys; a
        ``None`` value removes a key) unless ``replace_properties``; the result is validated
        whole. With ``expected_version``, a concurrent change is a 412, not a lost update."""
        async with self.session.transaction() as conn:
            row = await conn.fetchrow(
                f"SELECT {THING_COLUMNS} FROM things "
                "WHERE group_id = $1 AND id = $2 AND deleted_at IS NULL FOR UPDATE",
                self.group_id, thing_id,
            )  # fmt: skip
            if row is None:
                raise NotFound(f"thing {thing_id} not found")
            current = Thing(**row)
            _check_version(current, expected_version)
            decl = self.registry.thing_type(current.type)
            changed: list[str] = []
            new_props = current.properties
            if properties is not None:
                if replace_properties:
                    merged = dict(properties)
                else:
                    merged = {**current.properties, **properties}
                    merged = {k: v for k, v in merged.items() if v is not None}
                new_props = self.registry.validate_properties(current.type, merged)
                changed += sorted(
                    k
                    for k in set(new_props) | set(current.properties)
                    if new_props.get(k) != current.properties.get(k)
                )
            if status is not None and status != current.status:
                _check_status(decl.statuses, status)
                changed.insert(0, "status")
            if name is not None and name != current.name:
                changed.insert(0, "name")
            if not changed:
                return current
            row = await conn.fetchrow(
                f"UPDATE things SET name = $3, status = $4, properties = $5, "
                f"version = version + 1, updated_at = now() "
                f"WHERE group_id = $1 AND id = $2 RETURNING {THING_COLUMNS}",
                self.group_id, thing_id, name if name is not None else current.name,
                status if status is not None else current.status, new_props,
            )  # fmt: skip
            thing = Thing(**row)
            await self._scoped.events._insert(
                conn, "thing_updated", {"type": thing.type, "name": thing.name, "changed": changed},
                thing.id,
            )  # fmt: skip
        return thing

    async def delete(self, thing_id: UUID, *, expected_version: int | None = None) -> None:
        """Soft delete: the thing disappears from reads and its live connections end."""
        async with self.session.transaction() as conn:
            row = await conn.fetchrow(
                f"SELECT {THING_COLUMNS} FROM things "
                "WHERE group_id = $1 AND id = $2 AND deleted_at IS NULL FOR UPDATE",
                self.group_id, thing_id,
            )  # fmt: skip
            if row is None:
                raise NotFound(f"thing {thing_id} not found")
            current = Thing(**row)
            _check_version(current, expected_version)
            await conn.execute(
                "UPDATE things SET deleted_at = now(), version = version + 1, updated_at = now() "
                "WHERE group_id = $1 AND id = $2",
                self.group_id, thing_id,
            )  # fmt: skip
            ended = await conn.fetch(
                "UPDATE connections SET valid_to = now() WHERE group_id = $1 "
                "AND (from_id = $2 OR to_id = $2) AND valid_to IS NULL "
                "RETURNING id, type, from_id, to_id",
                self.group_id, thing_id,
            )  # fmt: skip
            events = self._scoped.events
            for link in ended:
                await events._insert(
                    conn, "connection_deleted",
                    {"type": link["type"], "from_id": str(link["from_id"]),
                     "to_id": str(link["to_id"])},
                    link["id"],
                )  # fmt: skip
            await events._insert(
                conn, "thing_deleted", {"type": current.type, "name": current.name}, thing_id
            )


def _check_status(allowed: Sequence[str], status: str) -> None:
    if allowed and status not in allowed:
        raise ValidationFailed(
            f"status {status!r} is not one of: {', '.join(allowed)}", field="status"
        )
    if not status or len(status) > 50:
        raise ValidationFailed("status must be 1 to 50 characters", field="status")


def _check_version(current: Thing, expected: int | None) -> None:
    if expected is not None and expected != current.version:
        raise PreconditionFailed(
            f"thing {current.id} is at version {current.version}, not {expected}; "
            "reload it and apply your change again",
            current_version=current.version,
        )


#: Members of group $1 among the person ids $2, with a membership in the group or in a group
#: above it (a role there applies here, as in auth), their membership rows locked so a
#: person cannot leave while being connected.
_MEMBERS_SQL = (
    "WITH RECURSIVE chain (id, parent_id, depth) AS ("
    " SELECT id, parent_id, 0 FROM groups WHERE id = $1"
    " UNION ALL SELECT g.id, g.parent_id, c.depth + 1 FROM groups g"
    " JOIN chain c ON g.id = c.parent_id WHERE c.depth < 32) "
    "SELECT m.person_id FROM memberships m "
    "WHERE m.group_id IN (SELECT id FROM chain) AND m.person_id = ANY($2::uuid[]) "
    "FOR SHARE OF m"
)


def _end_noun(allowed: Sequence[str]) -> str:
    """What an end may be, as an error names it."""
    if PERSON not in allowed:
        return "thing"
    return "person" if set(allowed) == {PERSON} else "thing or person"


class Connections(_Store):
    """Typed, directed relations between things of the same group, or between a thing and
    a person who is a member of it (:data:`~core.ontology.types.PERSON` in the type's
    ``from_types`` / ``to_types``)."""

    async def create(
        self,
        type: str,
        from_id: UUID,
        to_id: UUID,
        metadata: Mapping[str, Any] | None = None,
    ) -> Connection:
        decl = self.registry.connection_type(type)
        clean = self.registry.validate_metadata(type, dict(metadata or {}))
        async with self.session.transaction() as conn:
            await self._check_ends(conn, decl, from_id, to_id)
            return await self._insert(conn, decl, from_id, to_id, clean)

    async def replace(
        self,
        type: str,
        from_id: UUID,
        to_id: UUID,
        metadata: Mapping[str, Any] | None = None,
    ) -> Connection:
        """End the live ``type`` connection(s) from ``from_id`` to ``to_id``, if any, and
        make a new one with ``metadata``, in one transaction: the way to change a
        connection's metadata while its history (``include_ended``) keeps every version.
        Concurrent replaces of the same (type, from, to) run one after the other.

        Replacing a live connection does not check its ends again: what it records stays
        true (a person who has since left the group still made the clone), and a deleted
        thing's connections have ended already. With none live, the ends are checked as
        :meth:`create` does. A caller that computes the new metadata from the old (a
        counter) must read the old under a lock of its own taken before this call, such
        as a lock on the ``from`` thing's row: this call's lock begins inside it."""
        decl = self.registry.connection_type(type)
        clean = self.registry.validate_metadata(type, dict(metadata or {}))
        async with self.session.transaction() as conn:
            # Held until commit: the next replace of this triple waits, then sees (and
            # ends) this one's connection instead of racing it into a duplicate.
            await self.session.lock("connection", self.group_id, type, from_id, to_id)
            ended = await conn.fetch(
                "UPDATE connections SET valid_to = now() WHERE group_id = $1 AND type = $2 "
                "AND from_id = $3 AND to_id = $4 AND valid_to IS NULL RETURNING id",
                self.group_id, type, from_id, to_id,
            )  # fmt: skip
            if not ended:
                await self._check_ends(conn, decl, from_id, to_id)
            payload = {"type": type, "from_id": str(from_id), "to_id": str(to_id)}
            for link in ended:
                await self._scoped.events._insert(conn, "connection_deleted", payload, link["id"])
            return await self._insert(conn, decl, from_id, to_id, clean)

    async def _check_ends(
        self, conn: asyncpg.Connection, decl: ConnectionType, from_id: UUID, to_id: UUID
    ) -> None:
        """Both ends exist in this group and are of the kinds the type allows; their rows
        are locked (shared) so neither goes away before the connection commits."""
        rows = await conn.fetch(
            "SELECT id, type FROM things WHERE group_id = $1 AND id = ANY($2::uuid[]) "
            "AND deleted_at IS NULL FOR SHARE",
            self.group_id, [from_id, to_id],
        )  # fmt: skip
        things = {r["id"]: r["type"] for r in rows}
        maybe_people = [
            end
            for end, allowed in ((from_id, decl.from_types), (to_id, decl.to_types))
            if PERSON in allowed and end not in things
        ]
        members: set[UUID] = set()
        if maybe_people:
            found = await conn.fetch(_MEMBERS_SQL, self.group_id, maybe_people)
            members = {r["person_id"] for r in found}
        for field_name, end, allowed in (
            ("from_id", from_id, decl.from_types),
            ("to_id", to_id, decl.to_types),
        ):
            if end in things:
                if allowed and things[end] not in allowed:
                    raise ValidationFailed(
                        f"a {decl.name!r} connection's {field_name} must be a "
                        f"{' or '.join(allowed)}, not a {things[end]!r}",
                        field=field_name,
                    )
            elif end not in members:
                # One answer for "no such person" and "a person of another group".
                raise NotFound(
                    f"{_end_noun(allowed)} {end} ({field_name}) not found", field=field_name
                )

    async def _insert(
        self,
        conn: asyncpg.Connection,
        decl: ConnectionType,
        from_id: UUID,
        to_id: UUID,
        clean: dict[str, Any],
    ) -> Connection:
        try:
            async with conn.transaction():  # savepoint: a duplicate must not end the outer
                row = await conn.fetchrow(
                    f"INSERT INTO connections (id, group_id, type, from_id, to_id, metadata, "
                    f"is_unique) VALUES ($1, $2, $3, $4, $5, $6, $7) "
                    f"RETURNING {CONNECTION_COLUMNS}",
                    uuid7(), self.group_id, decl.name, from_id, to_id, clean, decl.unique,
                )  # fmt: skip
        except asyncpg.UniqueViolationError:
            raise Conflict(
                f"a {decl.name!r} connection from {from_id} to {to_id} already exists"
            ) from None
        connection = Connection(**row)
        await self._scoped.events._insert(
            conn, "connection_created",
            {"type": decl.name, "from_id": str(from_id), "to_id": str(to_id)}, connection.id,
        )  # fmt: skip
        return connection

    async def get(self, connection_id: UUID) -> Connection:
        async with self.session.reading() as conn:
            row = await conn.fetchrow(
                f"SELECT {CONNECTION_COLUMNS} FROM connections WHERE group_id = $1 AND id = $2",
                self.group_id, connection_id,
            )  # fmt: skip
        if row is None:
            raise NotFound(f"connection {connection_id} not found")
        return Connection(**row)

    async def list(
        self,
        *,
        type: str | None = None,
        from_id: UUID | None = None,
        to_id: UUID | None = None,
        include_ended: bool = False,
        cursor: str | None = None,
        limit: int = DEFAULT_LIMIT,
        from_ids: Sequence[UUID] | None = None,
    ) -> Page[Connection]:
        """Connections, newest first; ``from_ids`` keeps those from any of these (one
        query for a page of things' connections)."""
        query = _Query(self.group_id)
        if not include_ended:
            query.clauses.append("valid_to IS NULL")
        if type is not None:
            query.add("type = {}", type)
        if from_id is not None:
            query.add("from_id = {}", from_id)
        if from_ids is not None:
            query.add("from_id = ANY({}::uuid[])", list(from_ids))
        if to_id is not None:
            query.add("to_id = {}", to_id)
        sql, limit = query.page(CONNECTION_COLUMNS, "connections", cursor, limit)
        async with self.session.reading() as conn:
            rows = await conn.fetch(sql, *query.args)
        return _page([Connection(**row) for row in rows], limit)

    async def delete(self, connection_id: UUID) -> None:
        """End a connection (``valid_to = now()``); its history stays readable."""
        async with self.session.transaction() as conn:
            row = await conn.fetchrow(
                "UPDATE connections SET valid_to = now() "
                "WHERE group_id = $1 AND id = $2 AND valid_to IS NULL "
                "RETURNING type, from_id, to_id",
                self.group_id, connection_id,
            )  # fmt: skip
            if row is None:
                raise NotFound(f"connection {connection_id} not found")
            await self._scoped.events._insert(
                conn, "connection_deleted",
                {"type": row["type"], "from_id": str(row["from_id"]), "to_id": str(row["to_id"])},
                connection_id,
            )  # fmt: skip


class Knowledge(_Store):
    """Text chunks, labels and documents with optional embeddings, linked to things."""

    KINDS: tuple[str, ...] = get_args(KnowledgeKind)

    async def add(
        self,
        text: str,
        *,
        kind: str = "chunk",
        metadata: Mapping[str, Any] | None = None,
        embedding: Sequence[float] | None = None,
        embedding_model: str | None = None,
        thing_id: UUID | None = None,
        role: str = "source",
    ) -> KnowledgeItem:
        if kind not in self.KINDS:
            raise ValidationFailed(f"kind must be one of {', '.join(self.KINDS)}", field="kind")
        if embedding is not None and not embedding_model:
            # a vector without its model can never be searched or re-embedded correctly
            raise ValidationFailed(
                "an embedding needs the embedding_model that made it", field="embedding_model"
            )
        dim = len(embedding) if embedding is not None else None
        if embedding is not None and (not dim or not all(map(math.isfinite, embedding))):
            raise ValidationFailed(
                "embedding must be a non-empty list of finite numbers", field="embedding"
            )
        async with self.session.transaction() as conn:
            if thing_id is not None:
                await self._scoped.things.get(thing_id)
            row = await conn.fetchrow(
                f"INSERT INTO knowledge (id, group_id, kind, text, metadata, embedding, "
                f"embedding_model, embedding_dim) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) "
                f"RETURNING {KNOWLEDGE_COLUMNS}",
                uuid7(), self.group_id, kind, text, dict(metadata or {}),
                list(embedding) if embedding is not None else None, embedding_model, dim,
            )  # fmt: skip
            item = KnowledgeItem(**row)
            if thing_id is not None:
                await conn.execute(
                    "INSERT INTO thing_knowledge (group_id, thing_id, knowledge_id, role) "
                    "VALUES ($1, $2, $3, $4)",
                    self.group_id, thing_id, item.id, role,
                )  # fmt: skip
        return item

    async def get(self, knowledge_id: UUID) -> KnowledgeItem:
        async with self.session.reading() as conn:
            row = await conn.fetchrow(
                f"SELECT {KNOWLEDGE_COLUMNS} FROM knowledge WHERE group_id = $1 AND id = $2",
                self.group_id, knowledge_id,
            )  # fmt: skip
        if row is None:
            raise NotFound(f"knowledge {knowledge_id} not found")
        return KnowledgeItem(**row)

    async def list(
        self,
        *,
        kind: str | None = None,
        thing_id: UUID | None = None,
        cursor: str | None = None,
        limit: int = DEFAULT_LIMIT,
    ) -> Page[KnowledgeItem]:
        query = _Query(self.group_id)
        if kind is not None:
            query.add("kind = {}", kind)
        if thing_id is not None:
            query.add(
                "id IN (SELECT knowledge_id FROM thing_knowledge "
                "WHERE group_id = $1 AND thing_id = {})",
                thing_id,
            )
        sql, limit = query.page(KNOWLEDGE_COLUMNS, "knowledge", cursor, limit)
        async with self.session.reading() as conn:
            rows = await conn.fetch(sql, *query.args)
        return _page([KnowledgeItem(**row) for row in rows], limit)

    async def delete(self, knowledge_id: UUID) -> None:
        async with self.session.transaction() as conn:
            deleted = await conn.execute(
                "DELETE FROM knowledge WHERE group_id = $1 AND id = $2", self.group_id, knowledge_id
            )
        if deleted.endswith(" 0"):
            raise NotFound(f"knowledge {knowledge_id} not found")

    async def delete_for_thing(self, thing_id: UUID) -> int:
        """Remove every knowledge row linked to ``thing_id`` (e.g. before re-ingesting it)."""
        async with self.session.transaction() as conn:
            status = await conn.execute(
                "DELETE FROM knowledge WHERE group_id = $1 AND id IN (SELECT knowledge_id "
                "FROM thing_knowledge WHERE group_id = $1 AND thing_id = $2)",
                self.group_id, thing_id,
            )  # fmt: skip
        return int(status.split()[-1])


class ScopedOntology:
    """The four stores bound to one scope and one unit of work."""

    def __init__(self, scope: Scope, registry: TypeRegistry, session: Session) -> None:
        self.scope = scope
        self.registry = registry
        self.session = session
        self.events = Events(self)
        self.things = Things(self)
        self.connections = Connections(self)
        self.knowledge = Knowledge(self)


class Ontology:
    """Where services get stores: ``ontology.scoped(scope)`` for independent calls, or
    ``async with ontology.transaction(scope) as o:`` for several writes that commit (and
    emit their events) together."""

    def __init__(self, db: Database, registry: TypeRegistry, dispatch: Dispatcher) -> None:
        self.db = db
        self.registry = registry
        self._dispatch = dispatch

    def scoped(self, scope: Scope) -> ScopedOntology:
        session = Session(self.db, self._dispatch, groups=(scope.group_id,))
        return ScopedOntology(scope, self.registry, session)

    @asynccontextmanager
    async def transaction(self, scope: Scope) -> AsyncIterator[ScopedOntology]:
        scoped = self.scoped(scope)
        async with scoped.session.transaction():
            yield scoped

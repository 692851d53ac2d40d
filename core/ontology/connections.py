"""The connections store: typed, directed relations between things of a group, or
between a thing and a member of the group.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any
from uuid import UUID

import asyncpg

from core.errors import Conflict, NotFound, ValidationFailed
from core.ontology.ids import uuid7
from core.ontology.queries import DEFAULT_LIMIT as DEFAULT_LIMIT
from core.ontology.queries import MAX_LIMIT as MAX_LIMIT
from core.ontology.queries import Query as _Query
from core.ontology.queries import check_limit as check_limit
from core.ontology.queries import decode_cursor as decode_cursor
from core.ontology.queries import encode_cursor as encode_cursor
from core.ontology.queries import page_of as _page
from core.ontology.records import Connection, Page
from core.ontology.store_base import (
    CONNECTION_COLUMNS,
    _Store,
)
from core.ontology.types import PERSON, ConnectionType

if TYPE_CHECKING:
    pass


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
                self.group_id,
                type,
                from_id,
                to_id,
            )
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
            self.group_id,
            [from_id, to_id],
        )
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
                    uuid7(),
                    self.group_id,
                    decl.name,
                    from_id,
                    to_id,
                    clean,
                    decl.unique,
                )
        except asyncpg.UniqueViolationError:
            raise Conflict(
                f"a {decl.name!r} connection from {from_id} to {to_id} already exists"
            ) from None
        connection = Connection(**row)
        await self._scoped.events._insert(
            conn,
            "connection_created",
            {"type": decl.name, "from_id": str(from_id), "to_id": str(to_id)},
            connection.id,
        )
        return connection

    async def get(self, connection_id: UUID) -> Connection:
        async with self.session.reading() as conn:
            row = await conn.fetchrow(
                f"SELECT {CONNECTION_COLUMNS} FROM connections WHERE group_id = $1 AND id = $2",
                self.group_id,
                connection_id,
            )
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
                self.group_id,
                connection_id,
            )
            if row is None:
                raise NotFound(f"connection {connection_id} not found")
            await self._scoped.events._insert(
                conn,
                "connection_deleted",
                {"type": row["type"], "from_id": str(row["from_id"]), "to_id": str(row["to_id"])},
                connection_id,
            )

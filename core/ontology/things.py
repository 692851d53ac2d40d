"""The things store: typed entities whose ``properties`` always satisfy their type's
struct; versioned (``expected_version`` makes a concurrent change a 412), soft-deleted.
"""

from __future__ import annotations

import builtins
import functools
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from core.db import SET_GROUPS_SQL
from core.errors import NotFound, PreconditionFailed, ValidationFailed
from core.ontology.ids import uuid7
from core.ontology.queries import (
    DEFAULT_GROUPS,
    THINGS,
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
from core.ontology.records import Page, Thing
from core.ontology.store_base import (
    SUBGROUPS_SQL,
    THING_COLUMNS,
    _Store,
)

if TYPE_CHECKING:
    pass


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
                uuid7(),
                self.group_id,
                type,
                name,
                status,
                clean,
            )
            thing = Thing(**row)
            await self._scoped.events._insert(
                conn, "thing_created", {"type": type, "name": name}, thing.id
            )
        return thing

    async def get(
        self, thing_id: UUID, *, type: str | None = None, for_update: bool = False
    ) -> Thing:
        """The live thing ``thing_id`` (of ``type``), or :class:`NotFound`. ``for_update``
        locks its row until the transaction ends (it opens one if none is): another
        ``for_update`` read or a write of the same thing waits, so a read-check-write
        sequence runs on the latest version, one after the other."""
        lock = " FOR UPDATE" if for_update else ""
        context = self.session.transaction() if for_update else self.session.reading()
        async with context as conn:
            row = await conn.fetchrow(
                f"SELECT {THING_COLUMNS} FROM things "
                f"WHERE group_id = $1 AND id = $2 AND deleted_at IS NULL{lock}",
                self.group_id,
                thing_id,
            )
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
        subgroups: Collection[UUID] | None = None,
        cursor: str | None = None,
        limit: int = DEFAULT_LIMIT,
        order_by: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        ranges: Mapping[str, Range | tuple[Any, Any]] | None = None,
        missing: Sequence[str] = (),
    ) -> Page[Thing]:
        """Newest first, or by ``order_by`` (``created_at``, ``updated_at``, ``name``,
        ``status``, ``type`` or ``properties.<name>``, ``-`` first for descending; the
        cursor keeps the order). ``where`` matches property equality (uses the GIN
        index); ``since <= created_at < until``; ``ranges`` bound fields
        (:class:`Range`); ``missing`` properties are absent. ``include_subgroups`` adds
        the things of every group below this one (a role in a group applies to its
        sub-groups), or only of those in ``subgroups`` (the ones the caller may read)."""
        query = self._query(type, status, where)
        if include_subgroups:
            query.clauses[0] = "group_id = ANY($1)"  # $1 becomes the tree's ids below
        query.filter(since=since, until=until, ranges=ranges, missing=missing)
        if order_by is None:
            sql, limit = query.page(THING_COLUMNS, "things", cursor, limit)
            make_page: Callable[[builtins.list[Any]], Page[Any]] = functools.partial(
                _page, limit=limit
            )
        else:
            sql, limit, make_page = query.sorted_page(THING_COLUMNS, order_by, cursor, limit)
        async with self.session.reading() as conn:
            if include_subgroups:
                # The tree's ids, then widen what this connection may see to exactly them.
                tree = [r["id"] for r in await conn.fetch(SUBGROUPS_SQL, self.group_id)]
                if subgroups is not None:
                    tree = [g for g in tree if g in subgroups]
                # transaction-local inside a transaction; else until the pool resets it
                local = self.session.in_transaction
                await conn.execute(SET_GROUPS_SQL, ",".join(map(str, tree)), local)
                query.args[0] = tree
            rows = await conn.fetch(sql, *query.args)
        return make_page([Thing(**row) for row in rows])

    async def aggregate(
        self,
        metrics: Sequence[Metric],
        *,
        group_by: Sequence[str | Bucket] = (),
        type: str | None = None,
        status: str | None = None,
        where: Mapping[str, Any] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        ranges: Mapping[str, Range | tuple[Any, Any]] | None = None,
        missing: Sequence[str] = (),
        order_by: Sequence[str] = (),
        limit: int = DEFAULT_GROUPS,
    ) -> builtins.list[AggregateRow]:
        """``metrics`` per group of ``group_by`` (``properties.<name>``, a column, or a
        :class:`Bucket` of ``created_at``) over the things :meth:`list` would return for
        the same filters; see :mod:`core.ontology.queries`."""
        query = self._query(type, status, where)
        query.filter(since=since, until=until, ranges=ranges, missing=missing)
        sql, read = query.aggregate(metrics, group_by, order_by, limit)
        async with self.session.reading() as conn:
            return read(await conn.fetch(sql, *query.args))

    def _query(
        self, type: str | None, status: str | None, where: Mapping[str, Any] | None
    ) -> _Query:
        query = _Query(self.group_id, THINGS)
        query.clauses.append("deleted_at IS NULL")
        if type is not None:
            query.add("type = {}", type)
        if status is not None:
            query.add("status = {}", status)
        if where:
            query.add("properties @> {}", dict(where))
        return query

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
                self.group_id,
                thing_id,
            )
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
                self.group_id,
                thing_id,
                name if name is not None else current.name,
                status if status is not None else current.status,
                new_props,
            )
            thing = Thing(**row)
            await self._scoped.events._insert(
                conn,
                "thing_updated",
                {"type": thing.type, "name": thing.name, "changed": changed},
                thing.id,
            )
        return thing

    async def delete(self, thing_id: UUID, *, expected_version: int | None = None) -> None:
        """Soft delete: the thing disappears from reads and its live connections end."""
        async with self.session.transaction() as conn:
            row = await conn.fetchrow(
                f"SELECT {THING_COLUMNS} FROM things "
                "WHERE group_id = $1 AND id = $2 AND deleted_at IS NULL FOR UPDATE",
                self.group_id,
                thing_id,
            )
            if row is None:
                raise NotFound(f"thing {thing_id} not found")
            current = Thing(**row)
            _check_version(current, expected_version)
            await conn.execute(
                "UPDATE things SET deleted_at = now(), version = version + 1, updated_at = now() "
                "WHERE group_id = $1 AND id = $2",
                self.group_id,
                thing_id,
            )
            await self._scoped.names.release_thing(thing_id)  # its public names go with it
            ended = await conn.fetch(
                "UPDATE connections SET valid_to = now() WHERE group_id = $1 "
                "AND (from_id = $2 OR to_id = $2) AND valid_to IS NULL "
                "RETURNING id, type, from_id, to_id",
                self.group_id,
                thing_id,
            )
            events = self._scoped.events
            for link in ended:
                await events._insert(
                    conn,
                    "connection_deleted",
                    {
                        "type": link["type"],
                        "from_id": str(link["from_id"]),
                        "to_id": str(link["to_id"]),
                    },
                    link["id"],
                )
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

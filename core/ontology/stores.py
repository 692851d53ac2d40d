"""Scoped stores for the six dimensions. Every query filters by the scope's group.

The stores (:mod:`core.ontology.things`, :mod:`~core.ontology.connections`,
:mod:`~core.ontology.events`, :mod:`~core.ontology.knowledge`, :mod:`~core.ontology.names`)
are the only place ontology SQL is written; plugins use them, so no plugin can forget
``group_id``. Ids are UUIDv7, so ``ORDER BY id DESC`` is newest first and the cursor is
the last id seen (or, for a listing sorted otherwise, the last sort value and id). This
module binds them to a scope (:class:`ScopedOntology`) and is where services get them
(:class:`Ontology`); it re-exports the names callers import from here.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, TypeVar

import asyncpg

from core.errors import Conflict
from core.ontology.connections import Connections as Connections
from core.ontology.events import Events as Events
from core.ontology.knowledge import Knowledge as Knowledge
from core.ontology.knowledge import KnowledgeKind as KnowledgeKind
from core.ontology.names import Names, PublicNames
from core.ontology.queries import DEFAULT_LIMIT as DEFAULT_LIMIT
from core.ontology.queries import MAX_LIMIT as MAX_LIMIT
from core.ontology.queries import check_limit as check_limit
from core.ontology.queries import decode_cursor as decode_cursor
from core.ontology.queries import encode_cursor as encode_cursor
from core.ontology.scope import Scope
from core.ontology.session import Dispatcher, Isolation, Session
from core.ontology.store_base import CONNECTION_COLUMNS as CONNECTION_COLUMNS
from core.ontology.store_base import EVENT_COLUMNS as EVENT_COLUMNS
from core.ontology.store_base import KNOWLEDGE_COLUMNS as KNOWLEDGE_COLUMNS
from core.ontology.store_base import SUBGROUPS_SQL as SUBGROUPS_SQL
from core.ontology.store_base import THING_COLUMNS as THING_COLUMNS
from core.ontology.store_base import every_item as every_item
from core.ontology.things import Things as Things
from core.ontology.types import TypeRegistry

if TYPE_CHECKING:
    from core.db import Database


T = TypeVar("T")


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
        self.names = Names(self)


class Ontology:
    """Where services get stores: ``ontology.scoped(scope)`` for independent calls, or
    ``async with ontology.transaction(scope) as o:`` for several writes that commit (and
    emit their events) together."""

    def __init__(self, db: Database, registry: TypeRegistry, dispatch: Dispatcher) -> None:
        self.db = db
        self.registry = registry
        self._dispatch = dispatch
        #: Public names and public things, looked up across groups.
        self.names = PublicNames(db)

    @asynccontextmanager
    async def across_groups(self) -> AsyncIterator[asyncpg.Connection]:
        """A connection that sees the rows of every group, for a plugin's maintenance of
        its *own* group-scoped tables across the platform (a job that finds which groups
        have work). Core's tables are never read this way by a plugin: through stores
        bound to a scope, group by group (the boundary tests enforce it)."""
        async with self.db.system() as conn:
            yield conn

    def scoped(self, scope: Scope) -> ScopedOntology:
        session = Session(self.db, self._dispatch, groups=(scope.group_id,))
        return ScopedOntology(scope, self.registry, session)

    @asynccontextmanager
    async def transaction(
        self, scope: Scope, *, isolation: Isolation = "read_committed"
    ) -> AsyncIterator[ScopedOntology]:
        """Stores whose calls share one transaction, committed when the block ends.
        ``isolation="serializable"`` (or ``"repeatable_read"``) makes PostgreSQL refuse a
        commit that concurrent work would have changed: use :meth:`retrying` with it, so
        such a refusal runs the work again instead of failing the request."""
        scoped = self.scoped(scope)
        async with scoped.session.transaction(isolation=isolation):
            yield scoped

    async def retrying(
        self,
        scope: Scope,
        work: Callable[[ScopedOntology], Awaitable[T]],
        *,
        isolation: Isolation = "serializable",
        attempts: int = 5,
    ) -> T:
        """Run ``await work(o)`` in a transaction of ``isolation``, again from the start
        (after a short random pause) when PostgreSQL refuses to commit it for a
        serialization failure or a deadlock, at most ``attempts`` times; the last refusal
        is a :class:`Conflict`. ``work`` must be safe to run again: it only touches the
        database through ``o`` (events are sent only after the commit that succeeds)."""
        for attempt in range(1, attempts + 1):
            try:
                async with self.transaction(scope, isolation=isolation) as o:
                    return await work(o)
            except (asyncpg.SerializationError, asyncpg.DeadlockDetectedError):
                if attempt == attempts:
                    raise Conflict(
                        "this change collided with concurrent changes too often; try again"
                    ) from None
                await asyncio.sleep(random.uniform(0.005, 0.02) * attempt)
        raise AssertionError("unreachable")

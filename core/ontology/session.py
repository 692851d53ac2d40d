"""A unit of work: one connection, one transaction, and the events emitted inside it.

Stores call :meth:`Session.transaction` around every write. Outside an explicit
transaction each store call commits on its own; inside ``ontology.transaction(scope)``
they share one. Events are handed to the bus only after the commit that wrote them, and
are dropped with a rollback, so a subscriber never sees a change that did not happen.

Each event's ``event_outbox`` row commits with it; the dispatcher (``EventBus.dispatch``)
delivers the committed events and deletes those rows. If this process dies between the
commit and that delete, the outbox relay of any process delivers them instead.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any, Literal
from uuid import UUID

import asyncpg

from core.db import SET_GROUPS_SQL, Database
from core.ontology.records import Event

Dispatcher = Callable[[Sequence[Event]], Awaitable[None]]
#: A transaction's isolation level, as asyncpg names them.
Isolation = Literal["read_committed", "repeatable_read", "serializable"]
_STRICTNESS: dict[str, int] = {"read_committed": 0, "repeatable_read": 1, "serializable": 2}


class _Frame:
    """One task's open transaction: its connection and the events written in it."""

    __slots__ = ("conn", "emitted", "isolation")

    def __init__(self, conn: asyncpg.Connection, isolation: Isolation) -> None:
        self.conn = conn
        self.isolation = isolation
        self.emitted: list[Event] = []


class Session:
    """A transaction belongs to the task that opened it: another task using the same
    stores concurrently gets a transaction of its own rather than joining (and racing on)
    that one's connection."""

    def __init__(self, db: Database, dispatch: Dispatcher, groups: Sequence[UUID] = ()) -> None:
        self._db = db
        self._dispatch = dispatch
        #: The groups this unit of work may see (row-level security, a second line of
        #: defence behind every store's own ``group_id`` filter).
        self.groups = ",".join(str(g) for g in groups)
        self._frames: dict[asyncio.Task[Any] | None, _Frame] = {}

    @property
    def db(self) -> Database:
        """The database this unit of work runs on (for the rare cross-group read a store
        must make beside it, such as whether another group holds a name)."""
        return self._db

    def _frame(self) -> _Frame | None:
        if not self._frames:
            return None
        return self._frames.get(asyncio.current_task())

    @property
    def in_transaction(self) -> bool:
        return self._frame() is not None

    @property
    def emitted(self) -> list[Event]:
        """Events written in this task's open transaction (dispatched after its commit)."""
        frame = self._frame()
        if frame is None:
            raise RuntimeError("events are written inside Session.transaction()")
        return frame.emitted

    @asynccontextmanager
    async def transaction(
        self, *, isolation: Isolation = "read_committed"
    ) -> AsyncIterator[asyncpg.Connection]:
        """Yield a connection inside a transaction; nested calls join the outer one (a
        nested call cannot ask for a stricter isolation than the outer one has)."""
        frame = self._frame()
        if frame is not None:
            if _STRICTNESS[isolation] > _STRICTNESS[frame.isolation]:
                raise RuntimeError(
                    f"a {isolation} transaction cannot join an open {frame.isolation} one"
                )
            yield frame.conn
            return
        task = asyncio.current_task()
        async with self._db.pool.acquire() as conn, conn.transaction(isolation=isolation):
            await conn.execute(SET_GROUPS_SQL, self.groups, True)  # for this transaction
            frame = self._frames[task] = _Frame(conn, isolation)
            try:
                yield conn
            finally:
                del self._frames[task]
        # Committed (an exception above skips this: the events roll back with the rows).
        if frame.emitted:
            await self._dispatch(frame.emitted)

    async def lock(self, *key: object) -> None:
        """Hold an advisory lock on ``key`` (its parts joined: name what is guarded, e.g.
        ``("clone_lead", group_id, thread_id, email)``) until this task's transaction
        ends: a check-then-write another task repeats for the same key waits its turn."""
        frame = self._frame()
        if frame is None:
            raise RuntimeError("Session.lock() is held by a transaction: call it inside one")
        await frame.conn.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", ":".join(map(str, key))
        )

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[asyncpg.Connection]:
        """A connection for reads: the transaction's if one is open, else a pooled one."""
        frame = self._frame()
        if frame is not None:
            yield frame.conn
        else:
            async with self._db.pool.acquire() as conn:
                await conn.execute(SET_GROUPS_SQL, self.groups, False)  # reset on release
                yield conn

"""A unit of work: one connection, one transaction, and the events emitted inside it.

Stores call :meth:`Session.transaction` around every write. Outside an explicit
transaction each store call commits on its own; inside ``ontology.transaction(scope)``
they share one. Events are handed to the bus only after the commit that wrote them, and
are dropped with a rollback, so a subscriber never sees a change that did not happen.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager

import asyncpg

from core.db import Database
from core.ontology.records import Event

Dispatcher = Callable[[Sequence[Event]], Awaitable[None]]


class Session:
    def __init__(self, db: Database, dispatch: Dispatcher) -> None:
        self._db = db
        self._dispatch = dispatch
        self._conn: asyncpg.Connection | None = None
        self.emitted: list[Event] = []

    @property
    def in_transaction(self) -> bool:
        return self._conn is not None

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[asyncpg.Connection]:
        """Yield a connection inside a transaction; nested calls join the outer one."""
        if self._conn is not None:
            yield self._conn
            return
        try:
            async with self._db.pool.acquire() as conn, conn.transaction():
                self._conn = conn
                try:
                    yield conn
                finally:
                    self._conn = None
        except BaseException:
            self.emitted.clear()
            raise
        committed, self.emitted = self.emitted, []
        if committed:
            await self._dispatch(committed)

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[asyncpg.Connection]:
        """A connection for reads: the transaction's if one is open, else a pooled one."""
        if self._conn is not None:
            yield self._conn
        else:
            async with self._db.pool.acquire() as conn:
                yield conn

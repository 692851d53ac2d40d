"""The event bus and the outbox relay: committed events reach every subscriber at least once.

Events are written by ``events.emit`` in the same transaction as the change they describe,
together with a row in ``event_outbox`` (the transactional outbox). After the commit the
emitting process *drains* its events: in-process handlers run, durable handlers are
enqueued as arq jobs (job id ``<event id>:<handler>``, so a second enqueue is dropped),
the events are appended to their group's Redis Stream (the live stream,
``core.streams``), and the outbox rows are deleted in one statement. A process killed
between commit and drain leaves its rows behind; :class:`OutboxRelay` (running in every
app process and worker) claims rows older than a grace period with ``FOR UPDATE SKIP
LOCKED`` — and all of them at start-up — and delivers them the same way. Delivery is
therefore at-least-once: handlers get ``ctx.idempotency_key`` to recognise a repeat.

A handler that raises is logged, counted, and recorded in ``event_failures`` (in-process
handlers at once; durable ones after their last try); it never stops the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

import msgspec

from core.metrics import EVENT_HANDLER_FAILURES, EVENT_LAG, EVENTS_RELAYED
from core.ontology.records import Event
from core.ontology.scope import Scope
from core.streams import append_events

if TYPE_CHECKING:
    import redis.asyncio as aioredis

    from core.jobs import JobRegistry
    from core.ontology.stores import Ontology, ScopedOntology
    from core.settings import Settings

log = logging.getLogger("creator.events")

ANY_EVENT = "*"
#: The arq function that runs one durable handler on one event.
HANDLER_JOB = "creator.event_handler"
#: Most characters of an error kept in ``event_failures``.
MAX_ERROR_CHARS = 4000

_encode = msgspec.json.Encoder().encode


@dataclass(frozen=True)
class HandlerContext:
    """What a handler gets beside the event: stores scoped to the event's group (as the
    system), the plugin that registered it, and ``idempotency_key`` —
    ``"<event id>:<handler>"``, the same on every delivery of this event to this handler,
    so a handler with outside effects can skip one it has already done. ``attempt`` is 1
    on the first try of a durable handler, 2 on its first retry, and so on."""

    event: Event
    ontology: ScopedOntology
    plugin: str
    idempotency_key: str = ""
    attempt: int = 1


Handler = Callable[[Event, HandlerContext], Awaitable[None]]


@dataclass(frozen=True)
class EventHandler:
    """Run ``handler(event, ctx)`` for every committed event of type ``event_type``.

    In-process (the default), it runs in the emitting process right after the commit.
    ``durable=True`` runs it as an arq job in a worker instead, retried with exponential
    backoff (``job_max_tries`` tries in all) and recorded as failed after the last one.
    """

    event_type: str
    handler: Handler
    name: str = ""
    durable: bool = False

    @property
    def qualified_name(self) -> str:
        return self.name or getattr(self.handler, "__qualname__", repr(self.handler))


def handler_key(plugin: str, handler: EventHandler) -> str:
    """The handler's name in job ids, idempotency keys and ``event_failures``."""
    return f"{plugin}.{handler.qualified_name}"


class EventFailure(msgspec.Struct):
    """A handler that gave up on an event (after its last try, for a durable one)."""

    group_id: UUID
    event_id: UUID
    event_type: str
    handler: str
    error: str
    attempts: int
    failed_at: datetime


@dataclass
class _Wiring:
    redis: aioredis.Redis
    jobs: JobRegistry
    settings: Settings


class EventBus:
    """Handlers by event type, and the delivery of committed events to them."""

    def __init__(self) -> None:
        self._handlers: dict[str, list[tuple[str, EventHandler]]] = {}
        self._by_key: dict[str, tuple[str, EventHandler]] = {}
        self._ontology: Ontology | None = None
        self._wiring: _Wiring | None = None
        #: Handler runs that raised in this process (in-process and durable).
        self.failures = 0

    def bind(self, ontology: Ontology) -> None:
        self._ontology = ontology

    def connect(self, redis: aioredis.Redis, jobs: JobRegistry, settings: Settings) -> None:
        """Give the bus what durable handlers and the live stream need (at start-up)."""
        self._wiring = _Wiring(redis, jobs, settings)

    def add(self, plugin: str, handler: EventHandler) -> None:
        self._handlers.setdefault(handler.event_type, []).append((plugin, handler))
        self._by_key[handler_key(plugin, handler)] = (plugin, handler)

    def handlers_for(self, event_type: str) -> list[tuple[str, EventHandler]]:
        return self._handlers.get(event_type, []) + self._handlers.get(ANY_EVENT, [])

    def handler(self, key: str) -> tuple[str, EventHandler] | None:
        return self._by_key.get(key)

    def by_plugin(self, plugin: str) -> list[str]:
        return sorted(
            f"{h.event_type} -> {h.qualified_name}{' (durable)' if h.durable else ''}"
            for handlers in self._handlers.values()
            for owner, h in handlers
            if owner == plugin
        )

    # -- delivery -------------------------------------------------------------------------

    async def dispatch(self, events: Sequence[Event]) -> None:
        """Drain events the caller's transaction just committed: deliver them, then delete
        their outbox rows. Never raises: the change is committed whatever happens here,
        and what could not be delivered stays in the outbox for the relay."""
        if self._ontology is None or not events:
            return
        try:
            await self.deliver(events)
        except Exception:
            log.exception("delivering %d event(s) failed; the outbox relay will retry", len(events))
            return
        try:
            await self._ack(events)
        except Exception:
            log.exception("deleting %d outbox row(s) failed; expect a redelivery", len(events))

    async def deliver(self, events: Sequence[Event]) -> None:
        """Run in-process handlers, enqueue durable ones, append to the live stream.

        Raises only if enqueueing or appending failed (Redis unreachable): the caller
        keeps the outbox rows then. In-process handler failures are recorded, not raised.
        """
        now = time.time()
        durable: list[tuple[Event, str]] = []
        in_process: list[tuple[str, EventHandler, Event]] = []
        for event in events:
            EVENT_LAG.observe(max(0.0, now - event.occurred_at.timestamp()))
            EVENTS_RELAYED.labels(event.type).inc()
            for plugin, handler in self.handlers_for(event.type):
                if handler.durable:
                    durable.append((event, handler_key(plugin, handler)))
                else:
                    in_process.append((plugin, handler, event))
        # Redis first: if it is down this raises before any in-process handler ran, so the
        # relay's retries do not run those handlers again and again.
        if self._wiring is not None:
            for event, key in durable:
                await self._wiring.jobs.enqueue_handler(event, key)
            # After the commit, so the stream's order is the order of delivery: an event
            # committed late lands after the ones a client has already seen.
            batches: dict[UUID, list[tuple[str, str, bytes]]] = {}
            for event in events:
                batches.setdefault(event.group_id, []).append(
                    (str(event.id), event.type, _encode(event))
                )
            await append_events(
                self._wiring.redis, batches, self._wiring.settings.stream_retention_events
            )
        for plugin, handler, event in in_process:
            await self._run_in_process(plugin, handler, event)

    async def _run_in_process(self, plugin: str, handler: EventHandler, event: Event) -> None:
        assert self._ontology is not None
        key = handler_key(plugin, handler)
        scoped = self._ontology.scoped(Scope.system(event.group_id))
        ctx = HandlerContext(event, scoped, plugin, f"{event.id}:{key}")
        try:
            await handler.handler(event, ctx)
        except Exception as exc:
            self.failures += 1
            EVENT_HANDLER_FAILURES.labels(key).inc()
            log.exception(
                "event handler %s of plugin %r failed on %s %s",
                handler.qualified_name,
                plugin,
                event.type,
                event.id,
            )
            with contextlib.suppress(Exception):
                await self.record_failure(event, key, exc, attempts=1)

    async def run_durable(self, key: str, event: Event, attempt: int) -> None:
        """Run one durable handler (called by the worker's job). Raises what it raises."""
        assert self._ontology is not None
        found = self.handler(key)
        if found is None:
            raise LookupError(f"no event handler {key!r} in this process's enabled plugins")
        plugin, handler = found
        scoped = self._ontology.scoped(Scope.system(event.group_id))
        ctx = HandlerContext(event, scoped, plugin, f"{event.id}:{key}", attempt)
        try:
            await handler.handler(event, ctx)
        except Exception:
            self.failures += 1
            EVENT_HANDLER_FAILURES.labels(key).inc()
            raise

    async def record_failure(
        self, event: Event, key: str, error: BaseException | str, *, attempts: int
    ) -> None:
        """Record (or update) the dead letter of ``key`` on ``event``."""
        assert self._ontology is not None
        text = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
        async with self._ontology.db.system() as conn:  # handlers fail in any group
            await conn.execute(
                "INSERT INTO event_failures (group_id, event_id, handler, event_type, error, "
                "attempts) VALUES ($1, $2, $3, $4, $5, $6) "
                "ON CONFLICT (group_id, event_id, handler) DO UPDATE SET error = EXCLUDED.error, "
                "attempts = EXCLUDED.attempts, failed_at = now()",
                event.group_id,
                event.id,
                key,
                event.type,
                text[:MAX_ERROR_CHARS],
                attempts,
            )

    async def _ack(self, events: Sequence[Event]) -> None:
        assert self._ontology is not None
        groups = list({event.group_id for event in events})
        async with self._ontology.db.system() as conn:  # a batch may span groups
            await conn.execute(ACK_OUTBOX_SQL, groups, [e.id for e in events])


#: Delete the outbox rows of delivered events: $1 their groups, $2 their ids.
ACK_OUTBOX_SQL = (
    "DELETE FROM event_outbox WHERE group_id = ANY($1::uuid[]) AND event_id = ANY($2::uuid[])"
)

EVENT_COLUMNS_E = "e.id, e.group_id, e.type, e.actor_id, e.target_id, e.payload, e.occurred_at"

#: Claim (delete, inside the relay's transaction) up to $2 outbox rows older than $1
#: seconds, skipping rows another relay holds, and return their events oldest first.
CLAIM_SQL = f"""
WITH claimed AS (
    DELETE FROM event_outbox WHERE (group_id, event_id) IN (
        SELECT group_id, event_id FROM event_outbox
        WHERE created_at <= now() - make_interval(secs => $1)
        ORDER BY created_at LIMIT $2 FOR UPDATE SKIP LOCKED
    ) RETURNING group_id, event_id
)
SELECT {EVENT_COLUMNS_E} FROM claimed c
JOIN events e ON e.group_id = c.group_id AND e.id = c.event_id
ORDER BY e.id
"""


class OutboxRelay:
    """Delivers events whose emitting process died before it could (its outbox rows).

    ``relay_once`` claims a batch in a transaction and delivers it before committing the
    claim, so a relay that dies mid-way leaves the rows for the next one. ``run`` relays
    everything at start-up, then every ``relay_interval_seconds`` the rows older than
    ``relay_grace_seconds`` (younger ones belong to a live process still draining).
    """

    def __init__(self, bus: EventBus, ontology: Ontology, settings: Settings) -> None:
        self.bus = bus
        self.ontology = ontology
        self.settings = settings
        self.relayed = 0

    async def relay_once(self, *, older_than: float, batch: int = 500) -> int:
        # The relay serves every group: it says so to row-level security.
        async with self.ontology.db.system() as conn, conn.transaction():
            rows = await conn.fetch(CLAIM_SQL, float(older_than), batch)
            events = [Event(**row) for row in rows]
            if events:
                await self.bus.deliver(events)
        self.relayed += len(events)
        if events:
            log.info("relayed %d event(s) left in the outbox", len(events))
        return len(events)

    async def relay_all(self, *, older_than: float = 0.0, batch: int = 500) -> int:
        total = 0
        while True:
            count = await self.relay_once(older_than=older_than, batch=batch)
            total += count
            if count < batch:
                return total

    async def run(self, stop: asyncio.Event) -> None:
        # Rows younger than the grace period may belong to a live process that is delivering
        # them right now, at start-up as much as later: taking them would deliver twice.
        while not stop.is_set():
            try:
                await self.relay_all(older_than=self.settings.relay_grace_seconds)
            except Exception:
                log.exception("outbox relay pass failed; retrying")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.settings.relay_interval_seconds)


async def list_failures(
    pool: Any, *, group_id: UUID | None = None, limit: int = 50
) -> list[EventFailure]:
    """Dead letters, newest first, of one group or (for operators) of all."""
    rows = await pool.fetch(
        "SELECT group_id, event_id, event_type, handler, error, attempts, failed_at "
        "FROM event_failures WHERE ($1::uuid IS NULL OR group_id = $1) "
        "ORDER BY failed_at DESC, event_id DESC, handler DESC LIMIT $2",
        group_id,
        limit,
    )
    return [EventFailure(**row) for row in rows]

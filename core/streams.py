"""Live event streams: each group's committed events in a Redis Stream, read by one hub
per process and fanned out to its clients.

**Order.** Event ids are UUIDv7, taken when an event is emitted, so a transaction that
commits late can carry a smaller id than events already delivered: "newer than the last
id" would miss it. Delivery (``core.events``) therefore appends each committed event,
after the commit, to the group's stream with :func:`append_events`; the entry id Redis
gives it is the commit-ordered sequence a client resumes from. The append is one Lua
script per group and batch: it skips an event already appended within the last
``stream_retention_events`` (the outbox relay delivers at least once), trims the stream to
about that many entries (remembering the last entry it trimmed, so a resume from before
it is told, never silently skipped), and publishes the newest entry id on the group's
channel as a wake-up.

**One reader per process.** :class:`StreamHub` holds one pattern subscription to every
group's wake-up channel (one connection) and reads, on each wake-up, the streams of the
groups that have clients here with one ``XREAD`` (non-blocking, on a small pool shared by
every stream of the process). A blocking ``XREAD`` over the groups would need its key
list rewritten, that is interrupted, whenever a client of a new group arrives; the
wake-ups need no such dance, and a poll every ``POLL_SECONDS`` covers a lost one. Each
entry is put on the bounded queue of every client of its group; a client whose queue is
full (a slow reader) is marked overflowed and its stream ends, so memory stays bounded,
and it resumes from the last id it got.

**Caps.** :class:`StreamSlots` counts open streams per person and per group in Redis
(sorted sets of slots scored by their expiry), shared by every process; the hub renews its
slots while their streams are open, so a killed process's slots expire on their own.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import redis.asyncio as aioredis

from core.errors import PlatformError
from core.ontology.ids import uuid7
from core.ontology.scope import Scope
from core.settings import Settings

log = logging.getLogger("creator.streams")

#: Redis channel of a group's wake-ups (the id of its newest stream entry).
CHANNEL_PREFIX = "creator:events:"
#: Connections of a hub: its subscription and the few its reads and slot updates share.
HUB_CONNECTIONS = 4
#: The hub's connections' name in Redis's ``CLIENT LIST``.
HUB_CLIENT_NAME = "creator-stream-hub"
#: Entries one ``XREAD`` or ``XRANGE`` of the hub returns at most.
READ_BATCH = 500
#: Seconds between reads of every group with clients, whether woken or not.
POLL_SECONDS = 1.0
#: How long a stream slot lives without renewal, and how often the hub renews its own.
SLOT_LEASE_SECONDS = 30.0
SLOT_RENEW_SECONDS = 10.0


def channel(group_id: UUID) -> str:
    return f"{CHANNEL_PREFIX}{group_id}"


def stream_key(group_id: UUID) -> str:
    # The braces hash a group's keys alike, as a script's keys must be on a Redis Cluster
    # (the hub's XREAD over many groups still assumes one Redis, as the platform does).
    return f"creator:stream:{{{group_id}}}"


def _trimmed_key(group_id: UUID) -> str:
    return f"{stream_key(group_id)}:trimmed"


def _recent_key(group_id: UUID) -> str:
    return f"{stream_key(group_id)}:recent"


class TooManyStreams(PlatformError):
    """A person or a group already has as many open event streams as the settings allow."""

    status = 429
    code = "too_many_streams"
    title = "Too many open event streams"


# -- positions --------------------------------------------------------------------------


def parse_position(value: str) -> tuple[int, int] | None:
    """``"<ms>-<seq>"`` (a stream entry id) as a tuple that orders as Redis does."""
    ms, dash, seq = value.partition("-")
    if not dash or not ms.isdigit() or not seq.isdigit():
        return None
    return int(ms), int(seq)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


# -- appending ----------------------------------------------------------------------------

#: KEYS: stream, recent event ids, last trimmed entry id. ARGV: retention, wake-up
#: channel, then (event id, event type, event JSON) per event. Returns the last new entry
#: id, or false if every event was already there.
_APPEND_LUA = """
local retention = tonumber(ARGV[1])
local last = false
for i = 3, #ARGV, 3 do
  if not redis.call('ZSCORE', KEYS[2], ARGV[i]) then
    last = redis.call('XADD', KEYS[1], '*', 'event', ARGV[i], 'type', ARGV[i + 1],
                      'data', ARGV[i + 2])
    redis.call('ZADD', KEYS[2], tonumber(string.match(last, '^%d+')), ARGV[i])
  end
end
if not last then return false end
redis.call('ZREMRANGEBYRANK', KEYS[2], 0, -retention - 1)
local excess = redis.call('XLEN', KEYS[1]) - retention
if excess >= math.max(1, math.floor(retention / 10)) then
  local cut = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', excess)
  redis.call('SET', KEYS[3], cut[#cut][1])
  redis.call('XTRIM', KEYS[1], 'MAXLEN', retention)
end
redis.call('PUBLISH', ARGV[2], last)
return last
"""


async def append_events(
    redis: aioredis.Redis,
    batches: dict[UUID, list[tuple[str, str, bytes]]],
    retention: int,
) -> None:
    """Append each group's ``(event id, type, JSON)`` triples to its stream, in order, in
    one round trip. Raises if Redis is unreachable (the caller keeps its outbox rows)."""
    script = redis.register_script(_APPEND_LUA)
    async with redis.pipeline(transaction=False) as pipe:
        for group_id, entries in batches.items():
            args: list[Any] = [retention, channel(group_id)]
            for event_id, event_type, data in entries:
                args += [event_id, event_type, data]
            keys = [stream_key(group_id), _recent_key(group_id), _trimmed_key(group_id)]
            await script(keys=keys, args=args, client=pipe)
        await pipe.execute()


# -- caps -----------------------------------------------------------------------------------

#: KEYS: the person's slots, the group's slots. ARGV: slot, lease seconds, person limit,
#: group limit. Redis's clock scores the slots, so processes need not agree on the time.
#: Returns 0 (taken), 1 (the person is at the limit) or 2 (the group is).
_ACQUIRE_LUA = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local lease = tonumber(ARGV[2])
for i, key in ipairs(KEYS) do
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
  if redis.call('ZCARD', key) >= tonumber(ARGV[2 + i]) then return i end
end
for _, key in ipairs(KEYS) do
  redis.call('ZADD', key, now + lease, ARGV[1])
  redis.call('EXPIRE', key, math.ceil(lease))
end
return 0
"""

#: KEYS: the slot's sorted sets. ARGV: slot, lease seconds. Extends a slot still held.
_RENEW_LUA = """
local clock = redis.call('TIME')
local until_ = tonumber(clock[1]) + tonumber(clock[2]) / 1000000 + tonumber(ARGV[2])
for _, key in ipairs(KEYS) do
  redis.call('ZADD', key, 'XX', until_, ARGV[1])
  redis.call('EXPIRE', key, math.ceil(tonumber(ARGV[2])))
end
return 0
"""


@dataclass(frozen=True)
class Slot:
    """One open stream, counted against its person and its group."""

    id: str
    keys: tuple[str, ...]


class StreamSlots:
    """Open streams per person and per group, counted in Redis across processes."""

    def __init__(
        self,
        redis: aioredis.Redis,
        *,
        per_person: int,
        per_group: int,
        lease_seconds: float = SLOT_LEASE_SECONDS,
    ) -> None:
        self.redis = redis
        self.per_person = per_person
        self.per_group = per_group
        self.lease_seconds = lease_seconds
        self._acquire = redis.register_script(_ACQUIRE_LUA)
        self._renew = redis.register_script(_RENEW_LUA)
        #: Slots of open streams of this process, renewed until released.
        self.held: dict[str, Slot] = {}

    async def acquire(self, scope: Scope) -> Slot:
        """Take a slot for a stream of ``scope``'s person in its group, or raise
        :class:`TooManyStreams`. The slot lives ``lease_seconds`` unless :meth:`hold`
        keeps it."""
        person = scope.person_id or scope.group_id
        keys = (f"creator:streams:person:{person}", f"creator:streams:group:{scope.group_id}")
        slot = Slot(str(uuid7()), keys)
        refused = await self._acquire(
            keys=list(keys),
            args=[slot.id, self.lease_seconds, self.per_person, self.per_group],
        )
        if refused == 1:
            raise TooManyStreams(
                f"you already have {self.per_person} open event streams; close one first",
                limit=self.per_person,
            )
        if refused == 2:
            raise TooManyStreams(
                f"this group already has {self.per_group} open event streams",
                limit=self.per_group,
            )
        return slot

    def hold(self, slot: Slot) -> None:
        """Renew ``slot`` with this process's other slots until :meth:`release`."""
        self.held[slot.id] = slot

    async def release(self, slot: Slot) -> None:
        self.held.pop(slot.id, None)
        async with self.redis.pipeline(transaction=False) as pipe:
            for key in slot.keys:
                pipe.zrem(key, slot.id)
            await pipe.execute()

    async def renew(self) -> None:
        async with self.redis.pipeline(transaction=False) as pipe:
            for slot in list(self.held.values()):
                args: list[str | float] = [slot.id, self.lease_seconds]
                await self._renew(keys=list(slot.keys), args=args, client=pipe)
            await pipe.execute()


# -- the hub ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """One stream entry: its id (the SSE ``id:``), the event's id, type and JSON."""

    id: str
    position: tuple[int, int]
    event_id: str
    type: str
    data: bytes


def _entry(entry_id: bytes | str, fields: dict[bytes, bytes]) -> Entry:
    text = _text(entry_id)
    position = parse_position(text)
    assert position is not None
    return Entry(text, position, _text(fields[b"event"]), _text(fields[b"type"]), fields[b"data"])


@dataclass(eq=False)
class StreamClient:
    """One open stream of the hub: the entries after ``start`` reach its ``queue`` until
    it overflows."""

    group_id: UUID
    start: str
    queue: asyncio.Queue[Entry]
    overflowed: bool = False


@dataclass(eq=False)
class _Group:
    clients: set[StreamClient] = field(default_factory=set)
    position: str = "0-0"
    ready: asyncio.Event = field(default_factory=asyncio.Event)


class StreamHub:
    """The process's one reader of the group streams (see the module's docstring).

    ``await hub.start(settings)`` in the app's lifespan; ``await hub.stop()`` after."""

    def __init__(self) -> None:
        self._redis: aioredis.Redis | None = None
        self._slots: StreamSlots | None = None
        self._settings: Settings | None = None
        self._groups: dict[UUID, _Group] = {}
        self._dirty: set[UUID] = set()
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._pubsub: Any = None

    @property
    def redis(self) -> aioredis.Redis:
        if self._redis is None:
            raise RuntimeError("the stream hub has not started")
        return self._redis

    @property
    def slots(self) -> StreamSlots:
        if self._slots is None:
            raise RuntimeError("the stream hub has not started")
        return self._slots

    @property
    def buffer(self) -> int:
        assert self._settings is not None
        return self._settings.stream_client_buffer_events

    async def start(self, settings: Settings) -> StreamHub:
        assert settings.redis_url
        self._settings = settings
        pool = aioredis.BlockingConnectionPool.from_url(
            settings.redis_url,
            max_connections=HUB_CONNECTIONS,
            timeout=None,
            client_name=HUB_CLIENT_NAME,
        )
        self._redis = aioredis.Redis(connection_pool=pool)
        self._slots = StreamSlots(
            self._redis,
            per_person=settings.stream_max_per_person,
            per_group=settings.stream_max_per_group,
        )
        self._wake = asyncio.Event()
        self._pubsub = self._redis.pubsub()
        await self._pubsub.psubscribe(f"{CHANNEL_PREFIX}*")
        self._tasks = [
            asyncio.create_task(self._listen(), name="stream-hub-listen"),
            asyncio.create_task(self._read(), name="stream-hub-read"),
            asyncio.create_task(self._renew(), name="stream-hub-renew"),
        ]
        return self

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks = []
        for group in self._groups.values():
            for client in group.clients:
                client.overflowed = True  # their streams end at their next read
        if self._pubsub is not None:
            with contextlib.suppress(Exception):
                await self._pubsub.aclose()
            self._pubsub = None
        if self._redis is not None:
            await self._redis.aclose()
            await self._redis.connection_pool.disconnect()
            self._redis = None

    # -- clients --------------------------------------------------------------------------

    async def join(self, group_id: UUID) -> StreamClient:
        """A new client of ``group_id``: every entry after ``client.start`` reaches its
        queue (the entries up to ``start`` are the caller's to replay)."""
        group = self._groups.get(group_id)
        if group is None:
            group = self._groups[group_id] = _Group()
            try:
                newest = await self.redis.xrevrange(stream_key(group_id), count=1)
            except BaseException:
                del self._groups[group_id]
                group.ready.set()
                raise
            group.position = _text(newest[0][0]) if newest else "0-0"
            group.ready.set()
            self._touch(group_id)  # wake-ups that came while reading are not lost
        else:
            await group.ready.wait()
            if self._groups.get(group_id) is not group:  # the first join failed
                return await self.join(group_id)
        client = StreamClient(group_id, group.position, asyncio.Queue(self.buffer))
        group.clients.add(client)
        return client

    def leave(self, client: StreamClient) -> None:
        group = self._groups.get(client.group_id)
        if group is None:
            return
        group.clients.discard(client)
        if not group.clients and group.ready.is_set():
            del self._groups[client.group_id]

    def stats(self) -> dict[str, int]:
        """Groups with clients here, clients, and clients overflowed (their streams are
        ending)."""
        clients = [client for group in self._groups.values() for client in group.clients]
        return {
            "groups": len(self._groups),
            "clients": len(clients),
            "overflowed": sum(client.overflowed for client in clients),
        }

    async def replay(self, group_id: UUID, after: str, until: str) -> AsyncIterator[list[Entry]]:
        """Entries after ``after`` up to ``until`` (both entry ids), a batch at a time."""
        key = stream_key(group_id)
        while True:
            raw = await self.redis.xrange(key, f"({after}", until, count=READ_BATCH)
            if not raw:
                return
            batch = [_entry(entry_id, fields) for entry_id, fields in raw]
            yield batch
            if len(raw) < READ_BATCH:
                return
            after = batch[-1].id

    async def trimmed_after(self, group_id: UUID, after: tuple[int, int]) -> bool:
        """Whether entries after ``after`` were trimmed away (the client missed them)."""
        trimmed = await self.redis.get(_trimmed_key(group_id))
        if trimmed is None:
            return False
        last_trimmed = parse_position(_text(trimmed))
        return last_trimmed is not None and last_trimmed > after

    # -- the reader -------------------------------------------------------------------------

    def _touch(self, group_id: UUID) -> None:
        self._dirty.add(group_id)
        self._wake.set()

    async def _listen(self) -> None:
        prefix = CHANNEL_PREFIX.encode()
        while True:
            try:
                message = await self._pubsub.get_message(
                    ignore_subscribe_messages=True, timeout=POLL_SECONDS
                )
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("stream hub lost its subscription; reconnecting")
                await asyncio.sleep(POLL_SECONDS)
                continue
            if message is None or message["type"] != "pmessage":
                continue
            name: bytes = message["channel"]
            with contextlib.suppress(ValueError):
                group_id = UUID(name[len(prefix) :].decode())
                if group_id in self._groups:
                    self._touch(group_id)

    async def _read(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), POLL_SECONDS)
            if not self._wake.is_set():
                self._dirty.update(self._groups)  # the poll: a wake-up may have been lost
            self._wake.clear()
            ready = {g: self._groups[g] for g in self._dirty if g in self._groups}
            ready = {g: group for g, group in ready.items() if group.ready.is_set()}
            self._dirty -= set(ready)
            if not ready:
                continue
            try:
                answer = await self.redis.xread(
                    {stream_key(g): group.position for g, group in ready.items()},
                    count=READ_BATCH,
                )
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("stream hub could not read; retrying")
                self._dirty.update(ready)
                await asyncio.sleep(POLL_SECONDS)
                continue
            by_key = {stream_key(g): g for g in ready}
            for key, raw in answer or []:
                group_id = by_key[_text(key)]
                self._fan_out(ready[group_id], [_entry(i, f) for i, f in raw])
                if len(raw) >= READ_BATCH:
                    self._touch(group_id)

    def _fan_out(self, group: _Group, entries: list[Entry]) -> None:
        for client in group.clients:
            if client.overflowed:
                continue
            for entry in entries:
                try:
                    client.queue.put_nowait(entry)
                except asyncio.QueueFull:
                    client.overflowed = True  # a slow reader: its stream ends, it resumes
                    break
        group.position = entries[-1].id

    async def _renew(self) -> None:
        while True:
            await asyncio.sleep(SLOT_RENEW_SECONDS)
            try:
                await self.slots.renew()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("stream hub could not renew its stream slots; retrying")

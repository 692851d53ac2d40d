"""Fixtures for the event bus tests: a plugin with in-process and durable handlers, a
platform running a job worker in-process, and a server-sent-events reader that drives the
ASGI app directly (httpx's ASGITransport buffers whole responses, so it cannot read a
stream that never ends)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import msgspec
import pytest
import pytest_asyncio

from core.ontology.records import Event
from core.ontology.stores import Ontology
from sdk import EventHandler, EventType, HandlerContext, hookimpl
from sdk.testing import CreatorPlatform, PlatformFactory, Tenant

PLUGIN = "evt"


class Ping(msgspec.Struct):
    n: int = 0


class EventsPlugin:
    """``ping``, ``doom`` and ``note`` events; handlers that record (every event), fail,
    or fail for a while."""

    def __init__(self) -> None:
        self.seen: list[Event] = []  # every event, in-process
        self.keys: list[str] = []  # idempotency keys the recorder got
        self.flaky_attempts: list[tuple[UUID, int, str]] = []
        self.flaky_done: list[UUID] = []
        self.steady: list[UUID] = []
        self.doomed: list[int] = []
        self.stalled: list[int] = []  # tries of the handler that hangs on its first try

    async def record(self, event: Event, ctx: HandlerContext) -> None:
        self.seen.append(event)
        self.keys.append(ctx.idempotency_key)

    async def boom(self, event: Event, ctx: HandlerContext) -> None:
        raise RuntimeError(f"boom on {event.payload['n']}")

    async def flaky(self, event: Event, ctx: HandlerContext) -> None:
        self.flaky_attempts.append((event.id, ctx.attempt, ctx.idempotency_key))
        if ctx.attempt < 3:
            raise ConnectionError(f"try {ctx.attempt} failed")
        self.flaky_done.append(event.id)

    async def steady_handler(self, event: Event, ctx: HandlerContext) -> None:
        self.steady.append(event.id)

    async def stall(self, event: Event, ctx: HandlerContext) -> None:
        self.stalled.append(ctx.attempt)
        if ctx.attempt == 1:
            await asyncio.sleep(30)  # far past the job timeout: the try is cut short

    async def doom(self, event: Event, ctx: HandlerContext) -> None:
        self.doomed.append(ctx.attempt)
        raise ValueError("this handler never works")

    @hookimpl
    def register_event_types(self) -> list[EventType]:
        return [
            EventType("ping", Ping),
            EventType("doom", Ping),
            EventType("note", Ping),
            EventType("stall", Ping),
        ]

    @hookimpl
    def register_event_handlers(self) -> list[EventHandler]:
        return [
            EventHandler("*", self.record, name="record"),
            EventHandler("ping", self.boom, name="boom"),
            EventHandler("ping", self.flaky, name="flaky", durable=True),
            EventHandler("doom", self.doom, name="doom", durable=True),
            EventHandler("doom", self.steady_handler, name="steady", durable=True),
            EventHandler("stall", self.stall, name="stall", durable=True),
        ]


@pytest.fixture
def events_plugin() -> EventsPlugin:
    return EventsPlugin()


#: Settings of the test platforms: quick retries and heartbeats; a relay that leaves
#: young outbox rows alone long enough for a test to look at them.
FAST = {
    "job_retry_base_seconds": 0.02,
    "job_max_tries": 3,
    "relay_interval_seconds": 0.2,
    "relay_grace_seconds": 60.0,
    "stream_heartbeat_seconds": 0.3,
    "worker_poll_delay_seconds": 0.02,
    "job_timeout_seconds": 1.0,
}


@pytest_asyncio.fixture
async def evt(
    creator_platform_factory: PlatformFactory, events_plugin: EventsPlugin
) -> CreatorPlatform:
    """The platform with the ``evt`` plugin and a job worker in-process."""
    return await creator_platform_factory(
        plugins=[PLUGIN], extra_plugins={PLUGIN: events_plugin}, worker=True, **FAST
    )


@pytest_asyncio.fixture
async def alice(evt: CreatorPlatform) -> Tenant:
    """A person owning a group on ``evt``."""
    return await evt.tenant()


@pytest.fixture
def settings_fast() -> dict[str, Any]:
    return dict(FAST)


async def _no_dispatch(events: Sequence[Event]) -> None:
    """A dispatcher that never runs: what a process killed right after its commit does."""


@pytest.fixture
def crashed_ontology(evt: CreatorPlatform) -> Ontology:
    """Stores whose commits are never followed by a dispatch: their events stay in the
    outbox, as if the emitting process had died after the commit."""
    platform = evt.platform
    return Ontology(platform.db, platform.registry, _no_dispatch)


# -- server-sent events straight from the ASGI app ---------------------------------------


@dataclass
class SSEMessage:
    id: str | None = None
    event: str | None = None
    data: str | None = None
    comment: str | None = None

    def json(self) -> Any:
        assert self.data is not None
        return msgspec.json.decode(self.data)


@dataclass
class SSEStream:
    app: Any
    path: str
    headers: list[tuple[bytes, bytes]]
    query: bytes = b""
    status: int | None = None
    _started: asyncio.Event = field(default_factory=asyncio.Event)
    _disconnect: asyncio.Event = field(default_factory=asyncio.Event)
    _chunks: asyncio.Queue[bytes] = field(default_factory=asyncio.Queue)
    _buffer: str = ""
    _task: asyncio.Task[None] | None = None
    #: Cleared, the client stops reading (the app's ``send`` waits): a slow client.
    flowing: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self.flowing.set()

    async def _receive(self) -> dict[str, Any]:
        if not hasattr(self, "_sent_request"):
            self._sent_request = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await self._disconnect.wait()
        return {"type": "http.disconnect"}

    async def _send(self, message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            self._started.set()
        elif message["type"] == "http.response.body":
            await self.flowing.wait()
            if message.get("body"):
                self._chunks.put_nowait(message["body"])
            if not message.get("more_body", False):
                # The app ended the response: a server then tells it the client is gone.
                self._disconnect.set()

    async def __aenter__(self) -> SSEStream:
        scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": self.path,
            "raw_path": self.path.encode(),
            "root_path": "",
            "query_string": self.query,
            "headers": [(b"host", b"testserver.local"), *self.headers],
            "client": ("127.0.0.1", 50000),
            "server": ("testserver.local", 80),
            "state": {},
        }
        self._task = asyncio.ensure_future(self.app(scope, self._receive, self._send))
        await asyncio.wait_for(self._started.wait(), 10)
        assert self.status == 200, self.status
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._disconnect.set()
        assert self._task is not None
        try:
            await asyncio.wait_for(self._task, 10)
        except TimeoutError:
            self._task.cancel()
            raise

    async def next(self, within: float = 10.0, *, comments: bool = False) -> SSEMessage:
        """The next message (skipping keep-alive comments unless ``comments``)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while True:
            for sep in ("\r\n\r\n", "\n\n"):
                if sep in self._buffer:
                    frame, self._buffer = self._buffer.split(sep, 1)
                    message = _parse(frame)
                    if message.comment is not None and not comments:
                        break
                    return message
            else:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    raise AssertionError("no server-sent event in time")
                chunk = await asyncio.wait_for(self._chunks.get(), remaining)
                self._buffer += chunk.decode()
                continue

    async def closed(self, within: float = 10.0) -> bool:
        """Whether the app ended the response within ``within`` seconds."""
        try:
            await asyncio.wait_for(self._disconnect.wait(), within)
        except TimeoutError:
            return False
        return True

    async def rest(self) -> list[SSEMessage]:
        """The events (not comments) already received and not read yet."""
        got = []
        while not self._chunks.empty():
            self._buffer += self._chunks.get_nowait().decode()
        for frame in self._buffer.replace("\r\n", "\n").split("\n\n"):
            if frame.strip() and not frame.startswith(":"):
                got.append(_parse(frame))
        self._buffer = ""
        return got

    async def events(self, count: int, within: float = 10.0) -> list[SSEMessage]:
        return [await self.next(within) for _ in range(count)]

    async def nothing_for(self, seconds: float) -> list[SSEMessage]:
        """Events (not comments) that arrive within ``seconds``: expected none."""
        got = []
        try:
            while True:
                got.append(await self.next(seconds))
        except (AssertionError, TimeoutError):
            return got


def _parse(frame: str) -> SSEMessage:
    message = SSEMessage()
    for line in frame.replace("\r\n", "\n").split("\n"):
        if line.startswith(":"):
            message.comment = line[1:].strip()
            continue
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "data":
            message.data = value if message.data is None else f"{message.data}\n{value}"
        elif name in ("id", "event"):
            setattr(message, name, value)
    return message


@pytest.fixture
def sse() -> Callable[..., SSEStream]:
    """``async with sse(platform, tenant, last_event_id=None) as stream: await stream.next()``"""

    def open_stream(
        cp: CreatorPlatform, tenant: Tenant, last_event_id: str | None = None
    ) -> SSEStream:
        headers = [(b"authorization", f"Bearer {tenant.token}".encode())]
        if last_event_id is not None:
            headers.append((b"last-event-id", last_event_id.encode()))
        return SSEStream(cp.app, tenant.url("/events/stream"), headers)

    return open_stream


@pytest_asyncio.fixture
async def outbox_count(evt: CreatorPlatform) -> AsyncIterator[Callable[..., Any]]:
    async def count() -> int:
        async with evt.platform.db.system() as conn:  # every group's rows
            return int(await conn.fetchval("SELECT count(*) FROM event_outbox"))

    yield count

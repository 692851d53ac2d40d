"""The event bus: handlers registered by plugins, run after the emitting transaction commits.

Events are written by ``events.emit`` in the same transaction as the change they describe
(the transactional outbox); this module hands committed events to in-process handlers.
A failing handler is logged and does not stop the others.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from core.ontology.records import Event
from core.ontology.scope import Scope

if TYPE_CHECKING:
    from core.ontology.stores import Ontology, ScopedOntology

log = logging.getLogger("creator.events")

ANY_EVENT = "*"


@dataclass(frozen=True)
class HandlerContext:
    """What a handler gets beside the event: stores scoped to the event's group."""

    event: Event
    ontology: ScopedOntology
    plugin: str


Handler = Callable[[Event, HandlerContext], Awaitable[None]]


@dataclass(frozen=True)
class EventHandler:
    """Run ``handler(event, ctx)`` for every committed event of type ``event_type``."""

    event_type: str
    handler: Handler
    name: str = ""

    @property
    def qualified_name(self) -> str:
        return self.name or getattr(self.handler, "__qualname__", repr(self.handler))


class EventBus:
    def __init__(self) -> None:
        self._handlers: dict[str, list[tuple[str, EventHandler]]] = {}
        self._ontology: Ontology | None = None
        self.failures = 0

    def bind(self, ontology: Ontology) -> None:
        self._ontology = ontology

    def add(self, plugin: str, handler: EventHandler) -> None:
        self._handlers.setdefault(handler.event_type, []).append((plugin, handler))

    def handlers_for(self, event_type: str) -> list[tuple[str, EventHandler]]:
        return self._handlers.get(event_type, []) + self._handlers.get(ANY_EVENT, [])

    def by_plugin(self, plugin: str) -> list[str]:
        return sorted(
            f"{h.event_type} -> {h.qualified_name}"
            for handlers in self._handlers.values()
            for owner, h in handlers
            if owner == plugin
        )

    async def dispatch(self, events: Sequence[Event]) -> None:
        if self._ontology is None:
            return
        for event in events:
            for plugin, handler in self.handlers_for(event.type):
                scoped = self._ontology.scoped(Scope.system(event.group_id))
                try:
                    await handler.handler(event, HandlerContext(event, scoped, plugin))
                except Exception:
                    self.failures += 1
                    log.exception(
                        "event handler %s of plugin %r failed on %s %s",
                        handler.qualified_name, plugin, event.type, event.id,
                    )  # fmt: skip

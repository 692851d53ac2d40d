"""Fixtures shared by the core tests: a small plugin that registers thing, connection and
event types, and a platform started with it.

Test modules do not import from each other (pytest runs with ``--import-mode=importlib``),
so the plugin lives here and reaches the tests through fixtures.
"""

from __future__ import annotations

import msgspec
import pytest
import pytest_asyncio

from sdk import (
    PERSON,
    ConnectionType,
    Event,
    EventHandler,
    EventType,
    HandlerContext,
    ThingType,
    hookimpl,
)
from sdk.testing import CreatorPlatform, PlatformFactory, Tenant

TYPES_PLUGIN = "testtypes"


class Dimensions(msgspec.Struct):
    width: float
    height: float = 1.0


class ProductProps(msgspec.Struct):
    sku: str
    price_cents: int = 0
    currency: str = "USD"
    featured: bool = False
    tags: list[str] = msgspec.field(default_factory=list)
    dimensions: Dimensions | None = None


class ContainsMeta(msgspec.Struct):
    position: int = 0


class BoughtMeta(msgspec.Struct, forbid_unknown_fields=True):
    price_cents: int = 0


class ViewedPayload(msgspec.Struct):
    source: str = "web"


class TestTypes:
    """Types for the core tests: products in collections, free-form notes. Records every
    event the bus hands it in ``seen`` (handlers run only after a commit)."""

    def __init__(self) -> None:
        self.seen: list[Event] = []

    async def _record(self, event: Event, ctx: HandlerContext) -> None:
        self.seen.append(event)

    @hookimpl
    def register_event_handlers(self) -> list[EventHandler]:
        return [EventHandler("*", self._record, name="record")]

    @hookimpl
    def register_thing_types(self) -> list[ThingType]:
        return [
            ThingType(
                "product",
                ProductProps,
                description="Something for sale",
                statuses=("draft", "published", "archived"),
            ),
            ThingType("collection", description="A set of products"),
            ThingType("note"),
        ]

    @hookimpl
    def register_connection_types(self) -> list[ConnectionType]:
        return [
            ConnectionType(
                "contains", from_types=("collection",), to_types=("product",), metadata=ContainsMeta
            ),
            ConnectionType("related", unique=False),
            # A person's end: a customer bought a product; a note is assigned to a product
            # or to a member; a product is made by a member.
            ConnectionType(
                "bought", from_types=(PERSON,), to_types=("product",), metadata=BoughtMeta
            ),
            ConnectionType("assigned", from_types=("note",), to_types=("product", PERSON)),
            ConnectionType("made_by", from_types=("product",), to_types=(PERSON,)),
        ]

    @hookimpl
    def register_event_types(self) -> list[EventType]:
        return [EventType("product_viewed", ViewedPayload)]


@pytest.fixture
def types_plugin() -> TestTypes:
    return TestTypes()


@pytest_asyncio.fixture
async def typed_platform(
    creator_platform_factory: PlatformFactory, types_plugin: TestTypes
) -> CreatorPlatform:
    """The core platform (no installed plugins) plus the ``testtypes`` plugin."""
    return await creator_platform_factory(
        plugins=[TYPES_PLUGIN], extra_plugins={TYPES_PLUGIN: types_plugin}
    )


@pytest_asyncio.fixture
async def owner(typed_platform: CreatorPlatform) -> Tenant:
    """A person owning a fresh group on ``typed_platform``."""
    return await typed_platform.tenant()

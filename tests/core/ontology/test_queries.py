"""Sorted listings, range filters and aggregates on real PostgreSQL: sorting by a time or a
property with keyset pages, ranges on times, numbers and text, counts, sums and
percentiles grouped by property and by UTC day, week and month, events by actor and time,
tenancy, and refused field names."""

from __future__ import annotations

import statistics
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest

from core.errors import ValidationFailed
from core.ontology.scope import Scope
from core.ontology.stores import ScopedOntology
from sdk import AggregateRow, Bucket, Metric, Range, bucket
from sdk.testing import CreatorPlatform, Tenant


@pytest.fixture
def o(typed_platform: CreatorPlatform, owner: Tenant) -> ScopedOntology:
    return typed_platform.ontology(owner)


async def _all_pages(list_page: Any, **filters: Any) -> list[Any]:
    items: list[Any] = []
    cursor = None
    for _ in range(100):
        page = await list_page(cursor=cursor, **filters)
        items += page.items
        cursor = page.next_cursor
        if cursor is None:
            return items
        assert page.items
    raise AssertionError("pagination does not end")


async def _move(platform: CreatorPlatform, ids: list[UUID], at: datetime) -> None:
    """Set the creation time of things (or the time of events) to ``at``."""
    async with platform.platform.db.system() as conn:
        await conn.execute(
            "UPDATE things SET created_at = $2, updated_at = $2 WHERE id = ANY($1::uuid[])",
            ids,
            at,
        )
        await conn.execute("UPDATE events SET occurred_at = $2 WHERE id = ANY($1::uuid[])", ids, at)


async def _products(o: ScopedOntology, prices: list[int | None]) -> list[UUID]:
    ids = []
    for n, price in enumerate(prices):
        props: dict[str, Any] = {"sku": f"sku-{n:02d}"}
        if price is not None:
            props["price_cents"] = price
        ids.append((await o.things.create("product", name=f"p{n}", properties=props)).id)
    return ids


async def test_sorted_by_a_property_with_pages(o: ScopedOntology) -> None:
    prices = [500, 100, 300, 100, 900, 200, 300, 700, 100, 600, 800, 400]
    await _products(o, prices)
    await o.things.create("note", name="unsorted")  # no price: sorts as null

    up = await _all_pages(o.things.list, type="product", order_by="properties.price_cents", limit=5)
    assert [t.properties["price_cents"] for t in up] == sorted(prices)
    equal = [t.id for t in up if t.properties["price_cents"] == 100]
    assert equal == sorted(equal)  # ties by id, in the order's direction

    down = await _all_pages(
        o.things.list, type="product", order_by="-properties.price_cents", limit=3
    )
    assert [t.properties["price_cents"] for t in down] == sorted(prices, reverse=True)
    assert len({t.id for t in down}) == len(prices)

    everything = await _all_pages(o.things.list, order_by="properties.price_cents", limit=4)
    assert everything[0].name == "unsorted"  # a missing property sorts first ascending
    named = await _all_pages(o.things.list, type="product", order_by="name", limit=5)
    assert [t.name for t in named] == sorted(f"p{n}" for n in range(len(prices)))
    texts = await _all_pages(o.things.list, type="product", order_by="-properties.sku", limit=5)
    assert [t.properties["sku"] for t in texts] == sorted(
        (f"sku-{n:02d}" for n in range(len(prices))), reverse=True
    )


async def test_sorted_by_time_with_pages(
    typed_platform: CreatorPlatform, o: ScopedOntology
) -> None:
    ids = await _products(o, [1, 2, 3, 4, 5, 6, 7])
    base = datetime(2026, 1, 1, tzinfo=UTC)
    for n, thing_id in enumerate(ids):  # creation order reversed, two at one instant
        await _move(typed_platform, [thing_id], base - timedelta(days=min(n, 5)))
    oldest = await _all_pages(o.things.list, order_by="created_at", limit=2)
    times = [t.created_at for t in oldest]
    assert times == sorted(times) and len(oldest) == 7
    newest = await _all_pages(o.things.list, order_by="-created_at", limit=3)
    assert [t.id for t in newest] == [t.id for t in reversed(oldest)]

    await o.things.update(ids[-1], name="touched")
    [latest] = (await o.things.list(order_by="-updated_at", limit=1)).items
    assert latest.id == ids[-1]


async def test_a_cursor_belongs_to_its_order(o: ScopedOntology) -> None:
    await _products(o, [1, 2, 3])
    page = await o.things.list(order_by="properties.price_cents", limit=1)
    assert page.next_cursor is not None
    for order_by, cursor in (
        ("-properties.price_cents", page.next_cursor),
        ("created_at", page.next_cursor),
        ("properties.price_cents", "garbage"),
        ("properties.price_cents", "W10"),
    ):
        with pytest.raises(ValidationFailed) as caught:
            await o.things.list(order_by=order_by, cursor=cursor, limit=1)
        assert caught.value.field == "cursor"


async def test_ranges(typed_platform: CreatorPlatform, o: ScopedOntology) -> None:
    ids = await _products(o, [100, 250, 400, 999, None])  # p4's price is the default, 0
    await o.things.create("note", name="text price", properties={"price_cents": "cheap"})
    await o.things.create("note", name="no price")
    old = datetime(2025, 6, 1, tzinfo=UTC)
    await _move(typed_platform, ids[:2], old)

    async def names(**filters: Any) -> list[str]:
        return sorted(t.name for t in await _all_pages(o.things.list, **filters))

    assert await names(ranges={"properties.price_cents": (250, 999)}) == ["p1", "p2"]
    assert await names(ranges={"properties.price_cents": Range(low=400)}) == ["p2", "p3"]
    assert await names(ranges={"properties.price_cents": Range(high=250.5)}) == ["p0", "p1", "p4"]
    assert await names(ranges={"properties.sku": ("sku-01", "sku-03")}) == ["p1", "p2"]
    assert await names(until=old + timedelta(days=1)) == ["p0", "p1"]
    assert await names(since=old + timedelta(days=1), type="product") == ["p2", "p3", "p4"]
    assert await names(ranges={"updated_at": Range(high=old + timedelta(seconds=1))}) == [
        "p0",
        "p1",
    ]
    assert await names(missing=["price_cents"]) == ["no price"]
    assert await names(ranges={"properties.price_cents": ("a", "d")}) == ["text price"]
    both = await names(ranges={"properties.price_cents": (0, 1000)}, since=old + timedelta(days=1))
    assert both == ["p2", "p3", "p4"]


async def test_bad_fields_are_refused(o: ScopedOntology) -> None:
    refused: list[tuple[str, Any]] = [
        ("order_by", o.things.list(order_by="properties.price; DROP TABLE things")),
        ("order_by", o.things.list(order_by="id")),
        ("order_by", o.things.list(order_by="price_cents")),
        ("order_by", o.things.list(order_by="properties.")),
        ("ranges", o.things.list(ranges={"properties.a-b": (1, 2)})),
        ("ranges", o.things.list(ranges={"properties.price_cents": (1, "z")})),
        ("ranges", o.things.list(ranges={"created_at": (1, 2)})),
        ("ranges", o.things.list(ranges={"payload.x": (1, 2)})),
        ("missing", o.things.list(missing=["it's"])),
        ("group_by", o.things.aggregate([Metric.count()], group_by=["properties.1x"])),
        ("group_by", o.things.aggregate([Metric.count()], group_by=[Bucket("day", "name")])),
        ("metrics", o.things.aggregate([Metric.sum("properties.a b")])),
        ("metrics", o.things.aggregate([Metric.sum("created_at")])),
        ("metrics", o.things.aggregate([])),
        ("metrics", o.things.aggregate([Metric.count(), Metric.count()])),
        ("order_by", o.things.aggregate([Metric.count()], order_by=["-nothing"])),
        ("limit", o.things.aggregate([Metric.count()], limit=0)),
        ("metrics", o.things.aggregate([Metric("evil(", "x", "properties.a")])),  # type: ignore[arg-type]
        ("metrics", o.things.aggregate([Metric("percentile", "x", "properties.a", 2.0)])),
        ("group_by", o.events.aggregate([Metric.count()], group_by=["properties.x"])),
    ]
    for field, call in refused:
        with pytest.raises(ValidationFailed) as caught:
            await call
        assert caught.value.field == field
        assert caught.value.status == 422
    with pytest.raises(ValidationFailed):
        Metric.percentile("properties.x", 1.5)
    with pytest.raises(ValidationFailed):
        bucket("year")  # type: ignore[arg-type]


async def test_metrics_grouped_by_property(o: ScopedOntology) -> None:
    prices = {"USD": [100, 200, 300, 400], "EUR": [50, 150], "GBP": []}
    for currency, amounts in prices.items():
        for n, amount in enumerate(amounts):
            await o.things.create(
                "product",
                name=f"{currency}{n}",
                properties={
                    "sku": f"{currency}-{n % 2}",
                    "currency": currency,
                    "price_cents": amount,
                    "featured": n == 0,
                },
            )
    await o.things.create("product", name="free", properties={"sku": "x", "currency": "GBP"})
    await o.things.create("note", name="no price")  # not a number: left out

    rows = await o.things.aggregate(
        [
            Metric.count(),
            Metric.count_distinct("properties.sku", name="skus"),
            Metric.sum("properties.price_cents", name="total"),
            Metric.avg("properties.price_cents", name="mean"),
            Metric.min("properties.price_cents", name="cheapest"),
            Metric.max("properties.price_cents", name="dearest"),
            Metric.percentile("properties.price_cents", 0.5, name="median"),
            Metric.percentile("properties.price_cents", 0.9, name="p90"),
            Metric.count(where={"featured": True}, name="featured"),
            Metric.max("created_at", name="newest"),
            Metric.most_common("name", name="a_name"),
        ],
        type="product",
        group_by=["properties.currency"],
        order_by=["-total"],
    )
    assert all(isinstance(r, AggregateRow) for r in rows)
    by_currency = {r.key: r.values for r in rows}
    assert list(by_currency) == [("USD",), ("EUR",), ("GBP",)]
    usd = by_currency[("USD",)]
    assert (usd["count"], usd["skus"], usd["total"], usd["mean"]) == (4, 2, 1000, 250)
    assert (usd["cheapest"], usd["dearest"], usd["median"]) == (100, 400, 250)
    assert usd["p90"] == pytest.approx(
        statistics.quantiles([100, 200, 300, 400], n=10, method="inclusive")[-1]
    )
    assert usd["featured"] == 1 and isinstance(usd["newest"], datetime)
    assert usd["a_name"] in {"USD0", "USD1", "USD2", "USD3"}
    gbp = by_currency[("GBP",)]
    assert (gbp["count"], gbp["total"], gbp["median"], gbp["featured"]) == (1, 0, 0, 0)
    await o.things.create("note", name="a text price", properties={"price_cents": "cheap"})

    [whole] = await o.things.aggregate([Metric.count(), Metric.sum("properties.price_cents")])
    assert whole.key == () and whole.values == {"count": 9, "sum(properties.price_cents)": 1200}
    two = await o.things.aggregate(
        [Metric.count()], group_by=["type", "properties.currency"], limit=2
    )
    assert [r.key for r in two] == [("note", None), ("product", "EUR")]
    [none] = await o.things.aggregate([Metric.count(), Metric.avg("properties.x")], type="nope")
    assert none.values == {"count": 0, "avg(properties.x)": None}


async def test_buckets_across_month_boundaries(
    typed_platform: CreatorPlatform, o: ScopedOntology
) -> None:
    # Saturday 2026-01-31 23:30 UTC, Sunday 2026-02-01 00:30, Tuesday 2026-02-03, and
    # Sunday 2026-03-01 00:00 exactly; two products at the first instant.
    times = [
        datetime(2026, 1, 31, 23, 30, tzinfo=UTC),
        datetime(2026, 1, 31, 23, 30, tzinfo=UTC),
        datetime(2026, 2, 1, 0, 30, tzinfo=UTC),
        datetime(2026, 2, 3, 12, 0, tzinfo=UTC),
        datetime(2026, 3, 1, 0, 0, tzinfo=UTC),
    ]
    ids = await _products(o, [10, 20, 30, 40, 50])
    for thing_id, at in zip(ids, times, strict=True):
        await _move(typed_platform, [thing_id], at)

    async def counts(unit: str) -> list[tuple[datetime, int, float]]:
        rows = await o.things.aggregate(
            [Metric.count(), Metric.sum("properties.price_cents", name="total")],
            type="product",
            group_by=[bucket(unit)],  # type: ignore[arg-type]
        )
        return [(r.key[0], r.values["count"], r.values["total"]) for r in rows]

    def at(*parts: int) -> datetime:
        return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]

    assert await counts("day") == [
        (at(2026, 1, 31), 2, 30),
        (at(2026, 2, 1), 1, 30),
        (at(2026, 2, 3), 1, 40),
        (at(2026, 3, 1), 1, 50),
    ]
    assert await counts("week") == [  # weeks start on Monday
        (at(2026, 1, 26), 3, 60),
        (at(2026, 2, 2), 1, 40),
        (at(2026, 2, 23), 1, 50),
    ]
    assert await counts("month") == [
        (at(2026, 1, 1), 2, 30),
        (at(2026, 2, 1), 2, 70),
        (at(2026, 3, 1), 1, 50),
    ]
    [(day, _, _)] = (await counts("day"))[:1]
    assert day.utcoffset() == timedelta(0)

    february = await o.things.aggregate(
        [Metric.count()],
        group_by=[bucket("month"), "properties.sku"],
        since=at(2026, 2, 1),
        until=at(2026, 3, 1),
        order_by=["-count"],
    )
    assert [r.key for r in february] == [(at(2026, 2, 1), "sku-02"), (at(2026, 2, 1), "sku-03")]


async def test_events_by_actor_and_time(
    typed_platform: CreatorPlatform, owner: Tenant, o: ScopedOntology
) -> None:
    colleague = await typed_platform.member(owner, "org_user")
    theirs = typed_platform.ontology(colleague)
    for source in ("web", "web", "app"):
        await o.events.emit("product_viewed", {"source": source})
    their_event = await theirs.events.emit("product_viewed", {"source": "app"})
    old = await theirs.events.emit("product_viewed", {"source": "mail"})
    await _move(typed_platform, [old.id], datetime(2026, 1, 5, tzinfo=UTC))

    mine = await _all_pages(o.events.list, actor_id=owner.person.id, type="product_viewed")
    assert [e.payload["source"] for e in mine] == ["app", "web", "web"]
    recent = await o.events.list(
        actor_id=colleague.person.id, since=datetime(2026, 2, 1, tzinfo=UTC)
    )
    assert [e.id for e in recent.items] == [their_event.id]
    january = await o.events.list(
        since=datetime(2026, 1, 1, tzinfo=UTC), until=datetime(2026, 2, 1, tzinfo=UTC)
    )
    assert [e.id for e in january.items] == [old.id]

    rows = await o.events.aggregate(
        [
            Metric.count(),
            Metric.count_distinct("payload.source", name="sources"),
            Metric.max("occurred_at", name="last"),
        ],
        type="product_viewed",
        group_by=["actor_id"],
        order_by=["-count"],
    )
    assert [(r.key, r.values["count"], r.values["sources"]) for r in rows] == [
        ((owner.person.id,), 3, 2),
        ((colleague.person.id,), 2, 2),
    ]
    by_source = await o.events.aggregate(
        [Metric.count()],
        type="product_viewed",
        actor_id=colleague.person.id,
        group_by=["payload.source", bucket("month")],
    )
    assert [(r.key[0], r.key[1].month, r.values["count"]) for r in by_source] == [
        ("app", datetime.now(UTC).month, 1),
        ("mail", 1, 1),
    ]
    web = await o.events.aggregate(
        [Metric.count()],
        where={"source": "web"},
        missing=["nothing"],
        since=datetime(2026, 2, 1, tzinfo=UTC),
    )
    assert web[0].values["count"] == 2


async def test_another_groups_rows_are_never_counted(
    typed_platform: CreatorPlatform, owner: Tenant, o: ScopedOntology
) -> None:
    other = await typed_platform.tenant()
    theirs = typed_platform.ontology(other)
    await _products(o, [100])
    await _products(theirs, [1000, 2000])
    await theirs.events.emit("product_viewed", {"source": "web"})

    [mine] = await o.things.aggregate(
        [Metric.count(), Metric.sum("properties.price_cents", name="total")], type="product"
    )
    assert (mine.values["count"], mine.values["total"]) == (1, 100)
    views = await o.events.aggregate([Metric.count()], type="product_viewed")
    assert views[0].values["count"] == 0
    listed = await o.things.list(order_by="-properties.price_cents")
    assert [t.properties["price_cents"] for t in listed.items] == [100]
    # Their cursor, used here, pages through our group only.
    page = await theirs.things.list(order_by="-properties.price_cents", limit=1)
    assert page.next_cursor is not None
    after = await o.things.list(order_by="-properties.price_cents", cursor=page.next_cursor)
    assert [t.group_id for t in after.items] == [owner.group.id]
    # A scope of another group sees nothing of ours, even as the system.
    system = typed_platform.ontology(Scope.system(other.group.id))
    [counted] = await system.things.aggregate([Metric.count()], type="product")
    assert counted.values["count"] == 2

"""Quotas: plugins declare per-plan limits (``register_quotas``); services check them with
``platform.quotas.check``; ``GET /api/v1/groups/{id}/quotas`` reports usage.

The plugin below is a miniature website plugin: sites per group (a thing count), pages per
site (``contains`` connections from the site), uploads per month (an event count) and a
custom usage function, with routes that create through the check-then-insert pattern.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import msgspec
import pytest
from litestar import Response, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from core.platform import Platform
from core.quotas import QuotaDeclarationError, UnknownQuota, period_start
from core.settings import load_settings
from sdk import (
    ConnectionCount,
    ConnectionType,
    EventCount,
    EventType,
    Quota,
    QuotaContext,
    QuotaExceeded,
    Scope,
    ThingCount,
    ThingType,
    hookimpl,
)
from sdk.testing import CreatorPlatform, PlatformFactory, Tenant, assert_problem

PLUGIN = "quotatest"


class Upload(msgspec.Struct):
    size: int = 0


class NewSite(msgspec.Struct):
    name: str


async def _notes_usage(ctx: QuotaContext) -> int:
    """The escape hatch: any async computation of usage (here: through the stores)."""
    page = await ctx.ontology.things.list(type="note", limit=200)
    return len(page.items)


@post("/api/v1/quotatest/groups/{group_id:uuid}/sites", status_code=201)
async def create_site(
    group_id: FromPath[UUID],
    data: JSONBody[NewSite],
    group_scope: NamedDependency[Scope],
    platform: NamedDependency[Platform],
) -> dict[str, Any]:
    """The pattern services follow: check and insert in one transaction."""
    async with platform.ontology.transaction(group_scope) as o:
        await platform.quotas.check(group_scope, "sites", within=o)
        await asyncio.sleep(0.02)  # widen the window a check without a lock would lose
        site = await o.things.create("site", name=data.name)
    return {"id": str(site.id)}


@post("/api/v1/quotatest/groups/{group_id:uuid}/sites/{site_id:uuid}/pages", status_code=201)
async def create_page(
    group_id: FromPath[UUID],
    site_id: FromPath[UUID],
    data: JSONBody[NewSite],
    group_scope: NamedDependency[Scope],
    platform: NamedDependency[Platform],
) -> Response[dict[str, Any]]:
    async with platform.ontology.transaction(group_scope) as o:
        await o.things.get(site_id, type="site")
        await platform.quotas.check(group_scope, "pages", parent_id=site_id, within=o)
        page = await o.things.create("page", name=data.name)
        await o.connections.create("contains", site_id, page.id)
    return Response({"id": str(page.id)}, status_code=201)


class QuotaPlugin:
    @hookimpl
    def register_thing_types(self) -> list[ThingType]:
        return [ThingType("site"), ThingType("page"), ThingType("note")]

    @hookimpl
    def register_connection_types(self) -> list[ConnectionType]:
        return [ConnectionType("contains", from_types=("site",), to_types=("page",))]

    @hookimpl
    def register_event_types(self) -> list[EventType]:
        return [EventType("upload", Upload)]

    @hookimpl
    def register_quotas(self) -> list[Quota]:
        return [
            Quota("sites", {"free": 2, "pro": 10, "max": None}, "Sites", ThingCount("site")),
            Quota("pages", {"free": 3}, "Pages per site", ConnectionCount("contains", "page")),
            Quota("uploads", {"free": 2}, "Uploads a month", EventCount("upload", "month")),
            Quota("notes", {"free": 1}, "Notes", counts=_notes_usage),
        ]

    @hookimpl
    def register_routes(self) -> list[Any]:
        return [create_site, create_page]


@pytest.fixture
async def quota_platform(creator_platform_factory: PlatformFactory) -> CreatorPlatform:
    return await creator_platform_factory(plugins=[PLUGIN], extra_plugins={PLUGIN: QuotaPlugin()})


@pytest.fixture
async def creator(quota_platform: CreatorPlatform) -> Tenant:
    return await quota_platform.tenant()


def sites_url(tenant: Tenant) -> str:
    return f"/api/v1/quotatest/groups/{tenant.group.id}/sites"


async def test_hook_register_quotas(quota_platform: CreatorPlatform, creator: Tenant) -> None:
    assert quota_platform.platform.quotas.get("sites").limits["free"] == 2
    assert quota_platform.platform.quotas.plugin_of("sites") == PLUGIN
    for n in range(2):
        response = await creator.client.post(sites_url(creator), json={"name": f"s{n}"})
        assert response.status_code == 201, response.text
    response = await creator.client.post(sites_url(creator), json={"name": "one too many"})
    body = assert_problem(response, 429, "quota_exceeded")
    assert body["quota"] == "sites"
    assert body["limit"] == 2
    assert body["plan"] == "free"
    assert body["usage"] == 2
    assert "'sites'" in body["detail"] and "2" in body["detail"] and "free" in body["detail"]
    assert response.headers["x-request-id"]
    # nothing was created by the refused request
    listed = await quota_platform.ontology(creator).things.list(type="site")
    assert len(listed.items) == 2


async def test_concurrent_creates_do_not_both_take_the_last_slot(
    quota_platform: CreatorPlatform, creator: Tenant
) -> None:
    await quota_platform.ontology(creator).things.create("site", name="first")  # 1 of 2 left
    responses = await asyncio.gather(
        *(creator.client.post(sites_url(creator), json={"name": f"race {n}"}) for n in range(6))
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201, 429, 429, 429, 429, 429], [r.text for r in responses]
    listed = await quota_platform.ontology(creator).things.list(type="site")
    assert len(listed.items) == 2


async def test_deleted_things_free_their_slot_and_other_groups_do_not_count(
    quota_platform: CreatorPlatform, creator: Tenant
) -> None:
    other = await quota_platform.tenant()
    for n in range(2):
        await quota_platform.ontology(other).things.create("site", name=f"theirs {n}")
    quotas = quota_platform.platform.quotas
    usage = await quotas.check(creator.scope, "sites")
    assert (usage.usage, usage.limit, usage.remaining) == (0, 2, 2)
    stores = quota_platform.ontology(creator)
    first = await stores.things.create("site", name="a")
    await stores.things.create("site", name="b")
    with pytest.raises(QuotaExceeded):
        await quotas.check(creator.scope, "sites")
    await stores.things.delete(first.id)
    assert (await quotas.check(creator.scope, "sites")).usage == 1
    with pytest.raises(QuotaExceeded) as err:
        await quotas.check(creator.scope, "sites", adding=2)
    assert err.value.extra == {"quota": "sites", "limit": 2, "plan": "free", "usage": 1}


async def test_per_parent_quota_counts_connections_from_the_parent(
    quota_platform: CreatorPlatform, creator: Tenant
) -> None:
    stores = quota_platform.ontology(creator)
    site_a = await stores.things.create("site", name="a")
    site_b = await stores.things.create("site", name="b")
    pages_a = f"{sites_url(creator)}/{site_a.id}/pages"
    for n in range(3):
        response = await creator.client.post(pages_a, json={"name": f"p{n}"})
        assert response.status_code == 201, response.text
    body = assert_problem(
        await creator.client.post(pages_a, json={"name": "p4"}), 429, "quota_exceeded"
    )
    assert (body["quota"], body["limit"], body["usage"]) == ("pages", 3, 3)
    assert body["parent_id"] == str(site_a.id)
    # another site has its own allowance
    response = await creator.client.post(
        f"{sites_url(creator)}/{site_b.id}/pages", json={"name": "b1"}
    )
    assert response.status_code == 201
    # a deleted page ends its connection and frees the slot
    page_id = UUID(response.json()["id"])
    contains = await stores.connections.list(type="contains", from_id=site_a.id)
    await stores.things.delete(contains.items[0].to_id)
    assert (await creator.client.post(pages_a, json={"name": "again"})).status_code == 201
    assert page_id  # (site b's page is untouched)
    with pytest.raises(ValueError, match="parent_id"):
        await quota_platform.platform.quotas.check(creator.scope, "pages")


async def test_event_quota_counts_the_current_calendar_month(
    quota_platform: CreatorPlatform, creator: Tenant
) -> None:
    stores = quota_platform.ontology(creator)
    old = await stores.events.emit("upload", {"size": 1})
    last_month = period_start("month") - timedelta(days=1)
    async with quota_platform.platform.db.system() as conn:  # arrange history
        await conn.execute("UPDATE events SET occurred_at = $2 WHERE id = $1", old.id, last_month)
    quotas = quota_platform.platform.quotas
    assert (await quotas.check(creator.scope, "uploads")).usage == 0
    await stores.events.emit("upload", {"size": 2})
    await stores.events.emit("upload", {"size": 3})
    with pytest.raises(QuotaExceeded) as err:
        await quotas.check(creator.scope, "uploads")
    assert err.value.extra["usage"] == 2


def test_period_start() -> None:
    now = datetime(2026, 11, 24, 10, 40, 5, tzinfo=UTC)
    assert period_start("month", now) == datetime(2026, 11, 1, tzinfo=UTC)
    assert period_start("day", now) == datetime(2026, 11, 24, tzinfo=UTC)
    assert period_start("year", now) == datetime(2026, 1, 1, tzinfo=UTC)


async def test_custom_usage_function(quota_platform: CreatorPlatform, creator: Tenant) -> None:
    quotas = quota_platform.platform.quotas
    assert (await quotas.check(creator.scope, "notes")).remaining == 1
    await quota_platform.ontology(creator).things.create("note", name="n")
    with pytest.raises(QuotaExceeded):
        await quotas.check(creator.scope, "notes")


async def test_the_plan_comes_from_group_settings(
    quota_platform: CreatorPlatform, creator: Tenant
) -> None:
    directory = quota_platform.platform.directory
    quotas = quota_platform.platform.quotas
    pro = await directory.create_group(
        creator.person, slug="pro-co", name="P", settings={"plan": "pro"}
    )
    unlimited = await directory.create_group(
        creator.person, slug="max-co", name="M", settings={"plan": "max"}
    )
    unlisted = await directory.create_group(
        creator.person, slug="odd-co", name="O", settings={"plan": "enterprise"}
    )
    usage = await quotas.check(Scope.system(pro.id), "sites", adding=10)
    assert (usage.plan, usage.limit) == ("pro", 10)
    with pytest.raises(QuotaExceeded) as err:
        await quotas.check(Scope.system(pro.id), "sites", adding=11)
    assert err.value.extra["plan"] == "pro"
    for group in (unlimited, unlisted):
        usage = await quotas.check(Scope.system(group.id), "sites", adding=1000)
        assert usage.limit is None and usage.remaining is None
    with pytest.raises(UnknownQuota, match="'nope'"):
        await quotas.check(creator.scope, "nope")


async def test_quotas_api_reports_usage_and_limits(
    quota_platform: CreatorPlatform, creator: Tenant
) -> None:
    stores = quota_platform.ontology(creator)
    site = await stores.things.create("site", name="a")
    for n in range(2):
        page = await stores.things.create("page", name=f"p{n}")
        await stores.connections.create("contains", site.id, page.id)
    await stores.events.emit("upload", {"size": 1})
    response = await creator.client.get(creator.url("/quotas"))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["plan"] == "free" and body["group_id"] == str(creator.group.id)
    by_name = {q["name"]: q for q in body["quotas"]}
    assert set(by_name) == {"sites", "pages", "uploads", "notes"}
    assert (by_name["sites"]["usage"], by_name["sites"]["limit"]) == (1, 2)
    assert by_name["sites"]["remaining"] == 1
    assert by_name["pages"]["per_parent"] is True and by_name["pages"]["usage"] == 2
    assert (by_name["uploads"]["usage"], by_name["uploads"]["limit"]) == (1, 2)
    assert by_name["notes"]["usage"] == 0
    # members read it (group.read); strangers get 404, the anonymous 401
    customer = await quota_platform.member(creator, "customer")
    assert (await customer.client.get(creator.url("/quotas"))).status_code == 200
    stranger = await quota_platform.tenant()
    assert_problem(await stranger.client.get(creator.url("/quotas")), 404)
    assert_problem(await quota_platform.client.get(creator.url("/quotas")), 401)


# -- declarations -------------------------------------------------------------------------


class Duplicate:
    @hookimpl
    def register_quotas(self) -> list[Quota]:
        return [Quota("sites", {"free": 1}, counts=ThingCount("site"))]


class BadQuotas:
    def __init__(self, quota: Any) -> None:
        self.quota = quota

    @hookimpl
    def register_quotas(self) -> list[Any]:
        return [self.quota]


def _load(tmp_path: Path, **plugins: object) -> Platform:
    settings = load_settings(environ={}, data_dir=tmp_path, plugins=[])
    return Platform.load(settings, extra_plugins=plugins)


def test_duplicate_quota_names_stop_start_up_naming_both(tmp_path: Path) -> None:
    with pytest.raises(QuotaDeclarationError) as err:
        _load(tmp_path, quotatest=QuotaPlugin(), copycat=Duplicate())
    assert "'sites'" in str(err.value)
    assert "'quotatest'" in str(err.value) and "'copycat'" in str(err.value)


@pytest.mark.parametrize(
    ("quota", "message"),
    [
        (Quota("x", {"free": 1}), "must say what it counts"),
        (Quota("x", {"free": -1}, counts=ThingCount("site")), "non-negative"),
        (Quota("x", {"free": 1}, counts=ThingCount("spaceship")), "'spaceship'"),
        (Quota("x", {"free": 1}, counts=ConnectionCount("links")), "connection type 'links'"),
        (Quota("x", {"free": 1}, counts=EventCount("nope")), "event type 'nope'"),
        ("not a quota", "must return Quota objects"),
    ],
)
def test_bad_declarations_name_the_plugin(tmp_path: Path, quota: Any, message: str) -> None:
    with pytest.raises(QuotaDeclarationError, match=message) as err:
        _load(tmp_path, quotatest=QuotaPlugin(), broken=BadQuotas(quota))
    assert "'broken'" in str(err.value)


async def test_sub_groups_share_the_root_organisations_allowance(
    quota_platform: CreatorPlatform, creator: Tenant
) -> None:
    """Sub-groups do not multiply an allowance: sites of the root and of every sub-group
    count together against the root's plan."""
    directory = quota_platform.platform.directory
    quotas = quota_platform.platform.quotas
    child = await directory.create_group(
        creator.person, slug="root-child", name="C", parent_id=creator.group.id
    )
    grandchild = await directory.create_group(
        creator.person, slug="root-grandchild", name="G", parent_id=child.id
    )
    await quota_platform.ontology(creator).things.create("site", name="root's")
    child_scope = Scope(group_id=child.id, person_id=creator.person.id, role="org_owner")
    response = await creator.client.post(
        f"/api/v1/quotatest/groups/{child.id}/sites", json={"name": "child's"}
    )
    assert response.status_code == 201, response.text
    for group in (child, grandchild):
        with pytest.raises(QuotaExceeded) as err:
            await quotas.check(Scope.system(group.id), "sites")
        assert err.value.extra["usage"] == 2
    body = assert_problem(
        await creator.client.post(
            f"/api/v1/quotatest/groups/{grandchild.id}/sites", json={"name": "one too many"}
        ),
        429,
        "quota_exceeded",
    )
    assert body["usage"] == 2
    # the sub-group's own plan does not lift it: the root's plan applies
    async with quota_platform.platform.db.system() as conn:
        await conn.execute(
            'UPDATE groups SET settings = \'{"plan": "max"}\'::jsonb WHERE id = $1', child.id
        )
    with pytest.raises(QuotaExceeded):
        await quotas.check(child_scope, "sites")
    report = await quotas.usage(child_scope)
    sites = next(q for q in report.quotas if q.name == "sites")
    assert (sites.usage, sites.plan) == (2, "free")
    # another organisation's sites never count
    other = await quota_platform.tenant()
    assert (await quotas.check(other.scope, "sites")).usage == 0


async def test_a_quota_may_count_each_group_on_its_own(
    creator_platform_factory: PlatformFactory,
) -> None:
    class PerGroup(QuotaPlugin):
        @hookimpl
        def register_quotas(self) -> list[Quota]:
            return [Quota("sites", {"free": 1}, "Sites", ThingCount("site"), counted_at="group")]

    cp = await creator_platform_factory(plugins=[PLUGIN], extra_plugins={PLUGIN: PerGroup()})
    creator = await cp.tenant()
    child = await cp.platform.directory.create_group(
        creator.person, slug="own-child", name="C", parent_id=creator.group.id
    )
    await cp.ontology(creator).things.create("site", name="root's")
    with pytest.raises(QuotaExceeded):
        await cp.platform.quotas.check(creator.scope, "sites")
    assert (await cp.platform.quotas.check(Scope.system(child.id), "sites")).usage == 0

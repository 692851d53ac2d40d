"""``platform.usage``: hosted calls metered per root organisation and UTC month against
the monthly budget settings, refused before the call once spent, and admitted atomically
so concurrent calls overshoot by at most one call's estimate."""

from __future__ import annotations

import asyncio

import pytest

from core.usage import BudgetExhausted, estimate_tokens, month_of
from sdk.testing import PlatformFactory


async def test_record_check_and_the_refusal(creator_platform_factory: PlatformFactory) -> None:
    cp = await creator_platform_factory(plugins=[], hosted_llm_tokens_per_month=100)
    usage = cp.platform.usage
    tenant = await cp.tenant()
    group = tenant.group.id
    report = await usage.check(group, "llm_tokens")
    assert (report.used, report.budget, report.remaining) == (0, 100, 100)
    assert report.month == month_of()
    assert await usage.record(group, "llm_tokens", 60, provider="openai", model="m") == 60
    assert (await usage.check(group, "llm_tokens")).remaining == 40
    await usage.record(group, "llm_tokens", 40, provider="openai", model="m")
    with pytest.raises(BudgetExhausted) as err:
        await usage.check(group, "llm_tokens")
    assert err.value.status == 402 and err.value.code == "budget_exhausted"
    assert err.value.extra == {
        "kind": "llm_tokens",
        "budget": 100,
        "used": 100,
        "month": month_of(),
    }
    assert "hosted_llm_tokens_per_month" in err.value.detail
    with pytest.raises(BudgetExhausted):
        async with usage.metered(group, "llm_tokens", estimate=1):
            raise AssertionError("a refused call is never made")
    # the embedding budget is its own (0: no limit)
    assert (await usage.check(group, "embedding_tokens")).budget is None
    # another organisation has its own month
    other = await cp.tenant()
    assert (await usage.check(other.group.id, "llm_tokens")).used == 0


async def test_metered_counts_what_the_call_reports_else_the_estimate(
    creator_platform_factory: PlatformFactory,
) -> None:
    cp = await creator_platform_factory(plugins=[], hosted_llm_tokens_per_month=1000)
    usage = cp.platform.usage
    group = (await cp.tenant()).group.id
    async with usage.metered(group, "llm_tokens", estimate=300) as meter:
        assert (await usage.report(group, "llm_tokens")).used == 300  # held while it runs
        meter.used = 120
    assert (await usage.report(group, "llm_tokens")).used == 120
    async with usage.metered(group, "llm_tokens", estimate=50):
        pass
    assert (await usage.report(group, "llm_tokens")).used == 170
    with pytest.raises(RuntimeError):  # a call that fails before reporting costs nothing
        async with usage.metered(group, "llm_tokens", estimate=500):
            raise RuntimeError("unreachable API")
    assert (await usage.report(group, "llm_tokens")).used == 170
    assert estimate_tokens("x" * 40) == 10


async def test_concurrent_calls_overshoot_by_at_most_one_estimate(
    creator_platform_factory: PlatformFactory,
) -> None:
    cp = await creator_platform_factory(plugins=[], hosted_llm_tokens_per_month=1000)
    usage = cp.platform.usage
    group = (await cp.tenant()).group.id
    admitted = 0

    async def call() -> None:
        nonlocal admitted
        try:
            async with usage.metered(group, "llm_tokens", estimate=300):
                admitted += 1
                await asyncio.sleep(0.01)
        except BudgetExhausted:
            pass

    await asyncio.gather(*(call() for _ in range(20)))
    used = (await usage.report(group, "llm_tokens")).used
    assert admitted == 4 and used == 1200  # 3 fit, the 4th saw 900 < 1000
    assert used < 1000 + 300


async def test_sub_groups_spend_the_root_organisations_budget(
    creator_platform_factory: PlatformFactory,
) -> None:
    cp = await creator_platform_factory(plugins=[], hosted_embedding_tokens_per_month=10)
    usage = cp.platform.usage
    tenant = await cp.tenant()
    child = await cp.platform.directory.create_group(
        tenant.person, slug="usage-child", name="C", parent_id=tenant.group.id
    )
    await usage.record(child.id, "embedding_tokens", 10)
    report = await usage.report(tenant.group.id, "embedding_tokens")
    assert (report.root_group_id, report.used) == (tenant.group.id, 10)
    with pytest.raises(BudgetExhausted):
        await usage.check(tenant.group.id, "embedding_tokens")
    with pytest.raises(BudgetExhausted):
        await usage.check(child.id, "embedding_tokens")


async def test_no_budget_means_no_limit(creator_platform_factory: PlatformFactory) -> None:
    cp = await creator_platform_factory(plugins=[])
    group = (await cp.tenant()).group.id
    async with cp.platform.usage.metered(group, "llm_tokens", estimate=10**9):
        pass
    assert (await cp.platform.usage.check(group, "llm_tokens")).budget is None
    with pytest.raises(ValueError, match="unknown usage kind"):
        await cp.platform.usage.check(group, "gpu_seconds")  # type: ignore[arg-type]

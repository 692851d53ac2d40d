"""Handlers: in-process ones after the commit, durable ones as arq jobs with retries and
backoff, one failing never blocking the others, dead letters visible in the API and CLI."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys

from core.metrics import EVENT_HANDLER_FAILURES, EVENTS_RELAYED
from sdk.testing import CreatorPlatform, Tenant, wait_until


def _failed(tenant: Tenant):
    return tenant.client.get(tenant.url("/events/failed"))


async def test_a_failing_in_process_handler_blocks_nothing_and_is_recorded(
    evt: CreatorPlatform, alice: Tenant, events_plugin
) -> None:
    relayed = EVENTS_RELAYED.labels("ping")._value.get()
    failures = EVENT_HANDLER_FAILURES.labels("evt.boom")._value.get()
    event = await evt.ontology(alice).events.emit("ping", {"n": 5})
    # boom raised; the recorder still ran, at once, and the durable handler was enqueued
    assert [e.id for e in events_plugin.seen] == [event.id]
    assert evt.platform.bus.failures >= 1
    assert EVENTS_RELAYED.labels("ping")._value.get() == relayed + 1
    assert EVENT_HANDLER_FAILURES.labels("evt.boom")._value.get() >= failures + 1
    r = await _failed(alice)
    assert r.status_code == 200, r.text
    (failure,) = r.json()["items"]
    assert failure["event_id"] == str(event.id) and failure["handler"] == "evt.boom"
    assert failure["attempts"] == 1 and failure["error"] == "RuntimeError: boom on 5"
    assert failure["event_type"] == "ping" and failure["group_id"] == str(alice.group.id)
    await wait_until(lambda: event.id in events_plugin.flaky_done)


async def test_durable_handler_retries_with_the_same_idempotency_key(
    evt: CreatorPlatform, alice: Tenant, events_plugin
) -> None:
    event = await evt.ontology(alice).events.emit("ping", {"n": 1})
    await wait_until(lambda: events_plugin.flaky_done == [event.id])
    key = f"{event.id}:evt.flaky"
    assert events_plugin.flaky_attempts == [
        (event.id, 1, key),
        (event.id, 2, key),
        (event.id, 3, key),
    ]
    # it succeeded in the end: not a dead letter
    assert [f["handler"] for f in (await _failed(alice)).json()["items"]] == ["evt.boom"]


async def test_a_durable_handler_that_hangs_is_retried_not_lost(
    evt: CreatorPlatform, alice: Tenant, events_plugin
) -> None:
    await evt.ontology(alice).events.emit("stall", {"n": 1})
    await wait_until(lambda: events_plugin.stalled == [1, 2])  # timed out, then tried again
    assert [f["handler"] for f in (await _failed(alice)).json()["items"]] == []


async def test_redelivery_of_an_event_enqueues_its_durable_handlers_once(
    evt: CreatorPlatform, alice: Tenant, events_plugin
) -> None:
    event = await evt.ontology(alice).events.emit("doom", {"n": 1})
    await evt.platform.bus.deliver([event])  # as a relay would after a crash
    await evt.platform.bus.deliver([event])
    await wait_until(lambda: len(events_plugin.doomed) == 3)  # three tries, for one job
    await wait_until(lambda: events_plugin.steady == [event.id])
    assert len(events_plugin.seen) == 3  # in-process handlers are at-least-once


async def test_a_handler_that_never_works_is_dead_lettered_after_its_last_try(
    evt: CreatorPlatform, alice: Tenant, events_plugin
) -> None:
    other = await evt.tenant()
    event = await evt.ontology(alice).events.emit("doom", {"n": 9})

    async def dead() -> list[dict]:
        return (await _failed(alice)).json()["items"]

    await wait_until(dead)
    (failure,) = await dead()
    assert failure["event_id"] == str(event.id)
    assert failure["handler"] == "evt.doom"
    assert failure["attempts"] == 3 and failure["error"] == "ValueError: this handler never works"
    assert events_plugin.doomed == [1, 2, 3]
    assert events_plugin.steady == [event.id]  # the other durable handler was not held up

    # another group sees none of it
    r = await _failed(other)
    assert r.status_code == 200 and r.json()["items"] == []
    # a customer may not read events
    customer = await evt.member(alice, "customer")
    assert (await _failed(customer)).status_code == 403

    # operators see it from the command line
    env = {
        "CREATOR_DATABASE_URL": evt.settings.database_url,
        "CREATOR_REDIS_URL": evt.settings.redis_url,
        "CREATOR_PLUGINS": "",
        "CREATOR_MIGRATE_ON_START": "false",
    }

    async def creator(*args: str) -> subprocess.CompletedProcess[str]:
        return await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "core.cli", *args],
            capture_output=True,
            text=True,
            env={**os.environ, **env},
            timeout=60,
        )

    result = await creator("events", "failed", "--json")
    assert result.returncode == 0, result.stderr
    (row,) = json.loads(result.stdout)
    assert row["event_id"] == str(event.id) and row["attempts"] == 3
    human = await creator("events", "failed", "--group", str(alice.group.id))
    assert "handler evt.doom gave up after 3 attempt(s): ValueError" in human.stdout
    empty = await creator("events", "failed", "--group", str(other.group.id))
    assert empty.stdout.strip() == "No failed events."


async def test_failed_list_pages(evt: CreatorPlatform, alice: Tenant, events_plugin) -> None:
    for n in range(5):
        await evt.ontology(alice).events.emit("ping", {"n": n})  # boom fails on each
    seen, cursor = [], None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        body = (await alice.client.get(alice.url("/events/failed"), params=params)).json()
        seen += [item["error"] for item in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == [f"RuntimeError: boom on {n}" for n in reversed(range(5))]
    r = await alice.client.get(alice.url("/events/failed"), params={"cursor": "nonsense!"})
    assert r.status_code == 422

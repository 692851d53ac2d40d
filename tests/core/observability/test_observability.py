"""Request ids, structured logs, the access log and the Prometheus ``/metrics`` endpoint."""

from __future__ import annotations

import json
import logging
from typing import Any

import httpx
import pytest
from litestar import get

from core.logs import JsonFormatter, RequestIdFilter, TextFormatter, request_id_var
from core.settings import SettingsError, load_settings
from sdk import hookimpl
from sdk.testing import CreatorPlatform, PlatformFactory, Tenant, assert_problem

ROUTE = "/api/v1/groups/{group_id}/things"


@get("/api/v1/obstest/log", sync_to_thread=False)
def log_something() -> dict[str, str | None]:
    logging.getLogger("creator.obstest").info("inside the handler", extra={"answer": 42})
    return {"request_id": request_id_var.get()}


class LoggingPlugin:
    @hookimpl
    def register_routes(self) -> list[Any]:
        return [log_something]


@pytest.fixture
async def core_platform(creator_platform_factory: PlatformFactory) -> CreatorPlatform:
    return await creator_platform_factory(plugins=[])


# -- request ids --------------------------------------------------------------------------


async def test_request_id_round_trip(core_platform: CreatorPlatform) -> None:
    client = core_platform.client
    response = await client.get("/health", headers={"X-Request-ID": "req-abc.123:x"})
    assert response.headers["x-request-id"] == "req-abc.123:x"
    generated = (await client.get("/health")).headers["x-request-id"]
    assert len(generated) == 32 and int(generated, 16) >= 0
    assert generated != (await client.get("/health")).headers["x-request-id"]


@pytest.mark.parametrize("bad", ["has space", "x" * 129, "semi;colon", "ünï"])
async def test_an_insane_request_id_is_replaced(core_platform: CreatorPlatform, bad: str) -> None:
    response = await core_platform.client.get(
        "/health", headers={"X-Request-ID": bad.encode("utf-8")}
    )
    assert response.headers["x-request-id"] != bad
    assert len(response.headers["x-request-id"]) == 32


async def test_errors_carry_the_request_id_too(core_platform: CreatorPlatform) -> None:
    client = core_platform.client
    headers = {"X-Request-ID": "err-1"}
    for path, status in (("/no/such/path", 404), ("/api/v1/me", 401)):
        response = await client.get(path, headers=headers)
        assert_problem(response, status)
        assert response.headers["x-request-id"] == "err-1"
    response = await client.delete("/health", headers=headers)  # no such method
    assert response.status_code == 405 and response.headers["x-request-id"] == "err-1"


async def test_handlers_see_the_request_id(creator_platform_factory: PlatformFactory) -> None:
    harness = await creator_platform_factory(plugins=[], extra_plugins={"obs": LoggingPlugin()})
    response = await harness.client.get("/api/v1/obstest/log", headers={"X-Request-ID": "ctx-7"})
    assert response.json() == {"request_id": "ctx-7"}
    assert request_id_var.get() is None  # reset after the request


# -- metrics ------------------------------------------------------------------------------


def _samples(text: str, name: str) -> dict[str, float]:
    return {
        line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith(name)
    }


async def test_metrics_histogram_labels_routes_by_template(
    typed_platform: CreatorPlatform, owner: Tenant
) -> None:
    for n in range(3):
        created = await owner.client.post(
            owner.url("/things"), json={"type": "note", "name": f"n{n}"}
        )
        assert created.status_code == 201
        assert (await owner.client.get(owner.url("/things"))).status_code == 200
    await owner.client.get(owner.url(f"/things/{created.json()['id']}"))
    await typed_platform.client.get("/no/such/path")
    response = await typed_platform.client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    counts = _samples(text, "creator_http_request_duration_seconds_count")
    labels = f'method="GET",route="{ROUTE}",status="200"'
    key = f"creator_http_request_duration_seconds_count{{{labels}}}"
    assert counts.get(key, 0) >= 3, sorted(counts)
    assert (
        'creator_http_request_duration_seconds_bucket{le="0.005",method="POST",'
        f'route="{ROUTE}",status="201"}}' in text
    )
    assert any('route="<unmatched>",status="404"' in k for k in counts)
    assert any("/things/{thing_id" in k for k in counts)
    # no raw ids in labels: the label set stays bounded
    assert str(owner.group.id) not in text
    # the other core metrics are exported too
    for name in ("creator_events_relayed_total", "creator_jobs_total"):
        assert f"# TYPE {name} counter" in text


async def test_metrics_is_not_in_the_schema(core_platform: CreatorPlatform) -> None:
    schema = (await core_platform.client.get("/schema/openapi.json")).json()
    assert "/metrics" not in schema["paths"]
    assert "/api/v1/groups/{group_id}/quotas" in schema["paths"]


# -- logs ---------------------------------------------------------------------------------


def _json_lines(err: str) -> list[dict[str, Any]]:
    lines = []
    for line in err.splitlines():
        if line.startswith("{"):
            lines.append(json.loads(line))
    return lines


async def test_json_log_lines_carry_the_request_id(
    creator_platform_factory: PlatformFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    harness = await creator_platform_factory(
        plugins=[], extra_plugins={"obs": LoggingPlugin()}, log_format="json"
    )
    capsys.readouterr()
    response = await harness.client.get(
        "/api/v1/obstest/log?x=1", headers={"X-Request-ID": "json-42"}
    )
    assert response.status_code == 200
    lines = [entry for entry in _json_lines(capsys.readouterr().err)]
    mine = [entry for entry in lines if entry.get("request_id") == "json-42"]
    inside = next(e for e in mine if e["logger"] == "creator.obstest")
    assert inside["message"] == "inside the handler"
    assert inside["answer"] == 42 and inside["level"] == "info"
    assert inside["timestamp"].endswith("+00:00")
    access = next(e for e in mine if e["logger"] == "creator.access")
    assert access["method"] == "GET"
    assert access["path"] == "/api/v1/obstest/log"
    assert access["route"] == "/api/v1/obstest/log"
    assert access["status"] == 200
    assert isinstance(access["duration_ms"], float)
    assert "_in_message" not in access


async def test_text_logs_are_readable(
    creator_platform_factory: PlatformFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    harness = await creator_platform_factory(plugins=[], extra_plugins={"obs": LoggingPlugin()})
    capsys.readouterr()
    await harness.client.get("/api/v1/obstest/log", headers={"X-Request-ID": "text-9"})
    err = capsys.readouterr().err
    inside = next(line for line in err.splitlines() if "inside the handler" in line)
    assert "INFO creator.obstest [text-9] inside the handler answer=42" in inside
    access = next(line for line in err.splitlines() if "creator.access" in line)
    assert "[text-9] GET /api/v1/obstest/log 200 " in access
    assert access.endswith("route=/api/v1/obstest/log")


def test_formatters_outside_requests() -> None:
    record = logging.LogRecord("creator.x", logging.WARNING, __file__, 1, "hi %s", ("you",), None)
    RequestIdFilter().filter(record)
    entry = json.loads(JsonFormatter().format(record))
    assert entry["message"] == "hi you" and entry["request_id"] is None
    assert entry["level"] == "warning" and entry["logger"] == "creator.x"
    assert "[" not in TextFormatter().format(record)
    try:
        raise ValueError("boom")
    except ValueError:
        import sys

        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    record.obj = object()  # not JSON: written as its str
    entry = json.loads(JsonFormatter().format(record))
    assert "ValueError: boom" in entry["exception"] and entry["obj"].startswith("<object")


def test_log_format_and_rate_limit_settings_are_validated() -> None:
    assert load_settings(environ={}).log_format == "text"
    assert load_settings(environ={"CREATOR_LOG_FORMAT": "json"}).log_format == "json"
    with pytest.raises(SettingsError, match=r"CREATOR_LOG_FORMAT.*text or json"):
        load_settings(environ={"CREATOR_LOG_FORMAT": "xml"})
    assert load_settings(environ={}).rate_limit_per_minute == 600
    with pytest.raises(SettingsError, match=r"RATE_LIMIT_PER_MINUTE.*negative"):
        load_settings(environ={"CREATOR_RATE_LIMIT_PER_MINUTE": "-1"})


def _from(harness: Any, address: str, **headers: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=harness.app, client=(address, 40000))  # type: ignore[arg-type]
    return httpx.AsyncClient(transport=transport, base_url="http://testserver", headers=headers)


async def test_metrics_answer_loopback_clients_only_by_default(
    creator_platform_factory: PlatformFactory,
) -> None:
    harness = await creator_platform_factory(plugins=[])
    for address in ("127.0.0.1", "::1"):
        async with _from(harness, address) as client:
            assert (await client.get("/metrics")).status_code == 200
    async with _from(harness, "203.0.113.7") as client:
        body = assert_problem(await client.get("/metrics"), 403, "forbidden")
        assert "metrics_token" in body["detail"]


async def test_metrics_token_lets_a_scraper_in_from_anywhere(
    creator_platform_factory: PlatformFactory,
) -> None:
    token = "scrape-" + "x" * 20
    harness = await creator_platform_factory(plugins=[], metrics_token=token)
    async with _from(harness, "203.0.113.7", Authorization=f"Bearer {token}") as client:
        response = await client.get("/metrics")
        assert response.status_code == 200 and "creator_http_request" in response.text
    for headers in ({}, {"Authorization": "Bearer wrong-token-wrong-token"}):
        for address in ("203.0.113.7", "127.0.0.1"):  # with a token, loopback is not enough
            async with _from(harness, address, **headers) as client:
                response = await client.get("/metrics")
                assert_problem(response, 401, "unauthorized")
                assert response.headers["www-authenticate"].startswith("Bearer")


def test_metrics_token_is_long_enough() -> None:
    with pytest.raises(SettingsError, match=r"metrics-token.*16"):
        load_settings(environ={}, metrics_token="short")

"""The third-party proof: ``creator-hello`` (tests/thirdparty/creator-hello), installed as
its own distribution and found through the ``creator.plugins`` entry point, extends the
platform with only ``sdk`` — and contributes nothing when it is not enabled.

Needs ``pip install -e tests/thirdparty/creator-hello``.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from uuid import UUID

import pytest

from sdk import UnknownType
from sdk.testing import wait_until

ROOT = Path(__file__).resolve().parents[2]
DIST = Path(__file__).resolve().parent / "creator-hello"


def _greet_url(group_id: UUID) -> str:
    return f"/api/v1/hello/groups/{group_id}/greet"


@pytest.mark.creator_plugins("hello")
async def test_enabled_greet_route_creates_a_greeting(creator_platform):
    tenant = await creator_platform.tenant()
    r = await tenant.client.post(_greet_url(tenant.group.id), json={"name": "Ada"})
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["type"] == "greeting"
    assert body["properties"]["text"] == "Hello, Ada!"
    assert body["properties"]["language"] == "en"

    # the event was written with the thing, in the tenant's group
    events = await creator_platform.ontology(tenant).events.list(type="greeted")
    assert [e.payload for e in events.items] == [{"greeting_id": body["id"], "text": "Hello, Ada!"}]
    assert events.items[0].actor_id == tenant.person.id


@pytest.mark.creator_plugins("hello")
async def test_enabled_event_handler_ran_after_commit(creator_platform):
    tenant = await creator_platform.tenant()
    r = await tenant.client.post(_greet_url(tenant.group.id), json={"name": "Bo"})
    assert r.status_code == 201, r.text
    thing = await creator_platform.ontology(tenant).things.get(UUID(r.json()["id"]))
    assert thing.properties["acknowledged"] is True  # set by the plugin's "greeted" handler
    handlers = creator_platform.platform.bus.handlers_for("greeted")
    assert [(plugin, h.qualified_name) for plugin, h in handlers] == [
        ("hello", "hello.acknowledge")
    ]


async def test_enabled_job_counts_greetings_in_a_worker(creator_platform_factory):
    cp = await creator_platform_factory(plugins=["hello"], worker=True)
    tenant = await cp.tenant()
    for name in ("Cy", "Di"):
        r = await tenant.client.post(_greet_url(tenant.group.id), json={"name": name})
        assert r.status_code == 201, r.text
    tally_url = f"/api/v1/hello/groups/{tenant.group.id}/tally"
    r = await tenant.client.post(tally_url, json={"pause_seconds": 0.1})
    assert r.status_code == 202, r.text

    async def finished() -> dict | None:
        status = (await tenant.client.get(tenant.url(f"/jobs/{r.json()['job_id']}"))).json()
        return status if status["status"] in ("complete", "failed") else None

    status = await wait_until(finished)
    assert status["status"] == "complete" and status["result"] == {"greetings": 2}
    assert status["progress"] == {"done": 1, "total": 1} and status["attempts"] == 1

    customer = await cp.member(tenant, "customer")
    r = await customer.client.post(tally_url, json={})
    assert r.status_code == 403, r.text
    r = await tenant.client.post(tally_url, json={"pause_seconds": 60})
    assert r.status_code == 422, r.text


@pytest.mark.creator_plugins("hello")
async def test_enabled_types_are_registered(creator_platform):
    registry = creator_platform.platform.registry
    assert registry.things["greeting"].plugin == "hello"
    assert registry.events["greeted"].plugin == "hello"

    r = await creator_platform.client.get("/api/v1/types")
    assert r.status_code == 200, r.text
    owned = {(t["kind"], t["name"]) for t in r.json() if t["plugin"] == "hello"}
    assert owned == {("thing", "greeting"), ("event", "greeted")}

    # the generic API validates the plugin's struct: defaults filled, unknown fields refused
    tenant = await creator_platform.tenant()
    r = await tenant.client.post(
        tenant.url("/things"), json={"type": "greeting", "name": "g", "properties": {"text": "hi"}}
    )
    assert r.status_code == 201, r.text
    assert r.json()["properties"] == {"text": "hi", "language": "en", "acknowledged": False}
    r = await tenant.client.post(
        tenant.url("/things"),
        json={"type": "greeting", "name": "g", "properties": {"text": "hi", "colour": "red"}},
    )
    assert r.status_code == 422, r.text


@pytest.mark.creator_plugins("hello")
async def test_enabled_route_checks_auth_and_permissions(creator_platform):
    tenant = await creator_platform.tenant()
    r = await creator_platform.client.post(_greet_url(tenant.group.id), json={})
    assert r.status_code == 401, r.text
    customer = await creator_platform.member(tenant, "customer")
    r = await customer.client.post(_greet_url(tenant.group.id), json={})
    assert r.status_code == 403, r.text
    other = await creator_platform.tenant()
    r = await other.client.post(_greet_url(tenant.group.id), json={})
    assert r.status_code == 404, r.text  # another tenant's group does not exist for them


@pytest.mark.creator_plugins("hello")
async def test_fuzzed_routes_answer_as_documented(creator_platform):
    report = await creator_platform.fuzz(paths="/api/v1/hello")
    assert "POST /api/v1/hello/groups/{group_id}/greet" in report.operations


@pytest.mark.creator_plugins()
async def test_disabled_contributes_nothing(creator_platform):
    platform = creator_platform.platform
    assert "hello" not in platform.plugins.enabled_names()
    info = {i.name: i for i in platform.plugins.info()}
    assert info["hello"].enabled is False  # installed, but off

    tenant = await creator_platform.tenant()
    r = await tenant.client.post(_greet_url(tenant.group.id), json={"name": "Ada"})
    assert r.status_code == 404, r.text

    assert "greeting" not in platform.registry.things
    assert "greeted" not in platform.registry.events
    with pytest.raises(UnknownType):
        await creator_platform.ontology(tenant).things.create("greeting", name="g")
    r = await tenant.client.post(
        tenant.url("/things"), json={"type": "greeting", "name": "g", "properties": {"text": "x"}}
    )
    assert r.status_code == 422, r.text
    assert r.json()["code"] == "unknown_type"

    assert platform.bus.handlers_for("greeted") == []
    assert platform.bus.by_plugin("hello") == []


def _plugins_list(tmp_path: Path, **env: str) -> dict[str, dict]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("CREATOR_")}
    environ.update(env, CREATOR_DATA_DIR=str(tmp_path / "data"))
    command = [sys.executable, "-m", "core.cli", "plugins", "list", "--json"]
    result = subprocess.run(
        command, cwd=ROOT, env=environ, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return {item["name"]: item for item in json.loads(result.stdout)}


def test_cli_lists_hello_installed_and_enabled(tmp_path):
    hello = _plugins_list(tmp_path)["hello"]
    assert hello["enabled"] is True and hello["builtin"] is False
    assert hello["module"] == "creator_hello.plugin"
    assert hello["version"] == "0.1.0"
    assert hello["things"] == ["greeting"]
    assert hello["events"] == ["greeted"]
    assert sorted(hello["routes"]) == [
        "POST /api/v1/hello/groups/{group_id:uuid}/greet",
        "POST /api/v1/hello/groups/{group_id:uuid}/tally",
    ]
    assert hello["handlers"] == ["greeted -> hello.acknowledge"]
    assert hello["jobs"] == ["hello.tally"]


def test_cli_lists_hello_disabled_when_not_enabled(tmp_path):
    # Another installed plugin to enable instead: a fake distribution on PYTHONPATH whose
    # entry point names a module without hooks.
    dist = tmp_path / "site" / "creator_quiet-0.1.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: creator-quiet\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[creator.plugins]\nquiet = creator_hello\n")
    path = os.pathsep.join(filter(None, [str(tmp_path / "site"), os.environ.get("PYTHONPATH")]))
    described = _plugins_list(tmp_path, CREATOR_PLUGINS="quiet", PYTHONPATH=path)
    assert described["quiet"]["enabled"] is True
    hello = described["hello"]
    assert hello["enabled"] is False
    assert "things" not in hello and "routes" not in hello


def test_writing_plugins_guide_quotes_the_hello_plugin():
    """Each code block of docs/writing-plugins.md marked ``<!-- from FILE -->`` is a
    verbatim excerpt of FILE, so the guide's code is code that runs and is tested."""
    guide = (ROOT / "docs" / "writing-plugins.md").read_text()
    quoted = re.findall(r"<!-- from (\S+) -->\n```\w*\n(.*?)```", guide, re.DOTALL)
    assert len(quoted) >= 6
    for source, block in quoted:
        path = DIST / source if (DIST / source).exists() else ROOT / source
        assert block in path.read_text(), f"docs/writing-plugins.md quotes {source} wrongly"


@pytest.mark.creator_plugins("hello")
async def test_hello_command_runs_on_a_started_platform(creator_platform, tmp_path):
    """``creator --config FILE hello count GROUP``, as an operator runs it: the command
    (``sdk.with_platform``) gets the platform started from the file's settings."""
    tenant = await creator_platform.tenant()
    for name in ("Ada", "Bo"):
        r = await tenant.client.post(_greet_url(tenant.group.id), json={"name": name})
        assert r.status_code == 201, r.text
    settings = creator_platform.platform.settings
    config = tmp_path / "creator.toml"
    config.write_text(
        f'database_url = "{settings.database_url}"\nredis_url = "{settings.redis_url}"\n'
        'plugins = ["hello"]\nmigrate_on_start = false\n'
    )
    environ = {k: v for k, v in os.environ.items() if not k.startswith("CREATOR_")}
    environ["CREATOR_DATA_DIR"] = str(tmp_path / "data")
    # this checkout's plugin source, whichever checkout the distribution was installed from
    environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(DIST), environ.get("PYTHONPATH")]))

    def count(*args: str, config: Path = config) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "core.cli", "--config", str(config), "hello", "count"]
        return subprocess.run(
            [*command, *args], cwd=ROOT, env=environ, capture_output=True, text=True, timeout=120
        )

    result = await asyncio.to_thread(count, str(tenant.group.id))
    assert result.returncode == 0, result.stderr
    assert result.stdout == "2\n"
    other = await creator_platform.tenant()
    assert (await asyncio.to_thread(count, str(other.group.id))).stdout == "0\n"
    refused = await asyncio.to_thread(count, "not-a-group")
    assert refused.returncode == 2 and "not a valid UUID" in refused.stderr
    # the plugins --config enables decide which commands there are
    core_only = tmp_path / "core-only.toml"
    core_only.write_text("plugins = []\n")
    missing = await asyncio.to_thread(count, str(tenant.group.id), config=core_only)
    assert missing.returncode == 2 and "No such command 'hello'" in missing.stderr

"""The ``creator`` command line, run as a user runs it (a subprocess) where it matters."""

import json
import os
import re
import subprocess
import sys

import pytest
from click.testing import CliRunner

from core import __version__
from core.cli import cli
from sdk.testing import database_url


def run(*args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "core.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=120,
    )


def test_help_reads_well():
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    for command in ("serve", "migrate", "plugins", "people", "new-plugin", "version"):
        assert command in result.output
    serve_help = CliRunner().invoke(cli, ["serve", "--help"])
    for option in ("--host", "--port", "--data-dir"):
        assert option in serve_help.output


def test_version():
    result = CliRunner().invoke(cli, ["version"])
    assert result.output.strip() == f"creator-platform {__version__}"


def test_plugins_list_shows_core_and_what_it_registers():
    result = run("plugins", "list", "--json")
    assert result.returncode == 0, result.stderr
    plugins = {item["name"]: item for item in json.loads(result.stdout)}
    core = plugins["core"]
    assert core["enabled"] and core["builtin"]
    assert "thing_created" in core["events"]
    assert "GET,POST /api/v1/groups/{group_id:uuid}/things" in core["routes"]
    human = run("plugins", "list")
    assert "core  [enabled] built-in" in human.stdout


def test_bad_setting_stops_with_a_message_naming_it():
    result = run("plugins", "list", env={"CREATOR_PORT": "not-a-port"})
    assert result.returncode == 1
    assert "CREATOR_PORT" in result.stderr
    assert "Traceback" not in result.stderr


def test_unknown_plugin_in_enable_list_is_an_error():
    result = run("plugins", "list", env={"CREATOR_PLUGINS": "no-such-plugin"})
    assert result.returncode == 1
    assert "no-such-plugin" in result.stderr and "not installed" in result.stderr


@pytest.fixture
async def empty_database(creator_servers):
    name = await creator_servers.create_database(empty=True)
    yield database_url(creator_servers.database_url, name)
    await creator_servers.drop_database(name)


async def test_migrate_applies_then_reports_up_to_date(empty_database, creator_servers):
    env = {"CREATOR_DATABASE_URL": empty_database, "CREATOR_REDIS_URL": creator_servers.redis_url}
    check = run("migrate", "--check", env=env)
    assert check.returncode == 1 and re.search(r"ontology: \d+ pending", check.stdout)
    first = run("migrate", env=env)
    assert first.returncode == 0, first.stderr
    assert re.search(r"ontology: applied \d+", first.stdout)
    second = run("migrate", env=env)
    assert "ontology: up to date" in second.stdout
    assert run("migrate", "--check", env=env).returncode == 0


async def test_people_create_prints_a_working_token(empty_database, creator_servers):
    env = {"CREATOR_DATABASE_URL": empty_database, "CREATOR_REDIS_URL": creator_servers.redis_url}
    created = run("people", "create", "ada@example.test", "--name", "Ada", env=env)
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip()
    assert token.startswith("cp_")
    again = run("people", "create", "ADA@example.test", env=env)
    assert again.returncode == 1 and "already exists" in again.stderr

"""The platform's database logins: which role each pool logs in as, with which password,
and the migration step that lets the roles log in."""

import uuid
from urllib.parse import parse_qs, unquote, urlsplit

import asyncpg
import pytest

from core.db import (
    APP_ROLE,
    SYSTEM_ROLE,
    Database,
    Logins,
    database_logins,
    login_url,
    role_password,
)
from core.migrations import ensure_login_roles
from core.settings import SettingsError, load_settings

SECRET = "s" * 40


def test_logins_are_derived_from_the_owner_url_and_the_secret():
    owner = "postgresql://postgres:@/creator?host=/tmp/pg-socket"
    logins = database_logins(load_settings(environ={}, database_url=owner, secret_key=SECRET))
    assert logins.owner == owner
    for url, role in ((logins.app, APP_ROLE), (logins.system, SYSTEM_ROLE)):
        parts = urlsplit(url)
        assert (parts.username, parts.password) == (role, role_password(SECRET, role))
        assert parts.path == "/creator"
        assert parse_qs(parts.query) == {"host": ["/tmp/pg-socket"]}
    assert logins.managed == {
        APP_ROLE: role_password(SECRET, APP_ROLE),
        SYSTEM_ROLE: role_password(SECRET, SYSTEM_ROLE),
    }


def test_passwords_differ_by_role_and_by_secret_and_do_not_show_it():
    passwords = {
        role_password(secret, role)
        for secret in (SECRET, "t" * 40)
        for role in (APP_ROLE, SYSTEM_ROLE)
    }
    assert len(passwords) == 4
    assert not any(SECRET in password for password in passwords)


def test_a_login_url_replaces_who_logs_in_and_nothing_else():
    url = login_url(
        "postgresql://owner:pw@db.example:5433/creator?sslmode=require&user=x",
        "creator_app",
        "p@ss:/word",
    )
    parts = urlsplit(url)
    assert (parts.username, parts.hostname, parts.port) == ("creator_app", "db.example", 5433)
    assert parse_qs(parts.query) == {"sslmode": ["require"]}
    assert unquote(parts.password or "") == "p@ss:/word"


def test_an_operators_urls_win_and_their_roles_are_left_alone():
    settings = load_settings(
        environ={},
        database_url="postgresql://owner:pw@db.example/creator",
        database_app_url="postgresql://app:dba-made@db.example/creator",
        database_system_url="postgresql://system:dba-made@db.example/creator",
        secret_key=SECRET,
    )
    logins = database_logins(settings)
    assert (logins.app, logins.system) == (settings.database_app_url, settings.database_system_url)
    assert logins.managed == {}
    only_app = load_settings(
        environ={},
        database_url="postgresql://owner:pw@db.example/creator",
        database_app_url="postgresql://app:dba-made@db.example/creator",
        secret_key=SECRET,
    )
    assert list(database_logins(only_app).managed) == [SYSTEM_ROLE]


def test_the_system_pool_has_room_for_the_relay():
    with pytest.raises(SettingsError, match=r"CREATOR_DB_SYSTEM_POOL_MAX_SIZE.*at least 2"):
        load_settings(environ={"CREATOR_DB_SYSTEM_POOL_MAX_SIZE": "1"})


async def test_the_migration_step_lets_a_role_log_in(creator_servers):
    """``ensure_login_roles`` gives a role that cannot log in its log-in and password (a
    scratch role: the platform's own are shared by the whole test session)."""
    role = f"creator_test_{uuid.uuid4().hex[:8]}"
    owner = await asyncpg.connect(creator_servers.database_url)
    try:
        await owner.execute(f'CREATE ROLE "{role}" NOLOGIN')
        url = login_url(creator_servers.database_url, role, "pw")
        with pytest.raises(asyncpg.InvalidAuthorizationSpecificationError):
            await asyncpg.connect(url)
        await ensure_login_roles(owner, creator_servers.database_url, {role: "it's-pw"})
        conn = await asyncpg.connect(login_url(creator_servers.database_url, role, "it's-pw"))
        try:
            assert await conn.fetchval("SELECT session_user") == role
        finally:
            await conn.close()
        await ensure_login_roles(owner, creator_servers.database_url, {role: "it's-pw"})
    finally:
        await owner.execute(f'DROP ROLE IF EXISTS "{role}"')
        await owner.close()


async def test_a_role_that_cannot_log_in_stops_start_up_with_what_to_do(creator_servers):
    owner = creator_servers.database_url
    nobody = login_url(owner, "creator_test_nobody", "pw")
    db = Database(Logins(owner=owner, app=nobody, system=nobody))
    with pytest.raises(RuntimeError, match=r"'creator_test_nobody'.*creator migrate"):
        await db.open()
    await db.close()

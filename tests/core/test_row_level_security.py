"""Row-level security: the second line of defence behind every store's group filter.

These queries deliberately forget ``WHERE group_id = ...``: the database still answers with
the unit of work's own groups only."""

from urllib.parse import urlsplit

import asyncpg
import msgspec
import pytest

from sdk import ThingType, hookimpl


class Body(msgspec.Struct):
    text: str = ""


class Notes:
    @hookimpl
    def register_thing_types(self):
        return [ThingType("rls_note", Body)]


@pytest.fixture
async def two_groups(creator_platform_factory):
    platform = await creator_platform_factory(plugins=[], extra_plugins={"notes": Notes()})
    a, b = await platform.tenant(), await platform.tenant()
    for tenant, names in ((a, ("a1", "a2")), (b, ("b1",))):
        for name in names:
            await platform.ontology(tenant).things.create("rls_note", name=name)
    return platform, a, b


async def test_app_connections_are_not_superusers(two_groups):
    platform, _, _ = two_groups
    async with platform.platform.db.pool.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT current_user AS who, rolsuper FROM pg_roles WHERE rolname = current_user"
        )
    assert (row["who"], row["rolsuper"]) == ("creator_app", False)


async def test_app_sql_cannot_turn_the_policy_off(two_groups):
    """SQL running on an app connection (an injected fragment, a plugin's query) cannot
    set row-level security aside: the policies no longer read a setting it could set."""
    platform, a, _ = two_groups
    async with platform.ontology(a).session.reading() as conn:
        await conn.execute("SELECT set_config('creator.all_groups', 'on', false)")
        names = sorted(r["name"] for r in await conn.fetch("SELECT name FROM things"))
    assert names == ["a1", "a2"]


async def test_app_connections_log_in_as_the_app_role_and_cannot_become_another(two_groups):
    """The app's connections log in as ``creator_app`` (no role switch at start-up that
    ``RESET ROLE`` could undo), and that role is a member of no other."""
    platform, _, _ = two_groups
    owner = platform.settings.database_url and urlsplit(platform.settings.database_url).username
    async with platform.platform.db.pool.acquire() as conn:
        for other in (owner, "creator_system"):
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.execute(f'SET ROLE "{other}"')
        await conn.execute("RESET ROLE")
        who = await conn.fetchrow("SELECT session_user AS session, current_user AS role")
        assert (who["session"], who["role"]) == ("creator_app", "creator_app")
        assert await conn.fetchval("SELECT count(*) FROM things") == 0
        attributes = await conn.fetchrow(
            "SELECT rolsuper, rolbypassrls, rolcreaterole, rolcreatedb, rolcanlogin "
            "FROM pg_roles WHERE rolname = current_user"
        )
        assert dict(attributes) == {
            "rolsuper": False,
            "rolbypassrls": False,
            "rolcreaterole": False,
            "rolcreatedb": False,
            "rolcanlogin": True,
        }
        member_of = await conn.fetch(
            "SELECT roleid::regrole::text AS role FROM pg_auth_members "
            "WHERE member = 'creator_app'::regrole"
        )
        assert member_of == []


async def test_system_work_runs_on_its_own_login_role(two_groups):
    """``db.system()`` is a connection of its own pool, logged in as ``creator_system``,
    which sees every group because of its role (not a setting), and owns nothing."""
    platform, _, _ = two_groups
    async with platform.platform.db.system() as conn:
        row = await conn.fetchrow(
            "SELECT session_user AS session, rolsuper, rolbypassrls FROM pg_roles "
            "WHERE rolname = current_user"
        )
        assert dict(row) == {"session": "creator_system", "rolsuper": False, "rolbypassrls": True}
        owner = await conn.fetchval("SELECT tableowner FROM pg_tables WHERE tablename = 'things'")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute(f'SET ROLE "{owner}"')
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("DROP TABLE things")
        # what a migration grants the app role alone, system work may use too
        assert await conn.fetchval("SELECT pg_has_role('creator_app', 'USAGE')")


async def test_a_query_without_group_filter_or_scope_sees_nothing(two_groups):
    platform, _, _ = two_groups
    async with platform.platform.db.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM things") == 0
        assert await conn.fetchval("SELECT count(*) FROM events") == 0


async def test_a_forgotten_filter_sees_only_the_scopes_group(two_groups):
    platform, a, b = two_groups
    async with platform.ontology(a).session.reading() as conn:
        assert sorted(r["name"] for r in await conn.fetch("SELECT name FROM things")) == [
            "a1",
            "a2",
        ]
    async with platform.ontology(b).session.transaction() as conn:
        assert [r["name"] for r in await conn.fetch("SELECT name FROM things")] == ["b1"]


async def test_writing_into_another_group_is_refused(two_groups):
    platform, a, b = two_groups
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        async with platform.ontology(a).session.transaction() as conn:
            await conn.execute(
                "INSERT INTO things (id, group_id, type, name, status) "
                "VALUES (gen_random_uuid(), $1, 'rls_note', 'smuggled', 'active')",
                b.group.id,
            )
    async with platform.ontology(a).session.transaction() as conn:
        changed = await conn.execute("UPDATE things SET name = 'x'")  # no filter at all
    assert changed == "UPDATE 2"  # a's two rows; b's untouched
    assert [t.name for t in (await platform.ontology(b).things.list()).items] == ["b1"]


async def test_the_connection_forgets_its_groups_when_released(two_groups):
    platform, a, _ = two_groups
    pool = platform.platform.db.pool
    async with platform.ontology(a).session.reading():
        pass
    async with pool.acquire() as conn:  # pool of size >= 1: likely the same connection
        assert await conn.fetchval("SELECT current_setting('creator.groups', true)") in ("", None)
        assert await conn.fetchval("SELECT count(*) FROM things") == 0


async def test_system_work_says_it_spans_groups(two_groups):
    platform, _, _ = two_groups
    async with platform.platform.db.system() as conn:
        assert await conn.fetchval("SELECT count(*) FROM things") == 3


async def test_filter_operators_are_leakproof_so_they_keep_their_indexes(two_groups):
    """Under row-level security only leakproof conditions may run before the policy and
    use an index: the migration marks full-text match, JSONB containment and key existence
    (their GIN scans would otherwise become scans of the whole group; see
    benchmarks/knowledge_search.py for the measured difference)."""
    platform, _, _ = two_groups
    async with platform.platform.db.pool.acquire() as conn:
        flags = await conn.fetch(
            "SELECT p.oid::regprocedure::text AS fn, p.proleakproof FROM pg_proc p "
            "WHERE p.oid IN ('ts_match_vq(tsvector, tsquery)'::regprocedure, "
            "'jsonb_contains(jsonb, jsonb)'::regprocedure, "
            "'jsonb_exists_all(jsonb, text[])'::regprocedure)"
        )
    assert {row["fn"]: row["proleakproof"] for row in flags} == {
        "ts_match_vq(tsvector,tsquery)": True,
        "jsonb_contains(jsonb,jsonb)": True,
        "jsonb_exists_all(jsonb,text[])": True,
    }


async def test_no_policy_reads_a_setting_that_lets_everything_through(creator_platform):
    """Core's tables and every plugin's (``sdk.group_table_statements``) have the one
    group policy, and none of them honours ``creator.all_groups`` any longer."""
    async with creator_platform.platform.db.as_owner() as conn:
        policies = await conn.fetch(
            "SELECT tablename, qual FROM pg_policies WHERE schemaname = 'public'"
        )
    tables = {row["tablename"] for row in policies}
    assert {"things", "events", "knowledge", "website_live_pages"} <= tables
    assert not [row["tablename"] for row in policies if "all_groups" in row["qual"]]

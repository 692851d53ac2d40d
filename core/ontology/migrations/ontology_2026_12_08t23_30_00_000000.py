"""Cross-group access by role, not by a setting: the ``creator_system`` role, and
policies that no longer read ``creator.all_groups``.

Until now system work set ``creator.all_groups = on`` on an app connection, and so could
any SQL running there. Now the app logs in as ``creator_app``, which row-level security
always restricts, and system work logs in as ``creator_system``, which it lets through
(``BYPASSRLS``); both may read and write rows and nothing more. The policy of every table
that has one (core's and plugins', made by ``creator_enable_group_rls``) is made again
without the setting. The roles' log-in and passwords are set after the migrations
(``core.migrations.ensure_login_roles``), from the deployment's secret.
"""

from typing import Any

from core.migrations import sql_migration

ID = "2026-12-08T23:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "database roles: creator_system sees every group; creator.all_groups is gone"

STATEMENTS = [
    """
    DO $$ BEGIN
        CREATE ROLE creator_system NOLOGIN;
    EXCEPTION WHEN duplicate_object THEN NULL;
    END $$""",
    # Setting BYPASSRLS takes a superuser; an operator's DBA may have made the roles.
    """
    DO $$ BEGIN
        ALTER ROLE creator_app NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;
        ALTER ROLE creator_system NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION BYPASSRLS;
    EXCEPTION WHEN insufficient_privilege THEN
        RAISE WARNING 'could not set the attributes of creator_app and creator_system; a superuser must run: ALTER ROLE creator_system BYPASSRLS (and creator_app NOBYPASSRLS)';
    END $$""",
    # Whatever the app may touch, system work may too, including what a later migration
    # grants to creator_app alone; the membership goes one way: the app cannot become
    # creator_system.
    """
    DO $$ BEGIN
        GRANT creator_app TO creator_system;
    EXCEPTION WHEN insufficient_privilege THEN
        RAISE WARNING 'could not grant creator_app to creator_system; a database owner must run: GRANT creator_app TO creator_system';
    END $$""",
    "GRANT USAGE ON SCHEMA public TO creator_system",
    "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO creator_system",
    """ALTER DEFAULT PRIVILEGES IN SCHEMA public
        GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO creator_system""",
    """
    CREATE OR REPLACE FUNCTION creator_enable_group_rls(target regclass) RETURNS void
    LANGUAGE plpgsql AS $$
    BEGIN
        EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', target);
        EXECUTE format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', target);
        EXECUTE format('DROP POLICY IF EXISTS group_scope ON %s', target);
        -- The setting is read in a sub-select: evaluated once per query (an InitPlan),
        -- not once per row.
        EXECUTE format(
            'CREATE POLICY group_scope ON %s USING ('
            '  group_id = ANY (CAST((SELECT creator_scope_groups()) AS uuid[])))', target);
    END $$""",
]


async def rewrite_group_policies(engine: Any) -> None:
    """Every table with the group policy, core's and plugins' alike, gets the new one."""
    tables = await engine.run_ddl(
        "SELECT DISTINCT quote_ident(tablename) AS name FROM pg_policies "
        "WHERE schemaname = 'public' AND policyname = 'group_scope' ORDER BY 1"
    )
    for row in tables:
        await engine.run_ddl(f"SELECT creator_enable_group_rls('{row['name']}')")


forwards = sql_migration(ID, "ontology", DESCRIPTION, STATEMENTS, then=rewrite_group_policies)

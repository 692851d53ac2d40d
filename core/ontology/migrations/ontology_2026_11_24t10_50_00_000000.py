"""Row-level security on the group-scoped tables: a second line of defence for tenancy.

The app's connections run as the role ``creator_app`` (set at connection start-up, so a
pool reset keeps it), which is not a superuser and does not own the tables, and ``FORCE``
makes owners obey too. Each unit of work sets ``creator.groups`` to the groups of its
scope; a query that forgets its ``group_id`` filter then sees nothing of other groups.
Cross-group system work (the outbox relay) says so explicitly with ``creator.all_groups``.

``creator_enable_group_rls('table')`` gives a plugin's own group-scoped table the same
policy (call it from the plugin's migration).
"""

from typing import Any

from core.migrations import sql_migration

ID = "2026-11-24T10:50:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "row-level security keyed by the request's groups"

#: Group-scoped tables read and written only through scoped stores. Memberships and
#: invitations are left out: auth reads them across groups by design.
EXEMPT = ("groups", "memberships", "invitations", "migration")

STATEMENTS = [
    """
    DO $$ BEGIN
        CREATE ROLE creator_app NOLOGIN;
    EXCEPTION WHEN duplicate_object THEN NULL;
    END $$""",
    # Whoever runs the app (the migrating user) must be able to act as creator_app.
    """
    DO $$ BEGIN
        EXECUTE format('GRANT creator_app TO %I', current_user);
    EXCEPTION WHEN insufficient_privilege THEN
        RAISE WARNING 'could not grant creator_app to %; a database owner must run: GRANT creator_app TO %', current_user, current_user;
    END $$""",
    "GRANT USAGE ON SCHEMA public TO creator_app",
    "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO creator_app",
    """ALTER DEFAULT PRIVILEGES IN SCHEMA public
        GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO creator_app""",
    """
    CREATE OR REPLACE FUNCTION creator_scope_groups() RETURNS uuid[]
    LANGUAGE sql STABLE AS $$
        SELECT string_to_array(NULLIF(current_setting('creator.groups', true), ''), ',')::uuid[]
    $$""",
    """
    CREATE OR REPLACE FUNCTION creator_enable_group_rls(target regclass) RETURNS void
    LANGUAGE plpgsql AS $$
    BEGIN
        EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', target);
        EXECUTE format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', target);
        EXECUTE format('DROP POLICY IF EXISTS group_scope ON %s', target);
        -- The settings are read in sub-selects: evaluated once per query (InitPlans),
        -- not once per row.
        EXECUTE format(
            'CREATE POLICY group_scope ON %s USING ('
            '  (SELECT current_setting(''creator.all_groups'', true)) = ''on'''
            '  OR group_id = ANY (CAST((SELECT creator_scope_groups()) AS uuid[])))', target);
    END $$""",
    # Under row-level security PostgreSQL evaluates a query's own conditions before the
    # policy only if their functions are LEAKPROOF, and only then can it use an index for
    # them. Full-text match (@@), JSONB containment (@>, the property filters) and key
    # existence (?&, knowledge labels) are not marked so, which turns their GIN index
    # scans into scans of the whole group (measured: 1.7 ms -> 45 ms on 60k chunks). They
    # compute a boolean from well-typed values and report nothing else about a row, so we
    # mark them. That takes a superuser (the embedded server's user is one); elsewhere the
    # migration warns and search stays correct, only slower, until a superuser runs it.
    """
    DO $$ BEGIN
        ALTER FUNCTION ts_match_vq(tsvector, tsquery) LEAKPROOF;
        ALTER FUNCTION jsonb_contains(jsonb, jsonb) LEAKPROOF;
        ALTER FUNCTION jsonb_exists_all(jsonb, text[]) LEAKPROOF;
    EXCEPTION WHEN insufficient_privilege THEN
        RAISE WARNING 'under row-level security full-text, property and label filters cannot use their indexes until a superuser marks ts_match_vq(tsvector, tsquery), jsonb_contains(jsonb, jsonb) and jsonb_exists_all(jsonb, text[]) LEAKPROOF';
    END $$""",
]



async def protect_group_tables(engine: Any) -> None:
    """Every table with a ``group_id`` column, but the exempt ones, gets the policy."""
    tables = await engine.run_ddl(
        "SELECT c.table_name FROM information_schema.columns c "
        "JOIN information_schema.tables t USING (table_schema, table_name) "
        "WHERE c.table_schema = 'public' AND c.column_name = 'group_id' "
        "AND t.table_type = 'BASE TABLE' ORDER BY 1"
    )
    for row in tables:
        if row["table_name"] not in EXEMPT:
            await engine.run_ddl(f"SELECT creator_enable_group_rls('{row['table_name']}')")


forwards = sql_migration(ID, "ontology", DESCRIPTION, STATEMENTS, then=protect_group_tables)

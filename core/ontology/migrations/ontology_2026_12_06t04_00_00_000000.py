"""Connections may end at a person: their ends are no longer foreign keys to ``things``.

A connection type may name ``PERSON`` among its ``from_types`` / ``to_types`` (a member of
the group, e.g. a clone's creator), and a person's id is not a thing's. The store checks
both ends in the transaction that writes the connection (a thing live in the group, a
person with a membership there, their rows locked ``FOR SHARE``), as it already did for
things. What the foreign keys' ``ON DELETE CASCADE`` did is kept: things are only ever
soft-deleted, which ends their connections, and a deleted group takes its connections
with it through ``group_id``.
"""

from core.migrations import sql_migration

ID = "2026-12-06T04:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "connections: an end may be a person (ends checked by the store)"

STATEMENTS = [
    """
    DO $$
    DECLARE fk record;
    BEGIN
        FOR fk IN SELECT conname FROM pg_constraint
            WHERE conrelid = 'connections'::regclass AND contype = 'f'
            AND confrelid = 'things'::regclass
        LOOP
            EXECUTE format('ALTER TABLE connections DROP CONSTRAINT %I', fk.conname);
        END LOOP;
    END $$""",
]


forwards = sql_migration(ID, "ontology", DESCRIPTION, STATEMENTS)

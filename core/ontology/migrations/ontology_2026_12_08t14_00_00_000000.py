"""Public names: only a verified claim holds a name against other groups.

Each group may have one claim on a name; a partial unique index keeps one verified
claim per name across groups. Before, the first pending claim held the name, so whoever
claimed a domain first kept its real owner out without ever proving control of it.
"""

from core.migrations import sql_migration

ID = "2026-12-08T14:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "public names: pending claims do not hold a name against other groups"

STATEMENTS = [
    "ALTER TABLE public_names DROP CONSTRAINT IF EXISTS public_names_pkey",
    "ALTER TABLE public_names ADD PRIMARY KEY (kind, name, group_id)",
    "CREATE UNIQUE INDEX IF NOT EXISTS public_names_verified ON public_names (kind, name) "
    "WHERE status = 'verified'",
]


forwards = sql_migration(ID, "ontology", DESCRIPTION, STATEMENTS)

"""Public names: a name of a kind (a site's slug, a custom domain, a handle) held by one
thing of one group, unique across the platform.

A visitor names a site, not a group, so such names must be unique across groups, and
public requests look them up across groups. Plugins used to keep them as properties of
their things with unique indexes on ``things``; this table is core's one registry for
them (``core.ontology.names``). Names are stored lower-cased (they are matched without
regard to case); ``status`` is ``pending`` until whatever the kind needs to trust a claim
(a domain's DNS record, say) has been checked, then ``verified``.

Rows are group-scoped under row-level security like every table here: a group claims
and releases only its own names. The primary key still refuses a name another group
holds (a unique index sees every row), and public look-ups run as the platform.
"""

from core.migrations import sql_migration

ID = "2026-12-07T20:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "public names: one registry of names unique across groups"

STATEMENTS = [
    """
    CREATE TABLE IF NOT EXISTS public_names (
        kind text NOT NULL CHECK (kind ~ '^[a-z][a-z0-9_.]{0,62}$'),
        name text NOT NULL CHECK (name = lower(name) AND length(name) BETWEEN 1 AND 253),
        group_id uuid NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
        thing_id uuid NOT NULL,
        status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'verified')),
        claimed_at timestamptz NOT NULL DEFAULT now(),
        verified_at timestamptz,
        PRIMARY KEY (kind, name)
    )""",
    "CREATE INDEX IF NOT EXISTS public_names_thing ON public_names (group_id, thing_id, kind)",
    "SELECT creator_enable_group_rls('public_names')",
    "GRANT SELECT, INSERT, UPDATE, DELETE ON public_names TO creator_app",
]


forwards = sql_migration(ID, "ontology", DESCRIPTION, STATEMENTS)

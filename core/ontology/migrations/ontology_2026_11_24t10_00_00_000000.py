"""Browser sessions and group invitations."""

from core.migrations import sql_migration

ID = "2026-11-24T10:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "auth: sessions and invitations"

STATEMENTS = [
    """
    CREATE TABLE sessions (
        id text PRIMARY KEY,
        person_id uuid NOT NULL REFERENCES people (id) ON DELETE CASCADE,
        csrf_token text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        expires_at timestamptz NOT NULL,
        user_agent text NOT NULL DEFAULT ''
    )""",
    "CREATE INDEX sessions_person_idx ON sessions (person_id)",
    """
    CREATE TABLE invitations (
        id uuid PRIMARY KEY,
        group_id uuid NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
        email text NOT NULL,
        role text NOT NULL CHECK (role IN ('org_owner', 'org_user', 'customer')),
        token_hash text NOT NULL UNIQUE,
        invited_by uuid REFERENCES people (id) ON DELETE SET NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        expires_at timestamptz NOT NULL,
        accepted_at timestamptz,
        accepted_by uuid REFERENCES people (id) ON DELETE SET NULL
    )""",
    "CREATE INDEX invitations_group_idx ON invitations (group_id, created_at DESC)",
]


forwards = sql_migration(ID, "ontology", DESCRIPTION, STATEMENTS)

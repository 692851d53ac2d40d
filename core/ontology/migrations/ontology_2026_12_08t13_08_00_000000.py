"""API tokens may expire, and show when they were last used.

``expires_at`` is set at creation (``expires_in_days``) or never; a token past it is
refused with ``token_expired``. ``last_used_at`` is written at most once a minute per
token (``Directory``), not on every request.
"""

from core.migrations import sql_migration

ID = "2026-12-08T13:08:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "api tokens: expires_at and last_used_at"

STATEMENTS = [
    "ALTER TABLE api_tokens ADD COLUMN IF NOT EXISTS expires_at timestamptz",
    "ALTER TABLE api_tokens ADD COLUMN IF NOT EXISTS last_used_at timestamptz",
]


forwards = sql_migration(ID, "ontology", DESCRIPTION, STATEMENTS)

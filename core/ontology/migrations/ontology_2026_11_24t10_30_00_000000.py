"""The transactional outbox and the dead letters of event handlers.

``event_outbox`` holds one row per committed event that has not been handed to every
subscriber yet: written in the transaction that writes the event, deleted once the event
is dispatched (in-process handlers run, durable handlers enqueued, live stream published).
No foreign key to ``events``: the row is written beside its event on every emit, and the
relay drops a row whose event (or group) is gone.
Rows a dead process left behind are claimed by the relay (``FOR UPDATE SKIP LOCKED``).
``event_failures`` records a handler that gave up on an event after its last try.
"""

from core.migrations import sql_migration

ID = "2026-11-24T10:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "events: outbox and handler failures"

STATEMENTS = [
    """
    CREATE TABLE event_outbox (
        group_id uuid NOT NULL,
        event_id uuid NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (group_id, event_id)
    )""",
    "CREATE INDEX event_outbox_created_idx ON event_outbox (created_at)",
    """
    CREATE TABLE event_failures (
        group_id uuid NOT NULL,
        event_id uuid NOT NULL,
        handler text NOT NULL,
        event_type text NOT NULL,
        error text NOT NULL,
        attempts integer NOT NULL,
        failed_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (group_id, event_id, handler),
        FOREIGN KEY (group_id, event_id) REFERENCES events (group_id, id) ON DELETE CASCADE
    )""",
    "CREATE INDEX event_failures_group_failed_idx ON event_failures (group_id, failed_at DESC)",
]


forwards = sql_migration(ID, "ontology", DESCRIPTION, STATEMENTS)

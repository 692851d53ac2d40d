"""Sentence vectors of trained chunks (:mod:`plugins.clone.sentences` says why a table).

One row per sentence of a chunk of a clone's knowledge: its position in the chunk (as
the offline provider splits it) and its vector, with the model, dimension and splitter
version that made it. Keyed by group first; row-level security like every group-scoped
table; a chunk's rows go with the chunk (and a group's with the group).
"""

from sdk import group_table_statements, sql_migration

ID = "2026-12-06T05:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "clone: sentence vectors of trained chunks"

STATEMENTS = [
    """
    CREATE TABLE IF NOT EXISTS clone_sentence_vectors (
        group_id uuid NOT NULL,
        knowledge_id uuid NOT NULL,
        position integer NOT NULL,
        embedded_as text NOT NULL,
        embedding vector NOT NULL,
        PRIMARY KEY (group_id, knowledge_id, position),
        FOREIGN KEY (group_id, knowledge_id) REFERENCES knowledge (group_id, id)
            ON DELETE CASCADE
    )""",
    *group_table_statements("clone_sentence_vectors"),
]


forwards = sql_migration(ID, "clone", DESCRIPTION, STATEMENTS)

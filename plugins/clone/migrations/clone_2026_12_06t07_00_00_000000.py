"""An index of ``clone_sentence_vectors.embedded_as``: each start of a process asks
whether any sentence vector was made by another embedding model
(:func:`plugins.clone.sentences.schedule_refresh`), which without it reads the whole
table.
"""

from sdk import sql_migration

ID = "2026-12-06T07:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "clone: index sentence vectors by the model that made them"

STATEMENTS = [
    "CREATE INDEX IF NOT EXISTS clone_sentence_vectors_embedded_as "
    "ON clone_sentence_vectors (embedded_as)",
]


forwards = sql_migration(ID, "clone", DESCRIPTION, STATEMENTS)

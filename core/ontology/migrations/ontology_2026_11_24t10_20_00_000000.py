"""Knowledge: find an existing embedding of the same text (content hash) within a group.

Ingest stores ``content_hash`` (sha256 of the chunk text) in each chunk's metadata and
reuses a vector already computed by the same model for the same text instead of
embedding it again; this index keeps that look-up off a scan of the group's chunks.
Partial HNSW indexes for embedding dimensions other than 384 are created at run time,
when a provider of that dimension first writes vectors (``core/knowledge/indexes.py``).
"""

from core.migrations import sql_migration

ID = "2026-11-24T10:20:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "knowledge: content hash index for embedding reuse"

STATEMENTS = [
    """CREATE INDEX knowledge_content_hash_idx
        ON knowledge (group_id, (metadata->>'content_hash'), embedding_model)""",
]


forwards = sql_migration(ID, "ontology", DESCRIPTION, STATEMENTS)

"""Ingest: text → chunks → embeddings (batched) → knowledge rows linked to their thing.

Each chunk's metadata carries ``content_hash`` (sha256 of its text), ``chunk_index``,
``chunk_count``, ``tokens`` and ``labels`` beside the caller's own metadata. Re-ingesting a
thing replaces its chunks: a chunk whose text is unchanged keeps its row and its vector
(its metadata is refreshed), stale chunks are deleted, new ones inserted; any chunk whose
text the same model already embedded in the group reuses that vector instead of calling
the provider again. Embedding happens before the write transaction, so no transaction is
held open while a model or a remote API works.
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from typing import Any
from uuid import UUID

import msgspec

from core.cpu import run_cpu
from core.errors import ValidationFailed
from core.knowledge.chunking import Chunk, Chunker
from core.knowledge.providers import EmbeddingProvider
from core.knowledge.store import KnowledgeStore, NewChunk, StoredChunk
from core.ontology.ids import uuid7
from core.ontology.records import KnowledgeItem
from core.storable import strip_unstorable, stripped_warning
from core.usage import charged_to

#: Metadata keys ingest writes itself; a caller's metadata may not use them.
RESERVED_METADATA = frozenset({"content_hash", "chunk_index", "chunk_count", "tokens", "labels"})
MAX_LABELS = 50
MAX_LABEL_LENGTH = 100


class IngestResult(msgspec.Struct):
    """What an ingest did: the thing's (or the text's) chunks in order, and how many were
    created, kept unchanged, deleted as stale, and actually sent to the provider;
    ``warnings`` says what was changed in the text to store it (characters PostgreSQL
    cannot hold, stripped)."""

    thing_id: UUID | None
    items: list[KnowledgeItem]
    created: int
    unchanged: int
    deleted: int
    embedded: int
    warnings: list[str] = msgspec.field(default_factory=list)


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def check_labels(labels: Sequence[str]) -> list[str]:
    clean: list[str] = []
    for i, label in enumerate(labels):
        if not isinstance(label, str) or not label.strip() or len(label) > MAX_LABEL_LENGTH:
            raise ValidationFailed(
                f"a label is a non-blank string of at most {MAX_LABEL_LENGTH} characters",
                field=f"labels[{i}]",
            )
        if label not in clean:
            clean.append(label)
    if len(clean) > MAX_LABELS:
        raise ValidationFailed(f"at most {MAX_LABELS} labels", field="labels")
    return clean


def check_metadata(metadata: Mapping[str, Any] | None) -> dict[str, Any]:
    clean = dict(metadata or {})
    for key in clean:
        if key in RESERVED_METADATA:
            raise ValidationFailed(
                f"metadata key {key!r} is reserved ({', '.join(sorted(RESERVED_METADATA))})",
                field=f"metadata.{key}",
            )
    return clean


def check_vectors(provider: EmbeddingProvider, texts: Sequence[str], vectors: Any) -> None:
    if len(vectors) != len(texts):
        raise RuntimeError(
            f"embedding provider {provider.name!r} returned {len(vectors)} vectors "
            f"for {len(texts)} texts"
        )
    for vector in vectors:
        if len(vector) != provider.dimension or not all(map(math.isfinite, vector)):
            raise RuntimeError(
                f"embedding provider {provider.name!r} returned a vector that is not "
                f"{provider.dimension} finite numbers"
            )


async def embed_documents(provider: EmbeddingProvider, texts: Sequence[str]) -> list[list[float]]:
    if not texts:
        return []
    vectors = [list(map(float, v)) for v in await provider.embed(list(texts))]
    check_vectors(provider, texts, vectors)
    return vectors


async def ingest(
    store: KnowledgeStore,
    provider: EmbeddingProvider,
    chunker: Chunker,
    text: str,
    *,
    thing_id: UUID | None = None,
    labels: Sequence[str] = (),
    metadata: Mapping[str, Any] | None = None,
) -> IngestResult:
    if not isinstance(text, str) or not text.strip():
        raise ValidationFailed("text must not be empty", field="text")
    # A pasted or extracted document may carry a stray NUL: strip it, and say so.
    text, removed = strip_unstorable(text)
    warnings = [stripped_warning(removed)] if removed else []
    if not text.strip():
        raise ValidationFailed("text must not be empty", field="text")
    labels = check_labels(labels)
    extra = check_metadata(metadata)
    chunks, hashes = await run_cpu(_chunks_and_hashes, chunker, text)
    model, dim = provider.model, provider.dimension

    def chunk_metadata(chunk: Chunk, digest: str) -> dict[str, Any]:
        return {
            **extra,
            "labels": labels,
            "content_hash": digest,
            "chunk_index": chunk.index,
            "chunk_count": len(chunks),
            "tokens": chunk.tokens,
        }

    # Plan outside the transaction: which texts need a vector from the provider.
    existing = await store.thing_chunks(thing_id) if thing_id is not None else []
    if thing_id is not None and not existing:
        await store._scoped.things.get(thing_id)  # 404 early for another group's thing
    with charged_to(store.group_id):  # a hosted provider spends this group's budget
        vectors, embedded = await _vectors_for(store, provider, hashes, chunks, existing)

    async with store.session.transaction():
        if thing_id is not None:
            await store.lock_thing(thing_id)
            existing = await store.thing_chunks(thing_id)  # as of the lock
        reusable: dict[str, list[StoredChunk]] = defaultdict(list)
        for row in existing:
            if row.content_hash and row.embedding_model == model and row.embedding_dim == dim:
                reusable[row.content_hash].append(row)
        keep: dict[UUID, dict[str, Any]] = {}
        new: list[NewChunk] = []
        order: list[UUID] = []
        # A text that occurs more often than rows with its vector are left (repeated
        # paragraphs; or another ingest changed the thing meanwhile) needs its vector.
        needed = Counter(hashes)
        missing = {
            h: c
            for c, h in zip(chunks, hashes, strict=True)
            if h not in vectors and needed[h] > len(reusable.get(h, ()))
        }
        if missing:
            more = await embed_documents(provider, [c.text for c in missing.values()])
            vectors.update(zip(missing, more, strict=True))
            embedded += len(missing)
        for chunk, digest in zip(chunks, hashes, strict=True):
            meta = chunk_metadata(chunk, digest)
            if reusable.get(digest):
                row = reusable[digest].pop(0)
                if row.metadata != meta:
                    keep[row.id] = meta
                order.append(row.id)
            else:
                kid = uuid7()
                new.append(NewChunk(kid, chunk.text, meta, vectors[digest]))
                order.append(kid)
        kept_ids = set(order)
        stale = [row.id for row in existing if row.id not in kept_ids]
        deleted = await store.delete_ids(stale)
        await store.update_metadata(keep)
        await store.insert_chunks(new, embedding_model=model, thing_id=thing_id)
        items = await store.get_many(order)
    return IngestResult(
        thing_id=thing_id,
        items=items,
        created=len(new),
        unchanged=len(chunks) - len(new),
        deleted=deleted,
        embedded=embedded,
        warnings=warnings,
    )


def _chunks_and_hashes(chunker: Chunker, text: str) -> tuple[list[Chunk], list[str]]:
    """The text's chunks and their hashes: work that grows with the text, for the CPU pool."""
    chunks = chunker.split(text)
    return chunks, [content_hash(c.text) for c in chunks]


async def _vectors_for(
    store: KnowledgeStore,
    provider: EmbeddingProvider,
    hashes: Sequence[str],
    chunks: Sequence[Chunk],
    existing: Sequence[StoredChunk],
) -> tuple[dict[str, list[float]], int]:
    """Vectors for the chunks that will need a new row: copied from rows of the same text
    and model in the group where there are, otherwise from the provider (one batch)."""
    model, dim = provider.model, provider.dimension
    kept = {
        row.content_hash
        for row in existing
        if row.content_hash and row.embedding_model == model and row.embedding_dim == dim
    }
    needed = [h for h in dict.fromkeys(hashes) if h not in kept]
    found = await store.embeddings_by_hash(needed, model, dim)
    vectors = dict(found)
    texts = {h: c.text for c, h in zip(chunks, hashes, strict=True)}
    to_embed = [h for h in needed if h not in found]
    fresh = await embed_documents(provider, [texts[h] for h in to_embed])
    vectors.update(zip(to_embed, fresh, strict=True))
    return vectors, len(to_embed)

"""The knowledge store: text chunks, labels and documents of a group with optional
embeddings, linked to things (search and ingest build on it in :mod:`core.knowledge`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, get_args
from uuid import UUID

from core.errors import NotFound, ValidationFailed
from core.ontology.ids import uuid7
from core.ontology.queries import DEFAULT_LIMIT as DEFAULT_LIMIT
from core.ontology.queries import MAX_LIMIT as MAX_LIMIT
from core.ontology.queries import Query as _Query
from core.ontology.queries import check_limit as check_limit
from core.ontology.queries import decode_cursor as decode_cursor
from core.ontology.queries import encode_cursor as encode_cursor
from core.ontology.queries import page_of as _page
from core.ontology.records import KnowledgeItem, Page
from core.ontology.store_base import (
    KNOWLEDGE_COLUMNS,
    _Store,
)

if TYPE_CHECKING:
    pass


#: What a knowledge item is: a chunk of text, a label, a whole document.
KnowledgeKind = Literal["chunk", "label", "document"]


class Knowledge(_Store):
    """Text chunks, labels and documents with optional embeddings, linked to things."""

    KINDS: tuple[str, ...] = get_args(KnowledgeKind)

    async def add(
        self,
        text: str,
        *,
        kind: str = "chunk",
        metadata: Mapping[str, Any] | None = None,
        embedding: Sequence[float] | None = None,
        embedding_model: str | None = None,
        thing_id: UUID | None = None,
        role: str = "source",
    ) -> KnowledgeItem:
        if kind not in self.KINDS:
            raise ValidationFailed(f"kind must be one of {', '.join(self.KINDS)}", field="kind")
        if embedding is not None and not embedding_model:
            # a vector without its model can never be searched or re-embedded correctly
            raise ValidationFailed(
                "an embedding needs the embedding_model that made it", field="embedding_model"
            )
        dim = len(embedding) if embedding is not None else None
        if embedding is not None and (not dim or not all(map(math.isfinite, embedding))):
            raise ValidationFailed(
                "embedding must be a non-empty list of finite numbers", field="embedding"
            )
        async with self.session.transaction() as conn:
            if thing_id is not None:
                await self._scoped.things.get(thing_id)
            row = await conn.fetchrow(
                f"INSERT INTO knowledge (id, group_id, kind, text, metadata, embedding, "
                f"embedding_model, embedding_dim) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) "
                f"RETURNING {KNOWLEDGE_COLUMNS}",
                uuid7(),
                self.group_id,
                kind,
                text,
                dict(metadata or {}),
                list(embedding) if embedding is not None else None,
                embedding_model,
                dim,
            )
            item = KnowledgeItem(**row)
            if thing_id is not None:
                await conn.execute(
                    "INSERT INTO thing_knowledge (group_id, thing_id, knowledge_id, role) "
                    "VALUES ($1, $2, $3, $4)",
                    self.group_id,
                    thing_id,
                    item.id,
                    role,
                )
        return item

    async def get(self, knowledge_id: UUID) -> KnowledgeItem:
        async with self.session.reading() as conn:
            row = await conn.fetchrow(
                f"SELECT {KNOWLEDGE_COLUMNS} FROM knowledge WHERE group_id = $1 AND id = $2",
                self.group_id,
                knowledge_id,
            )
        if row is None:
            raise NotFound(f"knowledge {knowledge_id} not found")
        return KnowledgeItem(**row)

    async def get_many(
        self, knowledge_ids: Sequence[UUID], *, of_things: Sequence[UUID] | None = None
    ) -> list[KnowledgeItem]:
        """The items among ``knowledge_ids`` that exist, in the order given; with
        ``of_things``, only those linked to one of these things (a missing one is left
        out, not an error: for work on batches of ids read elsewhere)."""
        if len(knowledge_ids) > 10 * MAX_LIMIT:
            raise ValidationFailed(f"at most {10 * MAX_LIMIT} ids at once", field="ids")
        async with self.session.reading() as conn:
            rows = await conn.fetch(
                f"SELECT {KNOWLEDGE_COLUMNS} FROM knowledge k "
                "WHERE group_id = $1 AND id = ANY($2::uuid[]) AND ($3::uuid[] IS NULL OR "
                "EXISTS (SELECT 1 FROM thing_knowledge tk WHERE tk.group_id = $1 "
                "AND tk.knowledge_id = k.id AND tk.thing_id = ANY($3::uuid[])))",
                self.group_id,
                list(knowledge_ids),
                list(of_things) if of_things is not None else None,
            )
        by_id = {row["id"]: KnowledgeItem(**row) for row in rows}
        return [by_id[i] for i in knowledge_ids if i in by_id]

    async def list(
        self,
        *,
        kind: str | None = None,
        thing_id: UUID | None = None,
        cursor: str | None = None,
        limit: int = DEFAULT_LIMIT,
    ) -> Page[KnowledgeItem]:
        query = _Query(self.group_id)
        if kind is not None:
            query.add("kind = {}", kind)
        if thing_id is not None:
            query.add(
                "id IN (SELECT knowledge_id FROM thing_knowledge "
                "WHERE group_id = $1 AND thing_id = {})",
                thing_id,
            )
        sql, limit = query.page(KNOWLEDGE_COLUMNS, "knowledge", cursor, limit)
        async with self.session.reading() as conn:
            rows = await conn.fetch(sql, *query.args)
        return _page([KnowledgeItem(**row) for row in rows], limit)

    async def delete(self, knowledge_id: UUID) -> None:
        async with self.session.transaction() as conn:
            deleted = await conn.execute(
                "DELETE FROM knowledge WHERE group_id = $1 AND id = $2", self.group_id, knowledge_id
            )
        if deleted.endswith(" 0"):
            raise NotFound(f"knowledge {knowledge_id} not found")

    async def delete_for_thing(self, thing_id: UUID) -> int:
        """Remove every knowledge row linked to ``thing_id`` (e.g. before re-ingesting it)."""
        async with self.session.transaction() as conn:
            status = await conn.execute(
                "DELETE FROM knowledge WHERE group_id = $1 AND id IN (SELECT knowledge_id "
                "FROM thing_knowledge WHERE group_id = $1 AND thing_id = $2)",
                self.group_id,
                thing_id,
            )
        return int(status.split()[-1])

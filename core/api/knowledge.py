"""Knowledge: ingest text into chunks with embeddings, list, search, delete."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Controller, Response, delete, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from msgspec import Meta

from core.api.openapi import item_schema
from core.api.params import PageCursor, PageLimit
from core.auth.permissions import Permissions, Resource
from core.knowledge.ingest import MAX_LABEL_LENGTH, MAX_LABELS, IngestResult
from core.knowledge.search import DEFAULT_LIMIT as SEARCH_LIMIT
from core.knowledge.search import MAX_LIMIT as MAX_SEARCH_LIMIT
from core.knowledge.search import MAX_QUERY_LENGTH, Mode, SearchHit
from core.ontology.records import KnowledgeItem, Page
from core.ontology.scope import Scope
from core.ontology.stores import DEFAULT_LIMIT, KnowledgeKind, Ontology
from core.platform import Platform
from core.storable import pasted_text

#: Largest text one ingest takes, in characters (the request body limit applies too).
MAX_TEXT_LENGTH = 1_000_000
#: A label: not blank, at most ``MAX_LABEL_LENGTH`` characters.
Label = Annotated[str, Meta(min_length=1, max_length=MAX_LABEL_LENGTH, pattern=r"\S")]
#: ``?q=``: the question, not blank.
SearchQuery = Annotated[
    str, QueryParameter(min_length=1, max_length=MAX_QUERY_LENGTH, pattern=r"\S")
]
SearchLimit = Annotated[int, QueryParameter(ge=1, le=MAX_SEARCH_LIMIT)]
#: ``?label=`` (repeated): chunks carrying all these labels.
LabelFilter = Annotated[
    list[Label] | None,
    QueryParameter(max_items=MAX_LABELS, schema_extra={"items": item_schema(Label)}),
]


class KnowledgeIngest(msgspec.Struct, forbid_unknown_fields=True):
    """Text to chunk and embed. With ``thing_id`` the chunks belong to that thing and a
    new ingest for it replaces them (unchanged chunks keep their vectors)."""

    text: Annotated[str, Meta(min_length=1, max_length=MAX_TEXT_LENGTH, pattern=r"\S")]
    thing_id: UUID | None = None
    labels: Annotated[list[Label], Meta(max_length=MAX_LABELS)] = msgspec.field(
        default_factory=list
    )
    metadata: dict[str, Any] = msgspec.field(default_factory=dict)


class SearchResults(msgspec.Struct):
    query: str
    mode: str
    items: list[SearchHit]


class KnowledgeController(Controller):
    path = "/api/v1/groups/{group_id:uuid}/knowledge"
    tags = ["knowledge"]

    @post("/", summary="Ingest text: chunk, embed and store it", opt=pasted_text("text"))
    async def ingest(
        self,
        data: JSONBody[KnowledgeIngest],
        group_scope: NamedDependency[Scope],
        platform: NamedDependency[Platform],
        permissions: NamedDependency[Permissions],
    ) -> Response[IngestResult]:
        """Answers the chunks in order with counts: ``created``, ``unchanged`` (kept from an
        earlier ingest of the same thing), ``deleted`` (stale) and ``embedded``. NUL
        characters in ``text`` (a pasted document) are stripped, and ``warnings`` says so."""
        permissions.require(
            group_scope, "knowledge.write", Resource(group_scope.group_id, id=data.thing_id)
        )
        result = await platform.knowledge.ingest(
            group_scope,
            data.text,
            thing_id=data.thing_id,
            labels=data.labels,
            metadata=data.metadata,
        )
        return Response(result, status_code=201)

    @get("/", summary="List knowledge, newest first")
    async def list_knowledge(
        self,
        group_scope: NamedDependency[Scope],
        ontology: NamedDependency[Ontology],
        permissions: NamedDependency[Permissions],
        kind: FromQuery[KnowledgeKind | None] = None,
        thing_id: FromQuery[UUID | None] = None,
        cursor: PageCursor = None,
        limit: PageLimit = DEFAULT_LIMIT,
    ) -> Page[KnowledgeItem]:
        """Filter by ``kind`` and ``thing_id``. Pass ``next_cursor`` back as ``cursor``."""
        permissions.require(group_scope, "knowledge.read", Resource(group_scope.group_id))
        return await ontology.scoped(group_scope).knowledge.list(
            kind=kind, thing_id=thing_id, cursor=cursor, limit=limit
        )

    @get("/search", summary="Search knowledge (hybrid, vector or full-text)")
    async def search(
        self,
        group_scope: NamedDependency[Scope],
        platform: NamedDependency[Platform],
        permissions: NamedDependency[Permissions],
        q: SearchQuery,
        mode: FromQuery[Mode] = "hybrid",
        thing_id: FromQuery[list[UUID] | None] = None,
        label: LabelFilter = None,
        limit: SearchLimit = SEARCH_LIMIT,
    ) -> SearchResults:
        """``mode``: ``hybrid`` (default; the other two's scores combined), ``vector``
        (cosine similarity of embeddings) or ``fulltext`` (English full-text: any of the
        question's informative words, or every word with web-search syntax). Repeat
        ``thing_id`` for any of several things and ``label`` for chunks carrying all those
        labels. ``limit`` is 1-100 (default 10)."""
        permissions.require(group_scope, "knowledge.read", Resource(group_scope.group_id))
        hits = await platform.knowledge.search(
            group_scope,
            q,
            mode=mode,
            limit=limit,
            thing_ids=thing_id or (),
            labels=label or (),
        )
        return SearchResults(query=q, mode=mode, items=hits)

    @get("/{knowledge_id:uuid}", summary="Get one knowledge item")
    async def get_item(
        self,
        knowledge_id: FromPath[UUID],
        group_scope: NamedDependency[Scope],
        ontology: NamedDependency[Ontology],
        permissions: NamedDependency[Permissions],
    ) -> KnowledgeItem:
        permissions.require(group_scope, "knowledge.read", Resource(group_scope.group_id))
        return await ontology.scoped(group_scope).knowledge.get(knowledge_id)

    @delete("/{knowledge_id:uuid}", summary="Delete a knowledge item")
    async def delete_item(
        self,
        knowledge_id: FromPath[UUID],
        group_scope: NamedDependency[Scope],
        ontology: NamedDependency[Ontology],
        permissions: NamedDependency[Permissions],
    ) -> None:
        permissions.require(
            group_scope, "knowledge.write", Resource(group_scope.group_id, id=knowledge_id)
        )
        await ontology.scoped(group_scope).knowledge.delete(knowledge_id)

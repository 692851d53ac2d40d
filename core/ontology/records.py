"""What the stores return: one msgspec struct per dimension, also the API's response bodies."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Generic, TypeVar
from uuid import UUID

import msgspec

T = TypeVar("T")


class Group(msgspec.Struct):
    id: UUID
    parent_id: UUID | None
    slug: str
    name: str
    kind: str
    settings: dict[str, Any]
    created_at: datetime


class Thing(msgspec.Struct):
    id: UUID
    group_id: UUID
    type: str
    name: str
    status: str
    properties: dict[str, Any]
    version: int
    created_at: datetime
    updated_at: datetime


class Connection(msgspec.Struct):
    id: UUID
    group_id: UUID
    type: str
    from_id: UUID
    to_id: UUID
    metadata: dict[str, Any]
    created_at: datetime
    valid_to: datetime | None


class Event(msgspec.Struct):
    id: UUID
    group_id: UUID
    type: str
    actor_id: UUID | None
    target_id: UUID | None
    payload: dict[str, Any]
    occurred_at: datetime


class KnowledgeItem(msgspec.Struct):
    id: UUID
    group_id: UUID
    kind: str
    text: str
    metadata: dict[str, Any]
    embedding_model: str | None
    embedding_dim: int | None
    created_at: datetime


class Page(msgspec.Struct, Generic[T]):
    """One page of a listing; pass ``next_cursor`` back as ``cursor`` for the next."""

    items: list[T]
    next_cursor: str | None = None

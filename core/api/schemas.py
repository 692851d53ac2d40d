"""Request bodies of the generic API (responses are the records in core.ontology.records)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

import msgspec
from msgspec import Meta

Name = Annotated[str, Meta(min_length=1, max_length=500)]
TypeName = Annotated[str, Meta(min_length=1, max_length=100)]
Status = Annotated[str, Meta(min_length=1, max_length=50)]
Slug = Annotated[str, Meta(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$", max_length=63)]


#: Settings only the platform (billing, a platform owner) may set.
PLATFORM_SETTINGS = frozenset({"plan"})


class GroupCreate(msgspec.Struct, forbid_unknown_fields=True):
    slug: Slug
    name: Name
    kind: Annotated[str, Meta(min_length=1, max_length=50)] = "organization"
    parent_id: UUID | None = None
    settings: dict[str, Any] = msgspec.field(default_factory=dict)

    def __post_init__(self) -> None:
        reserved = sorted(PLATFORM_SETTINGS & set(self.settings))
        if reserved:  # a creator must not grant themselves a plan
            raise ValueError(f"settings.{reserved[0]} is set by the platform, not by the creator")


class ThingCreate(msgspec.Struct, forbid_unknown_fields=True):
    type: TypeName
    name: Name
    properties: dict[str, Any] = msgspec.field(default_factory=dict)
    status: Status | None = None


class ThingUpdate(msgspec.Struct, forbid_unknown_fields=True):
    """Fields left out are unchanged. ``properties`` merge (a ``null`` removes a key) unless
    ``replace_properties``. ``version`` (or an ``If-Match`` header) guards against lost
    updates."""

    name: Name | None = None
    status: Status | None = None
    properties: dict[str, Any] | None = None
    replace_properties: bool = False
    version: Annotated[int, Meta(ge=1)] | None = None


class ConnectionCreate(msgspec.Struct, forbid_unknown_fields=True):
    type: TypeName
    from_id: UUID
    to_id: UUID
    metadata: dict[str, Any] = msgspec.field(default_factory=dict)


class TokenCreate(msgspec.Struct, forbid_unknown_fields=True):
    name: Annotated[str, Meta(min_length=1, max_length=100)] = "api"
    #: Days the token is valid; unset: until revoked.
    expires_in_days: Annotated[int, Meta(ge=1, le=3650)] | None = None


class TokenCreated(msgspec.Struct):
    id: UUID
    name: str
    token: str
    expires_at: datetime | None = None


class TypeInfo(msgspec.Struct):
    kind: str
    name: str
    plugin: str
    description: str
    schema: dict[str, Any] | None

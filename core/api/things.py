"""Things: create, read, list with filters and cursor pagination, update, soft delete."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, HeaderParameter, JSONBody, QueryParameter

from core.api.deps import GroupContext
from core.api.params import PageCursor, PageLimit, TypeFilter
from core.api.schemas import ThingCreate, ThingUpdate
from core.auth.permissions import Resource
from core.errors import ValidationFailed
from core.ontology.records import Page, Thing
from core.ontology.scope import VISITOR_ROLE, Scope
from core.ontology.stores import DEFAULT_LIMIT
from core.ontology.types import TypeRegistry

WHERE_PREFIX = "where."

#: The ``If-Match`` request header. A bare ``FromHeader`` would read a header named after
#: the parameter (``if_match``), which no client sends.
IfMatch = Annotated[str | None, HeaderParameter(name="If-Match")]
#: ``?status=`` filters by a thing's status.
StatusFilter = Annotated[str | None, QueryParameter(min_length=1, max_length=50)]


async def _readable_subgroups(
    group: GroupContext, type: str | None, status: str | None
) -> dict[UUID, str] | None:
    """The groups of the tree below ``group`` whose things of ``type`` and ``status`` the
    caller may read with the role they hold *there*, with that role (``None``: all of
    them, with the caller's role)."""
    scope = group.scope
    if scope.person_id is None or scope.is_system or scope.platform_role == "platform_owner":
        return None
    roles = await group.platform.directory.roles_below(scope)
    return {
        group_id: role
        for group_id, role in roles.items()
        if group.permissions.can(
            Scope(group_id=group_id, person_id=scope.person_id, role=role),
            "thing.read",
            Resource(group_id=group_id, type=type, status=status),
        )
    }


def etag(thing: Thing) -> str:
    return f'"{thing.version}"'


def parse_if_match(value: str | None) -> int | None:
    """The version an ``If-Match: "<version>"`` header names (``None`` without one); a
    422 for a tag this API did not hand out."""
    if value is None:
        return None
    tag = value.strip().removeprefix("W/").strip('"')
    if not (tag.isascii() and tag.isdigit()):  # not "²": str.isdigit accepts it, int() not
        raise ValidationFailed("If-Match must be an ETag this API returned", field="If-Match")
    return int(tag)


def property_filters(registry: TypeRegistry, type_name: str | None, params: Any) -> dict[str, Any]:
    """``?where.<field>=<value>`` pairs, converted to the field's type from the registry."""
    raw = {k[len(WHERE_PREFIX) :]: v for k, v in params.items() if k.startswith(WHERE_PREFIX)}
    if not raw:
        return {}
    if type_name is None:
        raise ValidationFailed("filtering by property needs a type filter too", field="type")
    struct = registry.thing_type(type_name).properties
    if struct is None:
        return raw
    fields = {f.encode_name: f.type for f in msgspec.structs.fields(struct)}
    converted = {}
    for key, value in raw.items():
        if key not in fields:
            raise ValidationFailed(
                f"{type_name!r} has no property {key!r}", field=f"{WHERE_PREFIX}{key}"
            )
        try:
            converted[key] = msgspec.to_builtins(msgspec.convert(value, fields[key], strict=False))
        except msgspec.ValidationError as exc:
            raise ValidationFailed(str(exc), field=f"{WHERE_PREFIX}{key}") from None
    return converted


#: Roles that read only published things, and only what their types make public of them.
_OUTSIDERS = frozenset({"customer", VISITOR_ROLE})


def as_seen_by(group: GroupContext, thing: Thing, role: str | None = None) -> Thing:
    """``thing`` as the caller may see it: customers and visitors get its type's public
    view (``ThingType.public_properties``), members all of it. ``role``: the caller's
    role in the thing's group when that is not the request's (a sub-group's)."""
    if (role or group.scope.role) in _OUTSIDERS:
        return group.stores.registry.public_view(thing)
    return thing


class ThingsController(Controller):
    path = "/api/v1/groups/{group_id:uuid}/things"
    tags = ["things"]

    @post("/", summary="Create a thing")
    async def create_thing(
        self, data: JSONBody[ThingCreate], group: NamedDependency[GroupContext]
    ) -> Response[Thing]:
        group.require("thing.create", group.resource(type=data.type))
        thing = await group.stores.things.create(
            data.type, name=data.name, properties=data.properties, status=data.status
        )
        location = f"/api/v1/groups/{group.group_id}/things/{thing.id}"
        return Response(thing, status_code=201, headers={"ETag": etag(thing), "Location": location})

    @get("/", summary="List things, newest first")
    async def list_things(
        self,
        request: Request[Any, Any, Any],
        group: NamedDependency[GroupContext],
        type: TypeFilter = None,
        status: StatusFilter = None,
        include_subgroups: FromQuery[bool] = False,
        cursor: PageCursor = None,
        limit: PageLimit = DEFAULT_LIMIT,
    ) -> Page[Thing]:
        """Filter by ``type``, ``status`` and property equality with ``where.<field>=value``
        (needs ``type``); ``include_subgroups=true`` adds the things of sub-groups.
        Pass ``next_cursor`` back as ``cursor`` for the next page."""
        group.require("thing.read", group.resource(type=type, status=status))
        where = property_filters(group.stores.registry, type, request.query_params)
        if where and group.scope.role in _OUTSIDERS:
            public = group.stores.registry.thing_type(type or "").public_properties
            hidden = sorted(set(where) - set(public if public is not None else where))
            if hidden:  # a filter on a hidden property would tell its value
                raise ValidationFailed(
                    f"{type!r} has no public property {hidden[0]!r}",
                    field=f"{WHERE_PREFIX}{hidden[0]}",
                )
        readable = await _readable_subgroups(group, type, status) if include_subgroups else None
        page = await group.stores.things.list(
            type=type,
            status=status,
            where=where,
            include_subgroups=include_subgroups,
            subgroups=readable,
            cursor=cursor,
            limit=limit,
        )
        roles = readable or {}
        page.items = [as_seen_by(group, thing, roles.get(thing.group_id)) for thing in page.items]
        return page

    @get("/{thing_id:uuid}", summary="Get a thing")
    async def get_thing(
        self, thing_id: FromPath[UUID], group: NamedDependency[GroupContext]
    ) -> Response[Thing]:
        thing = await group.stores.things.get(thing_id)
        group.require("thing.read", group.resource(thing.type, thing.id, thing.status))
        return Response(as_seen_by(group, thing), headers={"ETag": etag(thing)})

    @patch("/{thing_id:uuid}", summary="Update a thing")
    async def update_thing(
        self,
        thing_id: FromPath[UUID],
        data: JSONBody[ThingUpdate],
        group: NamedDependency[GroupContext],
        if_match: IfMatch = None,
    ) -> Response[Thing]:
        """Send ``If-Match: "<version>"`` (the ETag) or ``version`` to refuse a change made
        by someone else in the meantime (412)."""
        header_version = parse_if_match(if_match)
        if header_version is not None and data.version and header_version != data.version:
            raise ValidationFailed("If-Match and version disagree", field="version")
        store = group.stores.things
        current = await store.get(thing_id)
        group.require("thing.update", group.resource(current.type, current.id, current.status))
        thing = await store.update(
            thing_id,
            name=data.name,
            status=data.status,
            properties=data.properties,
            replace_properties=data.replace_properties,
            expected_version=header_version if header_version is not None else data.version,
        )
        return Response(thing, headers={"ETag": etag(thing)})

    @delete("/{thing_id:uuid}", summary="Delete a thing (soft)")
    async def delete_thing(
        self,
        thing_id: FromPath[UUID],
        group: NamedDependency[GroupContext],
        if_match: IfMatch = None,
    ) -> None:
        store = group.stores.things
        current = await store.get(thing_id)
        group.require("thing.delete", group.resource(current.type, current.id, current.status))
        await store.delete(thing_id, expected_version=parse_if_match(if_match))

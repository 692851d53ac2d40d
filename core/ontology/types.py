"""Type declarations plugins register, and the registry that validates writes against them.

A plugin adds *types*, not tables: ``ThingType("page", properties=PageProps)``. Every write
of ``properties`` / ``metadata`` / ``payload`` is converted through the registered msgspec
struct, so what is stored is always what the type says, defaults filled in.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import msgspec

from core.errors import UnknownType, ValidationFailed

if TYPE_CHECKING:
    from core.ontology.records import Thing

_NAME_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789_.")

#: In a connection type's ``from_types`` / ``to_types``: a person who holds a role in the
#: connection's group (a membership there or in a group above it), not a thing. No thing
#: type may take this name.
PERSON = "person"


def _check_name(kind: str, name: str) -> None:
    if not name or not set(name) <= _NAME_CHARS or not name[0].isalpha() or len(name) > 100:
        raise ValueError(
            f"{kind} name {name!r} must start with a letter and use only a-z, 0-9, '_' and '.'"
        )


@dataclass(frozen=True)
class ThingType:
    """A kind of thing. ``properties`` is the msgspec struct its properties must satisfy;
    ``None`` accepts any JSON object. ``statuses``, when given, lists the allowed statuses
    (the first is the default).

    ``public_properties`` and ``public_name`` say what customers and visitors, who read a
    group's ``published`` things, see of one through the generic things API: ``None``, all
    its properties; a tuple, only those named (a published page's live revision, not the
    draft it is being edited into); ``public_name=False`` shows them an empty name."""

    name: str
    properties: type[msgspec.Struct] | None = None
    description: str = ""
    statuses: tuple[str, ...] = ()
    public_properties: tuple[str, ...] | None = None
    public_name: bool = True

    def __post_init__(self) -> None:
        _check_name("thing type", self.name)
        if self.public_properties is not None and self.properties is not None:
            known = {f.encode_name for f in msgspec.structs.fields(self.properties)}
            unknown = sorted(set(self.public_properties) - known)
            if unknown:
                raise ValueError(
                    f"thing type {self.name!r}: public_properties names {', '.join(unknown)}, "
                    f"which {self.properties.__name__} does not have"
                )

    @property
    def default_status(self) -> str:
        return self.statuses[0] if self.statuses else "active"


@dataclass(frozen=True)
class ConnectionType:
    """A typed, directed relation. ``from_types`` / ``to_types`` restrict the endpoints'
    thing types (empty: any thing); :data:`PERSON` among them admits a member of the
    group at that end, e.g. ``ConnectionType("bought", (PERSON,), ("course",))``.
    ``unique`` allows one live connection per (from, to)."""

    name: str
    from_types: tuple[str, ...] = ()
    to_types: tuple[str, ...] = ()
    metadata: type[msgspec.Struct] | None = None
    unique: bool = True
    description: str = ""

    def __post_init__(self) -> None:
        _check_name("connection type", self.name)


@dataclass(frozen=True)
class EventType:
    """Something that happened. ``payload`` is the struct its payload must satisfy."""

    name: str
    payload: type[msgspec.Struct] | None = None
    description: str = ""

    def __post_init__(self) -> None:
        _check_name("event type", self.name)


class DuplicateTypeError(Exception):
    """Two plugins registered the same type name, or a plugin took a name core reserves."""


@dataclass
class _Registered:
    declaration: Any
    plugin: str


def _field_path(where: str, message: str) -> tuple[str, str]:
    """Split msgspec's ``Expected int, got str - at `$.price``` into (detail, field).

    For a missing or unknown field msgspec points at the object that holds it (``Object
    missing required field `sku```, at the root); the field named is that key itself."""
    detail, _, at = message.partition(" - at `$")
    path = where + at.rstrip("`")
    for marker in ("missing required field `", "contains unknown field `"):
        key = detail.partition(marker)[2]
        if key:
            path += "." + key.rstrip("`")
    return detail, path


@functools.cache
def _struct_info(struct: type[msgspec.Struct]) -> msgspec.inspect.Type:
    return msgspec.inspect.type_info(struct)


def _unknown_field(info: msgspec.inspect.Type, data: Any, path: str) -> tuple[str, str] | None:
    """The first key in ``data`` that its struct (at any depth) does not declare, as
    (path, message). msgspec ignores unknown keys unless a struct forbids them."""
    inspect = msgspec.inspect
    if isinstance(info, inspect.StructType) and isinstance(data, dict):
        fields = {f.encode_name: f for f in info.fields}
        known = set(fields) | ({info.tag_field} if info.tag_field else set())
        for key in data:
            if key not in known:
                expected = ", ".join(sorted(fields)) or "none"
                return f"{path}.{key}", f"unknown field {key!r}; expected one of: {expected}"
        for name, item in data.items():
            if name in fields:
                found = _unknown_field(fields[name].type, item, f"{path}.{name}")
                if found:
                    return found
    elif isinstance(info, inspect.UnionType):
        candidates = [t for t in info.types if not isinstance(t, inspect.NoneType)]
        if len(candidates) == 1:
            return _unknown_field(candidates[0], data, path)
    elif isinstance(info, inspect.ListType | inspect.SetType | inspect.VarTupleType):
        if isinstance(data, list):
            for index, item in enumerate(data):
                found = _unknown_field(info.item_type, item, f"{path}[{index}]")
                if found:
                    return found
    elif isinstance(info, inspect.DictType) and isinstance(data, dict):
        for key, item in data.items():
            found = _unknown_field(info.value_type, item, f"{path}.{key}")
            if found:
                return found
    return None


def validate_object(struct: type[msgspec.Struct] | None, data: Any, where: str) -> dict[str, Any]:
    """Convert ``data`` through ``struct`` and return the normalised JSON-ready dict.

    Unknown fields are refused, at any depth (a typo must not vanish silently); ``where``
    prefixes the field path in errors, e.g. ``properties.price``.
    """
    if not isinstance(data, dict):
        raise ValidationFailed(f"{where} must be a JSON object", field=where)
    if struct is None:
        return data
    try:
        value = msgspec.convert(data, struct)
    except msgspec.ValidationError as exc:
        detail, path = _field_path(where, str(exc))
        raise ValidationFailed(detail, field=path) from None
    unknown = _unknown_field(_struct_info(struct), data, where)
    if unknown:
        raise ValidationFailed(unknown[1], field=unknown[0])
    result: dict[str, Any] = msgspec.to_builtins(value)
    return result


@dataclass
class TypeRegistry:
    """Every thing, connection and event type of the enabled plugins, with who owns it."""

    things: dict[str, _Registered] = field(default_factory=dict)
    connections: dict[str, _Registered] = field(default_factory=dict)
    events: dict[str, _Registered] = field(default_factory=dict)

    def _add(self, table: dict[str, _Registered], decl: Any, plugin: str) -> None:
        # Names are unique per kind: the platform collects them with collect_unique.
        table[decl.name] = _Registered(decl, plugin)

    def add_thing_type(self, decl: ThingType, plugin: str) -> None:
        if decl.name == PERSON:
            raise DuplicateTypeError(
                f"plugin {plugin!r} registers a thing type named {PERSON!r}, a name core "
                "reserves: in a connection type's from_types/to_types it means a member of "
                "the group; give the thing type another name"
            )
        self._add(self.things, decl, plugin)

    def add_connection_type(self, decl: ConnectionType, plugin: str) -> None:
        self._add(self.connections, decl, plugin)

    def add_event_type(self, decl: EventType, plugin: str) -> None:
        self._add(self.events, decl, plugin)

    def thing_type(self, name: str) -> ThingType:
        found = self.things.get(name)
        if found is None:
            raise UnknownType(
                f"unknown thing type {name!r}; registered: {', '.join(sorted(self.things))}",
                field="type",
            )
        decl: ThingType = found.declaration
        return decl

    def connection_type(self, name: str) -> ConnectionType:
        found = self.connections.get(name)
        if found is None:
            raise UnknownType(
                f"unknown connection type {name!r}; "
                f"registered: {', '.join(sorted(self.connections))}",
                field="type",
            )
        decl: ConnectionType = found.declaration
        return decl

    def event_type(self, name: str) -> EventType:
        found = self.events.get(name)
        if found is None:
            raise UnknownType(
                f"unknown event type {name!r}; registered: {', '.join(sorted(self.events))}",
                field="type",
            )
        decl: EventType = found.declaration
        return decl

    def public_view(self, thing: Thing) -> Thing:
        """``thing`` as customers and visitors may see it (:class:`ThingType`'s
        ``public_properties`` and ``public_name``)."""
        found = self.things.get(thing.type)
        if found is None:
            return thing
        decl: ThingType = found.declaration
        if decl.public_properties is None and decl.public_name:
            return thing
        properties = thing.properties
        if decl.public_properties is not None:
            properties = {k: v for k, v in properties.items() if k in decl.public_properties}
        name = thing.name if decl.public_name else ""
        return msgspec.structs.replace(thing, name=name, properties=properties)

    def validate_properties(self, type_name: str, properties: Any) -> dict[str, Any]:
        return validate_object(self.thing_type(type_name).properties, properties, "properties")

    def validate_metadata(self, type_name: str, metadata: Any) -> dict[str, Any]:
        return validate_object(self.connection_type(type_name).metadata, metadata, "metadata")

    def validate_payload(self, type_name: str, payload: Any) -> dict[str, Any]:
        return validate_object(self.event_type(type_name).payload, payload, "payload")

    def owned_by(self, plugin: str) -> dict[str, list[str]]:
        return {
            kind: sorted(name for name, reg in table.items() if reg.plugin == plugin)
            for kind, table in (
                ("things", self.things),
                ("connections", self.connections),
                ("events", self.events),
            )
        }

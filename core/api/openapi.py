"""The OpenAPI document states every limit msgspec enforces on a request body.

Litestar's schema for a ``msgspec.Struct`` carries the constraints of a field's own type
(``Annotated[str, Meta(max_length=...)]``) but drops those one level down: the items of a
list (``list[Annotated[str, Meta(max_length=80)]]``), the keys and values of a dict. For an
optional field it states them beside ``oneOf`` rather than on the branch they bind. This
plugin builds the schema as Litestar does, then walks each field's type as msgspec sees it
(``msgspec.inspect``) and writes every constraint onto the schema node it applies to, so
one definition both validates and documents.

Parameters are another matter: Litestar neither enforces nor documents a ``Meta`` on a
query parameter's own type, so a parameter states its limits with
``QueryParameter(ge=..., max_length=...)``, which Litestar both enforces and documents.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec
from litestar import Litestar
from litestar._openapi.schema_generation.plugins.struct import StructSchemaPlugin
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import OpenAPIType, Schema
from litestar.routes import HTTPRoute
from litestar.typing import FieldDefinition

if TYPE_CHECKING:
    from litestar._openapi.schema_generation import SchemaCreator

__all__ = ["MsgspecConstraintsPlugin", "document_problems", "item_schema", "state_constraints"]

_inspect = msgspec.inspect

#: msgspec's name for a constraint → the Schema attribute that states it.
_STRING = {"min_length": "min_length", "max_length": "max_length", "pattern": "pattern"}
_NUMBER = {
    "ge": "minimum",
    "gt": "exclusive_minimum",
    "le": "maximum",
    "lt": "exclusive_maximum",
    "multiple_of": "multiple_of",
}
_ARRAY = {"min_length": "min_items", "max_length": "max_items"}
_OBJECT = {"min_length": "min_properties", "max_length": "max_properties"}
_ALL_ATTRIBUTES = {*_STRING.values(), *_NUMBER.values(), *_ARRAY.values(), *_OBJECT.values()}

_SEQUENCES = (_inspect.ListType, _inspect.SetType, _inspect.FrozenSetType, _inspect.VarTupleType)


def _json_type(t: _inspect.Type) -> str | None:
    """The JSON Schema ``type`` a msgspec type is written as (``None``: no single one)."""
    if isinstance(t, _inspect.Metadata):
        return _json_type(t.type)
    if isinstance(t, (_inspect.StrType, _inspect.BytesType, _inspect.UUIDType)):
        return "string"
    if isinstance(t, (_inspect.DateTimeType, _inspect.DateType, _inspect.TimeType)):
        return "string"
    if isinstance(t, _inspect.LiteralType):
        return "string" if all(isinstance(v, str) for v in t.values) else None
    if isinstance(t, _inspect.IntType):
        return "integer"
    if isinstance(t, _inspect.FloatType):
        return "number"
    if isinstance(t, _inspect.BoolType):
        return "boolean"
    if isinstance(t, _SEQUENCES):
        return "array"
    if isinstance(t, _inspect.DictType):
        return "object"
    return None


def _schema_type(schema: Schema) -> str | None:
    kind = schema.type
    if kind is None or isinstance(kind, list):
        return None
    return str(getattr(kind, "value", kind))


def _set(schema: Schema, attribute: str, value: Any) -> None:
    if value is not None and getattr(schema, attribute, None) is None:
        setattr(schema, attribute, value)


def _copy(schema: Schema, t: Any, names: dict[str, str]) -> None:
    for constraint, attribute in names.items():
        _set(schema, attribute, getattr(t, constraint, None))


def state_constraints(schema: Schema, t: _inspect.Type) -> None:
    """Write onto ``schema`` (Litestar's schema of a value of msgspec type ``t``) every
    constraint ``t`` carries, at any depth. Struct references are left alone: each struct
    has its own component, built by this plugin too."""
    if isinstance(t, _inspect.Metadata):
        t = t.type
    if isinstance(t, _inspect.UnionType):
        arms = [a for a in t.types if not isinstance(a, _inspect.NoneType)]
        branches = [b for b in (schema.one_of or schema.any_of or []) if isinstance(b, Schema)]
        if not branches:
            if len(arms) == 1:
                state_constraints(schema, arms[0])
            return
        moved: set[str] = set()
        for arm in arms:
            match = [b for b in branches if _schema_type(b) == _json_type(arm)]
            if len(match) == 1:
                state_constraints(match[0], arm)
                moved |= {a for a in _ALL_ATTRIBUTES if getattr(match[0], a, None) is not None}
        for attribute in moved:  # now stated on the branch they bind
            setattr(schema, attribute, None)
        return
    branches = [b for b in (schema.one_of or []) if isinstance(b, Schema)]
    if len(branches) == 1:  # ``X | UnsetType``: msgspec sees ``X``, Litestar a one-armed oneOf
        state_constraints(branches[0], t)
        moved = {a for a in _ALL_ATTRIBUTES if getattr(branches[0], a, None) is not None}
        for attribute in moved:
            setattr(schema, attribute, None)
        return
    if isinstance(t, _inspect.StrType):
        _copy(schema, t, _STRING)
    elif isinstance(t, (_inspect.IntType, _inspect.FloatType)):
        _copy(schema, t, _NUMBER)
    elif isinstance(t, _SEQUENCES):
        _copy(schema, t, _ARRAY)
        if isinstance(schema.items, Schema):
            state_constraints(schema.items, t.item_type)
    elif isinstance(t, _inspect.DictType):
        _copy(schema, t, _OBJECT)
        if isinstance(schema.additional_properties, Schema):
            state_constraints(schema.additional_properties, t.value_type)
        key = t.key_type.type if isinstance(t.key_type, _inspect.Metadata) else t.key_type
        if isinstance(key, _inspect.StrType) and (key.max_length or key.min_length or key.pattern):
            names = Schema()
            _copy(names, key, _STRING)
            _set(schema, "property_names", names)


class MsgspecConstraintsPlugin(StructSchemaPlugin):
    """Litestar's struct schema, with the constraints it leaves out stated (see module)."""

    def to_openapi_schema(
        self, field_definition: FieldDefinition, schema_creator: SchemaCreator
    ) -> Schema:
        schema = super().to_openapi_schema(field_definition, schema_creator)
        info = _inspect.type_info(field_definition.type_)
        if isinstance(info, _inspect.StructType):
            properties = schema.properties or {}
            for field in info.fields:
                prop = properties.get(field.encode_name)
                if isinstance(prop, Schema):
                    state_constraints(prop, field.type)
        return schema


def item_schema(annotation: Any) -> Schema:
    """The schema of one item of a query parameter's list, from the msgspec type that
    validates it: ``QueryParameter(schema_extra={"items": item_schema(Label)})`` states
    what Litestar enforces but leaves out of the document."""
    info = _inspect.type_info(annotation)
    schema = Schema(type=OpenAPIType(_json_type(info) or "string"))
    state_constraints(schema, info)
    return schema


#: The error answers any operation may give (``core/api/problems.py`` writes every one as
#: problem+json): malformed body, credentials, permission, not found, state, version,
#: size, media type, validation, limits and budgets, a failing provider, a busy server.
PROBLEM_STATUSES: dict[int, str] = {
    400: "Malformed request (``malformed_body``)",
    401: "Authentication required",
    402: "The group's budget is spent (``budget_exhausted``)",
    403: "Forbidden",
    404: "Not found (also for another group's ids)",
    409: "Conflict with the current state",
    412: "``If-Match`` does not match the stored version (``version_mismatch``)",
    413: "The body is over the limit",
    415: "Unsupported media type",
    422: "Validation failed (``validation_failed``, ``invalid_text``, ...)",
    429: "Rate limit or quota reached (``Retry-After``)",
    502: "A service the platform relies on failed (a model provider: ``llm_unavailable``)",
    503: "Busy or unavailable (``Retry-After``)",
}


def document_problems(app: Litestar) -> None:
    """Every operation of ``app`` documents the problem+json answers of
    :data:`PROBLEM_STATUSES`, replacing Litestar's stock 400 (a JSON shape the platform
    never sends). A handler's own ``responses`` win."""
    from core.errors import PROBLEM_CONTENT_TYPE, Problem

    specs = {
        status: ResponseSpec(
            data_container=Problem,
            media_type=PROBLEM_CONTENT_TYPE,
            description=description,
            generate_examples=False,
        )
        for status, description in PROBLEM_STATUSES.items()
    }
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            if handler.include_in_schema:
                handler.responses = {**specs, **(handler.responses or {})}

"""The type registry and the validation every write of properties/metadata/payload goes
through. Pure Python: no servers needed."""

from __future__ import annotations

import msgspec
import pytest

from core.errors import UnknownType, ValidationFailed
from core.ontology.types import (
    PERSON,
    ConnectionType,
    DuplicateTypeError,
    EventType,
    ThingType,
    TypeRegistry,
    validate_object,
)


class Size(msgspec.Struct):
    width: float
    height: float = 1.0


class Props(msgspec.Struct):
    sku: str
    price: int = 0
    tags: list[str] = msgspec.field(default_factory=list)
    size: Size | None = None
    sizes: list[Size] = msgspec.field(default_factory=list)
    by_region: dict[str, Size] = msgspec.field(default_factory=dict)


class Strict(msgspec.Struct, forbid_unknown_fields=True):
    a: int = 0


class Camel(msgspec.Struct, rename="camel"):
    unit_price: int = 0


class Meta(msgspec.Struct):
    weight: int = 1


class Payload(msgspec.Struct):
    source: str = "web"


@pytest.fixture
def registry() -> TypeRegistry:
    reg = TypeRegistry()
    reg.add_thing_type(ThingType("product", Props, statuses=("draft", "live")), "shop")
    reg.add_thing_type(ThingType("note"), "notes")
    reg.add_connection_type(ConnectionType("tagged", metadata=Meta), "shop")
    reg.add_event_type(EventType("viewed", Payload), "analytics")
    return reg


# -- declarations -------------------------------------------------------------------------


def test_default_status_is_the_first_listed_or_active() -> None:
    assert ThingType("product", statuses=("draft", "live")).default_status == "draft"
    assert ThingType("note").default_status == "active"


@pytest.mark.parametrize("name", ["", "Product", "1st", "_x", "a-b", "a b", "é", "x" * 101])
@pytest.mark.parametrize("kind", [ThingType, ConnectionType, EventType])
def test_bad_type_names_are_refused(kind: type, name: str) -> None:
    with pytest.raises(ValueError, match="must start with a letter"):
        kind(name)


@pytest.mark.parametrize("name", ["a", "page", "blog_post", "shop.order", "v2", "x" * 100])
def test_good_type_names(name: str) -> None:
    assert ThingType(name).name == name


# -- the registry -------------------------------------------------------------------------


def test_no_thing_type_may_be_named_person(registry: TypeRegistry) -> None:
    """``person`` means a member of the group in a connection type's ends."""
    with pytest.raises(DuplicateTypeError, match=r"'crm'.*'person'.*member of the group"):
        registry.add_thing_type(ThingType(PERSON), "crm")
    assert PERSON not in registry.things
    # Connection and event types may use the word, and ends may name it beside things.
    registry.add_connection_type(ConnectionType("owner", ("product",), (PERSON,)), "shop")
    registry.add_connection_type(ConnectionType("pinned", ("note",), ("product", PERSON)), "x")
    registry.add_event_type(EventType("person"), "crm")


def test_the_same_name_in_different_kinds_is_fine(registry: TypeRegistry) -> None:
    registry.add_event_type(EventType("product"), "shop")
    registry.add_connection_type(ConnectionType("product"), "shop")
    assert registry.event_type("product").name == "product"


def test_lookups_and_unknown_types(registry: TypeRegistry) -> None:
    assert registry.thing_type("product").statuses == ("draft", "live")
    assert registry.connection_type("tagged").metadata is Meta
    assert registry.event_type("viewed").payload is Payload
    for lookup, registered in (
        (registry.thing_type, "note, product"),
        (registry.connection_type, "tagged"),
        (registry.event_type, "viewed"),
    ):
        with pytest.raises(UnknownType) as info:
            lookup("nope")
        err = info.value
        assert err.status == 422 and err.code == "unknown_type"
        assert err.field == "type" and err.extra["field"] == "type"
        assert "'nope'" in err.detail and registered in err.detail


def test_owned_by(registry: TypeRegistry) -> None:
    assert registry.owned_by("shop") == {
        "things": ["product"],
        "connections": ["tagged"],
        "events": [],
    }
    assert registry.owned_by("nobody") == {"things": [], "connections": [], "events": []}


# -- validation ---------------------------------------------------------------------------


def test_defaults_are_filled_in(registry: TypeRegistry) -> None:
    assert registry.validate_properties("product", {"sku": "A1"}) == {
        "sku": "A1",
        "price": 0,
        "tags": [],
        "size": None,
        "sizes": [],
        "by_region": {},
    }
    sized = registry.validate_properties("product", {"sku": "A1", "size": {"width": 2}})
    assert sized["size"] == {"width": 2.0, "height": 1.0}
    assert registry.validate_metadata("tagged", {}) == {"weight": 1}
    assert registry.validate_payload("viewed", {}) == {"source": "web"}


def test_result_is_json_ready(registry: TypeRegistry) -> None:
    clean = registry.validate_properties("product", {"sku": "A1", "price": 5, "tags": ["x"]})
    assert msgspec.json.decode(msgspec.json.encode(clean)) == clean


def test_a_type_without_a_struct_accepts_any_object(registry: TypeRegistry) -> None:
    data = {"anything": [1, {"nested": True}], "n": None}
    assert registry.validate_properties("note", data) == data


@pytest.mark.parametrize("value", [[], "text", 3, None, [("a", 1)]])
def test_not_an_object(registry: TypeRegistry, value: object) -> None:
    for type_name in ("product", "note"):
        with pytest.raises(ValidationFailed) as info:
            registry.validate_properties(type_name, value)
        assert info.value.field == "properties"
        assert "JSON object" in info.value.detail


def test_unknown_fields_are_refused(registry: TypeRegistry) -> None:
    with pytest.raises(ValidationFailed) as info:
        registry.validate_properties("product", {"sku": "A1", "colour": "red"})
    err = info.value
    assert err.field == "properties.colour"
    assert "'colour'" in err.detail and "sku" in err.detail and "price" in err.detail
    with pytest.raises(ValidationFailed) as info:
        registry.validate_metadata("tagged", {"wieght": 2})
    assert info.value.field == "metadata.wieght"
    with pytest.raises(ValidationFailed) as info:
        registry.validate_payload("viewed", {"src": "x"})
    assert info.value.field == "payload.src"


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"sku": "A", "size": {"width": 1, "hieght": 2}}, "properties.size.hieght"),
        ({"sku": "A", "sizes": [{"width": 1}, {"width": 1, "x": 0}]}, "properties.sizes[1].x"),
        ({"sku": "A", "by_region": {"eu": {"width": 1, "w": 2}}}, "properties.by_region.eu.w"),
    ],
)
def test_unknown_fields_are_refused_at_any_depth(
    registry: TypeRegistry, data: dict[str, object], field: str
) -> None:
    with pytest.raises(ValidationFailed) as info:
        registry.validate_properties("product", data)
    assert info.value.field == field


@pytest.mark.parametrize(
    ("data", "field", "detail"),
    [
        ({"sku": 5}, "properties.sku", "Expected `str`, got `int`"),
        ({"sku": "A", "price": "5"}, "properties.price", "Expected `int`, got `str`"),
        ({"sku": "A", "tags": ["a", 2]}, "properties.tags[1]", "Expected `str`, got `int`"),
        ({"sku": "A", "size": {"width": "x"}}, "properties.size.width", "Expected `float`"),
        ({"sku": "A", "sizes": [{"width": 1}, {}]}, "properties.sizes[1].width", "missing"),
        ({}, "properties.sku", "missing required field `sku`"),
        ({"sku": "A", "size": {}}, "properties.size.width", "missing required field"),
    ],
)
def test_errors_name_the_field_path(
    registry: TypeRegistry, data: dict[str, object], field: str, detail: str
) -> None:
    with pytest.raises(ValidationFailed) as info:
        registry.validate_properties("product", data)
    err = info.value
    assert err.field == field
    assert err.extra["field"] == field
    assert detail in err.detail
    assert " - at " not in err.detail  # the path is in `field`, not repeated in prose


def test_a_struct_that_forbids_unknown_fields_names_the_field() -> None:
    with pytest.raises(ValidationFailed) as info:
        validate_object(Strict, {"a": 1, "b": 2}, "properties")
    assert info.value.field == "properties.b"


def test_renamed_fields_use_their_encoded_names() -> None:
    assert validate_object(Camel, {"unitPrice": 3}, "properties") == {"unitPrice": 3}
    with pytest.raises(ValidationFailed) as info:
        validate_object(Camel, {"unit_price": 3}, "properties")
    assert info.value.field == "properties.unit_price"


def test_validation_does_not_change_its_input(registry: TypeRegistry) -> None:
    data = {"sku": "A1"}
    registry.validate_properties("product", data)
    assert data == {"sku": "A1"}


def test_validation_of_an_unknown_type(registry: TypeRegistry) -> None:
    with pytest.raises(UnknownType):
        registry.validate_properties("nope", {})
    with pytest.raises(UnknownType):
        registry.validate_metadata("nope", {})
    with pytest.raises(UnknownType):
        registry.validate_payload("nope", {})

"""The OpenAPI document tells the truth about what the API accepts.

With every installed plugin enabled, for each operation of ``/schema/openapi.json`` and
each field of its JSON body (and of the objects inside it) and each query parameter:

* every documented constraint (``maxLength``, ``minLength``, ``pattern``, ``enum``,
  ``format: uuid``, ``minimum``/``maximum``, ``maxItems``, ``required``) is enforced: a
  request breaking just that one is a 4xx problem, never a 2xx or a 5xx;
* a value the schema allows is not refused *for that field*: one on the documented edge
  (exactly ``maxLength``, ``minLength``, the ``maximum``, an enum value), and one in a
  dimension the schema leaves open (any string without a pattern, any number without a
  bound, any key of a free-form object). If the API refused it, its validation would be
  stricter than its schema says;
* every string of a request body or query has a ``maxLength`` (or an enum or a bounded
  format): unbounded input is how stalls happen.

Path parameters are real: the test creates a site, a page, a component, a clone with a
source and a conversation, a media asset and a member through the API first. A field
refused for reasons a schema cannot state (a name looked up in a plugin's registry, a
rule between two fields) is listed in ``STATE_DEPENDENT`` with the reason; a 409 (a slug
taken) is about the state, not the value.
"""

from __future__ import annotations

import asyncio
import functools
import re
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from sdk import ConnectionType, ThingType, hookimpl
from sdk.testing import CreatorPlatform, PlatformFactory, Tenant, assert_problem
from tests.openapi_walk import Doc, arrange

METHODS = ("get", "post", "put", "patch", "delete")

#: Edge values the API refuses for the field, and why the schema cannot say so. Keys are
#: ``"<METHOD> <path> <field>"``; ``*`` stands for any method and path. The test fails on
#: an entry no longer needed.
STATE_DEPENDENT: dict[str, str] = {
    "* * cursor": "only a cursor the API returned names a place in a listing",
    "POST /api/v1/groups/{group_id}/things type": "thing types are registered by plugins; "
    "GET /api/v1/types lists them",
    "POST /api/v1/groups/{group_id}/connections type": "connection types are registered by "
    "plugins; GET /api/v1/types lists them",
    "POST /api/v1/website/groups/{group_id}/sites/{site_id}/pages/{page_id}/components type": (
        "component types are registered by plugins; GET .../components lists them"
    ),
    "POST /api/v1/website/groups/{group_id}/sites theme": "themes are registered by plugins; "
    "GET .../themes lists them",
    "PATCH /api/v1/website/groups/{group_id}/sites/{site_id} theme": "themes are registered "
    "by plugins; GET .../themes lists them",
    "POST /api/v1/clone/groups/{group_id}/clones provider": "LLM providers are registered by "
    "plugins; GET .../providers lists them",
    "PATCH /api/v1/clone/groups/{group_id}/clones/{clone_id} provider": "LLM providers are "
    "registered by plugins; GET .../providers lists them",
    "POST /api/v1/clone/groups/{group_id}/clones/{clone_id}/sources title": "a text source "
    "needs a title, a page source (kind: page) takes the page's",
    "POST /api/v1/website/groups/{group_id}/sites settings.menu": "a menu entry names a "
    "page or a link (a rule between its fields); its page must be one of the site's",
    "PATCH /api/v1/website/groups/{group_id}/sites/{site_id} settings.menu": "a menu entry "
    "names a page or a link (a rule between its fields); its page must be one of the site's",
    "PATCH /api/v1/website/groups/{group_id}/sites/{site_id}/pages/{page_id}/components/"
    "{node_id} props": "each component type has its own props (GET .../components shows "
    "their schemas)",
}

#: Operations whose accepted requests never finish (so only refusals are sent), and why.
ENDLESS: dict[str, str] = {
    "GET /api/v1/groups/{group_id}/events/stream": "a server-sent event stream stays open",
}

#: Strings of request bodies that may be long, and why.
UNBOUNDED_STRINGS: dict[str, str] = {}

#: Operations whose constrained inputs this test cannot reach, and why.
NOT_EXERCISED: dict[str, str] = {}


# -- reading the schema ------------------------------------------------------------------


def _fits(schema: dict[str, Any], value: str) -> bool:
    if len(value) > schema.get("maxLength", 10**9) or len(value) < schema.get("minLength", 0):
        return False
    return "pattern" not in schema or re.search(schema["pattern"], value) is not None


GOOD_STRINGS = [
    "a",
    "home",
    "en",
    "Ada",
    "#4f46e5",
    "https://example.org",
    "honest-schema",
    "example.org",
    "ada@example.test",
    "hello world",
]


def valid_value(doc: Doc, node: dict[str, Any], depth: int = 0) -> Any:
    """A value of ``node`` that meets every documented constraint."""
    schema = doc.value_schema(node)
    if schema is None or depth > 4:
        return None
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    if "default" in schema and schema["default"] is not None:
        return schema["default"]
    kind = schema.get("type")
    if kind == "string":
        if schema.get("format") == "uuid":
            return str(uuid.uuid4())
        if schema.get("format") == "date-time":
            return "2026-01-01T00:00:00Z"
        for candidate in GOOD_STRINGS:
            if _fits(schema, candidate):
                return candidate
        return "a" * max(schema.get("minLength", 1), 1)
    if kind == "integer":
        return int(schema.get("minimum", 1))
    if kind == "number":
        return schema.get("minimum", 0.5)
    if kind == "boolean":
        return False
    if kind == "array":
        return []
    if kind == "object":
        properties = schema.get("properties", {})
        return {
            name: valid_value(doc, properties[name], depth + 1)
            for name in schema.get("required", [])
        }
    return None


def violations(doc: Doc, node: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    """(constraint, value) pairs: each value breaks the one documented constraint."""
    schema = doc.value_schema(node)
    if schema is None:
        return
    kind = schema.get("type")
    if "enum" in schema:
        yield "enum", "not-one-of-these" if kind == "string" else -987654
        return
    if kind == "string":
        if "maxLength" in schema:
            yield "maxLength", "a" * (schema["maxLength"] + 1)
        if schema.get("minLength", 0) > 0:
            yield "minLength", "a" * (schema["minLength"] - 1)
        if "pattern" in schema:
            for candidate in ("", " ", "!", "A B!", "\u00e9\u00e9\u00e9\u00e9"):
                if re.search(schema["pattern"], candidate) is None:
                    yield "pattern", candidate
                    break
        if schema.get("format") == "uuid":
            yield "format", "not-a-uuid"
    elif kind in ("integer", "number"):
        step = 1 if kind == "integer" else 0.5
        if "maximum" in schema:
            yield "maximum", schema["maximum"] + step
        if "minimum" in schema:
            yield "minimum", schema["minimum"] - step
        if "exclusiveMaximum" in schema:
            yield "exclusiveMaximum", schema["exclusiveMaximum"]
        if "exclusiveMinimum" in schema:
            yield "exclusiveMinimum", schema["exclusiveMinimum"]
    elif kind == "array":
        item = valid_value(doc, schema.get("items", {}))
        if "maxItems" in schema:
            yield "maxItems", [item] * (schema["maxItems"] + 1)
        for constraint, bad in violations(doc, schema.get("items", {})):
            yield f"items.{constraint}", [bad]


def edges(doc: Doc, node: dict[str, Any], body_limit: int) -> Iterator[tuple[str, Any]]:
    """(constraint, value) pairs: each value sits exactly on a documented limit."""
    schema = doc.value_schema(node)
    if schema is None:
        return
    kind = schema.get("type")
    if "enum" in schema:
        yield "enum", [v for v in schema["enum"] if v is not None][-1]
        return
    if kind == "string" and "maxLength" in schema and schema["maxLength"] * 2 < body_limit:
        value = "a" * schema["maxLength"]
        if _fits(schema, value):
            yield "maxLength", value
    if (
        kind == "string"
        and "format" not in schema
        and _fits(schema, "a" * schema.get("minLength", 0))
    ):
        yield "minLength", "a" * schema.get("minLength", 0)
    elif kind in ("integer", "number"):
        if "maximum" in schema:
            yield "maximum", schema["maximum"]
        if "minimum" in schema:
            yield "minimum", schema["minimum"]
    elif kind == "array" and "maxItems" in schema:
        item = valid_value(doc, schema.get("items", {}))
        if item is not None:
            yield "maxItems", [item] * schema["maxItems"]
    # Values the schema allows because it states no limit in that dimension.
    if kind in ("integer", "number"):
        if "maximum" not in schema and "exclusiveMaximum" not in schema:
            yield "no maximum", 10**9
        if "minimum" not in schema and "exclusiveMinimum" not in schema:
            yield "no minimum", -1
    elif kind == "string" and not {"enum", "const", "pattern", "format"} & set(schema):
        yield "no pattern", "zz".ljust(schema.get("minLength", 0), "z")
    elif kind == "object" and "properties" not in schema and "maxProperties" not in schema:
        yield "any object", {"zz": "zz"}


def unbounded_strings(doc: Doc, node: dict[str, Any], where: str, seen: set[str]) -> list[str]:
    """Paths of strings under ``node`` with no maxLength, enum, const or bounded format."""
    if "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        if name in seen:
            return []
        seen.add(name)
        return unbounded_strings(doc, doc.components[name], name, seen)
    found: list[str] = []
    siblings = {k: v for k, v in node.items() if k not in ("oneOf", "anyOf", "allOf")}
    for key in ("oneOf", "anyOf", "allOf"):
        for branch in node.get(key, []):
            merged = branch if "$ref" in branch else {**branch, **siblings}
            found += unbounded_strings(doc, merged, where, seen)
    if node.get("type") == "string":
        bounded = (
            "maxLength" in node
            or "enum" in node
            or "const" in node
            or node.get("format") in ("uuid", "date-time", "date", "binary")
        )
        if not bounded:
            found.append(where)
    for name, prop in node.get("properties", {}).items():
        found += unbounded_strings(doc, prop, f"{where}.{name}", seen)
    if isinstance(node.get("items"), dict):
        found += unbounded_strings(doc, node["items"], f"{where}[]", seen)
    if isinstance(node.get("additionalProperties"), dict):
        found += unbounded_strings(doc, node["additionalProperties"], f"{where}{{}}", seen)
    return found


_LEFT_OUT = object()


def body_fields(
    doc: Doc, schema: dict[str, Any], prefix: str = "", depth: int = 0
) -> Iterator[tuple[str, dict[str, Any], bool]]:
    """(dotted name, schema, required) of each field of a body, and of the fields of the
    objects inside it (``seo.description``), two levels deep."""
    required = set(schema.get("required", []))
    for name, prop in schema.get("properties", {}).items():
        yield f"{prefix}{name}", prop, name in required
        inner = doc.value_schema(prop)
        if depth < 2 and inner is not None and inner.get("properties"):
            yield from body_fields(doc, inner, f"{prefix}{name}.", depth + 1)


def with_value(
    doc: Doc, schema: dict[str, Any] | None, base: Any, name: str, value: Any
) -> dict[str, Any]:
    """``base`` (a valid body) with the field at dotted ``name`` set to ``value`` (or left
    out), the objects on the way made valid first."""
    body = dict(base or {})
    head, _, rest = name.partition(".")
    if not rest:
        if value is _LEFT_OUT:
            body.pop(head, None)
        else:
            body[head] = value
        return body
    inner = doc.value_schema((schema or {}).get("properties", {}).get(head, {})) or {}
    current = body.get(head)
    if not isinstance(current, dict):
        current = valid_value(doc, inner) or {}
    body[head] = with_value(doc, inner, current, rest, value)
    return body


# -- the platform ------------------------------------------------------------------------


def _refused_for(response: httpx.Response, field: str) -> bool:
    """A 400 or 422 problem naming ``field`` (or something inside it). A 409 is about the
    state (a slug taken), not the value's shape."""
    if response.status_code not in (400, 422):
        return False
    try:
        named = response.json().get("field") or ""
    except ValueError:
        return False
    return named == field or named.startswith((f"{field}.", f"{field}["))


async def _send(
    client: httpx.AsyncClient, method: str, url: str, json: Any, params: Any = None
) -> httpx.Response:
    # A refused request answers at once; one that hangs is a stream this test must not open.
    r = await asyncio.wait_for(client.request(method, url, json=json, params=params), 30)
    assert r.status_code < 500, (method, url, json, params, r.status_code, r.text[:300])
    return r


def _exemption(method: str, path: str, field: str) -> str | None:
    """The ``STATE_DEPENDENT`` key that lets ``field`` be refused at its edge, if any."""
    for key in (f"{method} {path} {field}", f"* * {field}"):
        if key in STATE_DEPENDENT:
            return key
    return None


class Notes:
    """A thing type and a connection type anyone in a group may create through the
    generic API (the installed plugins' own types are theirs to write)."""

    @hookimpl
    def register_thing_types(self) -> list[ThingType]:
        return [ThingType("note")]

    @hookimpl
    def register_connection_types(self) -> list[ConnectionType]:
        return [ConnectionType("note_link", from_types=("note",), to_types=("note",))]


@pytest.fixture
async def honest(creator_platform_factory: PlatformFactory) -> tuple[CreatorPlatform, Tenant]:
    """Every installed plugin (and ``Notes``), without the API rate limit."""
    platform = await creator_platform_factory(
        extra_plugins={"notes": Notes()}, rate_limit_per_minute=0
    )
    return platform, await platform.tenant()


async def test_every_documented_constraint_is_enforced_and_no_stricter(
    honest: tuple[CreatorPlatform, Tenant],
) -> None:
    platform, owner = honest
    doc = Doc((await platform.client.get("/schema/openapi.json")).json())
    ids = await arrange(platform, owner, "honest")
    body_limit = platform.settings.max_body_bytes
    unenforced: list[str] = []
    too_strict: list[str] = []
    unreachable: list[str] = []
    exercised = nested = 0
    used: set[str | None] = set()

    for path, item in doc.raw["paths"].items():
        for method in METHODS:
            op = item.get(method)
            if op is None:
                continue
            label = f"{method.upper()} {path}"
            body = op.get("requestBody", {}).get("content", {}).get("application/json")
            queries = [p for p in op.get("parameters", []) if p["in"] == "query"]
            body_schema = doc.resolve(body["schema"]) if body else None
            if body_schema is not None and "properties" not in body_schema:
                body_schema = doc.value_schema(body["schema"])
            properties = (body_schema or {}).get("properties", {})
            if not properties and not queries:
                continue
            names = re.findall(r"{(\w+)}", path)
            if any(n not in ids for n in names):
                if label not in NOT_EXERCISED:
                    unreachable.append(f"{label} (no id for {[n for n in names if n not in ids]})")
                continue
            url = re.sub(r"{(\w+)}", lambda m: ids[m.group(1)], path)
            base = valid_value(doc, body["schema"]) if body else None
            client = owner.client if "/auth/" not in path else platform.client

            send = functools.partial(_send, client, method.upper(), url)

            for name, prop, required in body_fields(doc, body_schema or {}):
                exercised += 1
                nested += "." in name
                for constraint, bad in violations(doc, prop):
                    r = await send(with_value(doc, body_schema, base, name, bad))
                    if not 400 <= r.status_code < 500:
                        unenforced.append(f"{label} {name} {constraint} -> {r.status_code}")
                    else:
                        assert_problem(r)
                for constraint, edge in edges(doc, prop, body_limit):
                    r = await send(with_value(doc, body_schema, base, name, edge))
                    if _refused_for(r, name):
                        exemption = _exemption(method.upper(), path, name)
                        if exemption is None:
                            too_strict.append(f"{label} {name} {constraint}: {r.json()['detail']}")
                        used.add(exemption)
                if required:
                    r = await send(with_value(doc, body_schema, base, name, _LEFT_OUT))
                    if not 400 <= r.status_code < 500:
                        unenforced.append(f"{label} {name} required -> {r.status_code}")
            required = {
                p["name"]: valid_value(doc, p["schema"]) for p in queries if p.get("required")
            }
            for param in queries:
                name = param["name"]
                exercised += 1
                for constraint, bad in violations(doc, param["schema"]):
                    r = await send(None, {**required, name: bad})
                    if not 400 <= r.status_code < 500:
                        unenforced.append(f"{label} ?{name} {constraint} -> {r.status_code}")
                for constraint, edge in edges(doc, param["schema"], body_limit):
                    if label in ENDLESS:
                        break
                    r = await send(None, {**required, name: edge})
                    if _refused_for(r, name):
                        exemption = _exemption(method.upper(), path, name)
                        if exemption is None:
                            too_strict.append(f"{label} ?{name} {constraint}: {r.json()['detail']}")
                        used.add(exemption)

    assert exercised > 50 and nested > 5, (exercised, nested)
    assert not unreachable, "\n".join(unreachable)
    disagreeing = {" ".join(line.split()[:2]) for line in unenforced + too_strict}
    summary = f"{len(disagreeing)} operations disagree with the schema"
    assert not unenforced, f"{summary}; documented but not enforced:\n" + "\n".join(unenforced)
    assert not too_strict, f"{summary}; refused at the documented edge:\n" + "\n".join(too_strict)
    assert sorted(set(STATE_DEPENDENT) - used) == [], "STATE_DEPENDENT lists fields refused no more"


async def test_every_request_string_has_a_length_limit(
    honest: tuple[CreatorPlatform, Tenant],
) -> None:
    platform, _ = honest
    doc = Doc((await platform.client.get("/schema/openapi.json")).json())
    found: set[str] = set()
    for path, item in doc.raw["paths"].items():
        for method in METHODS:
            op = item.get(method) or {}
            body = op.get("requestBody", {}).get("content", {}).get("application/json")
            if body:
                found |= set(unbounded_strings(doc, body["schema"], "body", set()))
            for param in op.get("parameters", []):
                if param["in"] == "query":
                    where = f"{method.upper()} {path} ?{param['name']}"
                    found |= set(unbounded_strings(doc, param["schema"], where, set()))
    unbounded = sorted(found - set(UNBOUNDED_STRINGS))
    assert not unbounded, "strings with no maxLength:\n" + "\n".join(unbounded)

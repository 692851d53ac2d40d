"""Tools a clone's model may call: what they are, which are offered, and how one runs.

* A :class:`CloneTool` is a name, a description, a msgspec struct of its arguments (the
  JSON schema the model sees is made from it, and the model's arguments are validated
  against it) and an async ``run``. Plugins add tools through ``register_clone_tools``;
  the clone plugin registers the four built in here.
* A tool that reads or writes things of other plugins names their types in
  ``thing_types``: it is offered only when every one of them is registered, so a
  deployment without the business plugin simply has no ``get_product_info``.
* A tool runs with the **visitor's** scope (the person chatting, or the anonymous
  widget visitor), never the creator's: reads keep only the things that scope may read
  (``thing.read``: for a customer or a visitor, what is ``published``), and a write needs
  its own permission (``create_lead`` needs ``clone.create_lead``).
* Whatever happens inside a tool comes back to the model as a result or an error it can
  explain; a tool never fails the answer.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

import msgspec
from msgspec import Meta

import sdk
from plugins.clone.providers import ToolSpec
from plugins.clone.registry import collect_named
from plugins.clone.types import ToolCall

log = logging.getLogger("creator.clone")

#: Seconds a tool may take before it is abandoned (its answer: an error).
TOOL_TIMEOUT_SECONDS = 10.0
#: Characters of a tool's result (as JSON) the model is given, and kept on the message.
MAX_RESULT_CHARS = 4000
MAX_KEPT_CHARS = 16_000
#: Things a reading tool looks through, and characters of each one's properties it returns.
SCAN_LIMIT = 200
PROPERTY_CHARS = 600
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_EMAIL = re.compile(r"^[^@\s<>\"']{1,64}@[^@\s<>\"']{1,190}\.[a-zA-Z]{2,24}$")
_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True)
class ToolContext:
    """What a running tool may use: the platform, the visitor's scope and stores bound to
    it, the clone and the conversation."""

    platform: sdk.Platform
    scope: sdk.Scope
    stores: sdk.ScopedOntology
    clone: sdk.Thing
    thread: sdk.Thing
    visitor: str

    def can(self, action: str, thing: sdk.Thing | None = None) -> bool:
        resource = sdk.Resource(
            self.scope.group_id,
            thing.type if thing else None,
            thing.id if thing else None,
            thing.status if thing else None,
        )
        return self.platform.permissions.can(self.scope, action, resource)


Run = Callable[[ToolContext, Any], Awaitable[Any]]


@dataclass(frozen=True)
class CloneTool:
    """A function a clone's model may call.

    ``arguments`` is a msgspec struct (``forbid_unknown_fields=True`` is advised): its
    JSON schema is what the model sees, and the model's arguments are converted to it
    (a mismatch is reported back to the model, and ``run`` is not called). ``run``
    receives a :class:`ToolContext` and the arguments and returns anything JSON can
    carry; raising :class:`sdk.PlatformError` reports its detail to the model.
    ``thing_types``: the tool is offered only when these thing types are registered."""

    name: str
    description: str
    arguments: type[msgspec.Struct]
    run: Run
    thing_types: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise sdk.PlatformError(
                f"clone tool name {self.name!r} must be lower_snake_case (at most 64 characters)"
            )

    def spec(self) -> ToolSpec:
        return ToolSpec(self.name, self.description, arguments_schema(self.arguments))


@functools.lru_cache(maxsize=256)
def arguments_schema(struct: type[msgspec.Struct]) -> dict[str, Any]:
    """The JSON schema of ``struct`` with no ``$ref`` at its top (what function calling
    expects). Cached: treat it as read-only."""
    (ref,), components = msgspec.json.schema_components([struct], ref_template="#/$defs/{name}")
    name = ref["$ref"].rsplit("/", 1)[-1]
    schema = dict(components.pop(name))
    schema.pop("title", None)
    if components:
        schema["$defs"] = components
    schema.setdefault("properties", {})
    return schema


def collect_tools(platform: sdk.Platform) -> dict[str, CloneTool]:
    """Every tool the enabled plugins register, by name (names must be unique)."""
    tools = collect_named(platform, "register_clone_tools", ("run", "spec"), "clone tool")
    for tool in tools.values():
        if not isinstance(tool, CloneTool):
            raise sdk.PlatformError(f"register_clone_tools: {tool!r} is not a CloneTool")
    return tools


def offered(tools: Mapping[str, CloneTool], registered_types: Iterable[str]) -> list[CloneTool]:
    """The tools whose thing types are all registered, in registration order."""
    known = set(registered_types)
    return [tool for tool in tools.values() if all(t in known for t in tool.thing_types)]


def _compact(value: Any) -> str:
    return msgspec.json.encode(value).decode()


async def run_tool(tool: CloneTool | None, name: str, arguments: str, ctx: ToolContext) -> ToolCall:
    """Run one call the model asked for; every outcome is a :class:`ToolCall` (an unknown
    tool, arguments that are not valid, a refusal, a timeout or a crash: ``error``)."""
    try:
        raw = msgspec.json.decode(arguments or "{}")
    except msgspec.DecodeError:
        raw = None
    call = ToolCall(name=name[:64], arguments=raw if isinstance(raw, dict) else {})
    if tool is None:
        call.error = f"there is no tool named {name[:64]!r}"
        return call
    if not isinstance(raw, dict):
        call.error = "the arguments must be a JSON object"
        return call
    try:
        args = msgspec.convert(raw, tool.arguments)
    except msgspec.ValidationError as exc:
        call.error = f"invalid arguments: {exc}"
        return call
    started = time.perf_counter()
    try:
        result = await asyncio.wait_for(tool.run(ctx, args), TOOL_TIMEOUT_SECONDS)
        call.result = msgspec.to_builtins(result)
    except TimeoutError:
        call.error = f"the tool did not finish within {TOOL_TIMEOUT_SECONDS:g} s"
    except sdk.PlatformError as exc:
        call.error = exc.detail
    except Exception as exc:
        log.exception("clone tool %s failed", name)
        call.error = f"the tool failed ({type(exc).__name__})"
    log.debug("clone tool %s ran in %.1f ms", name, (time.perf_counter() - started) * 1000)
    return call


def kept(call: ToolCall) -> ToolCall:
    """``call`` as a message keeps it: arguments or a result larger than
    ``MAX_KEPT_CHARS`` (as JSON) are replaced by their size, so neither a model nor a tool
    can bloat the conversation."""
    arguments, result = call.arguments, call.result
    if len(_compact(arguments)) > MAX_KEPT_CHARS:
        arguments = {"too_large_to_keep": len(_compact(arguments))}
    if len(_compact(result)) > MAX_KEPT_CHARS:
        result = {"too_large_to_keep": len(_compact(result))}
    return msgspec.structs.replace(call, arguments=arguments, result=result)


def answered(call: ToolCall) -> bool:
    """Whether a call told the visitor something: it succeeded and found anything (a
    listing with ``"count": 0`` found nothing)."""
    if call.error is not None or call.result in (None, {}, [], ""):
        return False
    return not (isinstance(call.result, dict) and call.result.get("count") == 0)


def result_for_model(call: ToolCall) -> str:
    """What the model reads back: the result or the error, as JSON, cut to a size."""
    body = {"error": call.error} if call.error else {"result": call.result}
    text = _compact(body)
    if len(text) > MAX_RESULT_CHARS:
        text = text[: MAX_RESULT_CHARS - 40] + '..." (the result was cut here)'
    return text


# -- built-in tools ------------------------------------------------------------------------

Query = Annotated[str, Meta(max_length=200)]
Limit = Annotated[int, Meta(ge=1, le=10)]


class FindArgs(msgspec.Struct, forbid_unknown_fields=True):
    """Arguments of the built-in reading tools."""

    query: Query = ""
    limit: Limit = 5


def _words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if len(w) > 2}


def _summary(thing: sdk.Thing) -> dict[str, Any]:
    """A thing as a tool returns it: id, name, status and its properties, cut to size."""
    properties: dict[str, Any] = {}
    used = 0
    for key, value in thing.properties.items():
        text = _compact(value)
        if used + len(text) > PROPERTY_CHARS:
            break
        properties[key] = value
        used += len(text) + len(key)
    return {"id": str(thing.id), "name": thing.name, "status": thing.status, **properties}


async def readable(ctx: ToolContext, type: str) -> list[sdk.Thing]:
    """The things of ``type`` the visitor may read (newest first; at most ``SCAN_LIMIT``
    looked at)."""
    draft = sdk.Resource(ctx.scope.group_id, type, None, "draft")
    sees_drafts = ctx.platform.permissions.can(ctx.scope, "thing.read", draft)
    # a customer or visitor: only published ones, so drafts never crowd them out
    status = None if sees_drafts else "published"
    page = await ctx.stores.things.list(type=type, status=status, limit=SCAN_LIMIT)
    return [thing for thing in page.items if ctx.can("thing.read", thing)]


def best_matches(things: list[sdk.Thing], query: str, limit: int) -> list[sdk.Thing]:
    """``things`` ranked by the query's words found in their name and properties (all of
    them, newest first, when the query is empty)."""
    asked = _words(query)
    if not asked:
        return things[:limit]
    scored = []
    for position, thing in enumerate(things):
        name = _words(thing.name)
        rest = _words(_compact(thing.properties))
        score = 2 * len(asked & name) + len(asked & rest)
        if score:
            scored.append((-score, position, thing))
    scored.sort(key=lambda item: (item[0], item[1]))
    return [thing for _, _, thing in scored[:limit]]


def finder(type: str, noun: str) -> Run:
    async def find(ctx: ToolContext, args: FindArgs) -> dict[str, Any]:
        found = best_matches(await readable(ctx, type), args.query, args.limit)
        return {noun: [_summary(thing) for thing in found], "count": len(found)}

    return find


def _when(value: Any) -> datetime | None:
    """An ISO date or date-time as an aware date-time (UTC when it names no offset)."""
    if not isinstance(value, str):
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


async def get_schedule(ctx: ToolContext, args: FindArgs) -> dict[str, Any]:
    """Upcoming ``calendar_event`` things (``starts_at`` not in the past), soonest first."""
    now = datetime.now(UTC)
    upcoming = []
    for thing in await readable(ctx, "calendar_event"):
        starts = _when(thing.properties.get("starts_at"))
        if starts is not None and starts < now:
            continue
        upcoming.append((starts or datetime.max.replace(tzinfo=UTC), thing))
    upcoming.sort(key=lambda item: item[0])
    things = [thing for _, thing in upcoming]
    found = best_matches(things, args.query, args.limit) if args.query else things[: args.limit]
    return {"events": [_summary(thing) for thing in found], "count": len(found)}


class LeadArgs(msgspec.Struct, forbid_unknown_fields=True):
    """Who to contact and about what."""

    name: Annotated[str, Meta(min_length=1, max_length=200)]
    email: Annotated[str, Meta(min_length=3, max_length=254)]
    interest: Annotated[str, Meta(max_length=1000)] = ""


async def create_lead(ctx: ToolContext, args: LeadArgs) -> dict[str, Any]:
    """Record a visitor who asked to be contacted as a ``lead`` (once per email and
    conversation, also when calls run at once)."""
    email = args.email.strip()
    if not _EMAIL.match(email):
        raise sdk.ValidationFailed(f"{email!r} is not an email address", field="email")
    if not ctx.can("clone.create_lead"):
        raise sdk.Forbidden("leads cannot be recorded in this conversation")
    props = {"email": email.lower(), "clone_id": str(ctx.clone.id), "thread_id": str(ctx.thread.id)}
    name = " ".join(args.name.split())[:200] or email
    async with ctx.stores.session.transaction():
        # Check then create under a lock on (group, conversation, email) held until commit:
        # two answers of one conversation at once (two tabs, a retried request) record one.
        await ctx.stores.session.lock(
            "clone_lead", ctx.scope.group_id, ctx.thread.id, props["email"]
        )
        existing = await ctx.stores.things.list(type="lead", where=props, limit=1)
        if existing.items:
            return {"lead_id": str(existing.items[0].id), "status": "already recorded"}
        lead = await ctx.stores.things.create(
            "lead",
            name=name,
            properties={**props, "interest": args.interest.strip(), "visitor": ctx.visitor},
        )
    return {"lead_id": str(lead.id), "status": "recorded"}


BUILTIN_TOOLS = (
    CloneTool(
        "get_product_info",
        "Look up the creator's products (name, price, description) by words of the "
        "question. Use it for questions about what the creator sells.",
        FindArgs,
        finder("product", "products"),
        ("product",),
    ),
    CloneTool(
        "get_course_info",
        "Look up the creator's courses (name, price, outline, schedule) by words of the question.",
        FindArgs,
        finder("course", "courses"),
        ("course",),
    ),
    CloneTool(
        "get_schedule",
        "The creator's upcoming events, classes and sessions, soonest first; optionally "
        "only those matching the query's words.",
        FindArgs,
        get_schedule,
        ("calendar_event",),
    ),
    CloneTool(
        "create_lead",
        "Record that the visitor wants to be contacted by the creator. Only call it when "
        "the visitor has given their name and email address and asked to be contacted.",
        LeadArgs,
        create_lead,
        ("lead",),
    ),
)

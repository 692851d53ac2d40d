"""The ``hello`` plugin: greetings as things, a "greeted" event, two routes, one handler,
one job, one command.

Everything here comes from ``sdk`` (and Litestar, msgspec, click), as for any third-party
plugin.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any
from uuid import UUID

import click
import msgspec
from litestar import Response, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from msgspec import Meta

import sdk
from sdk import EventHandler, EventType, HandlerContext, Resource, ThingType, hookimpl


class Greeting(msgspec.Struct, forbid_unknown_fields=True):
    """Properties of a ``greeting`` thing."""

    text: str
    language: str = "en"
    acknowledged: bool = False


class Greeted(msgspec.Struct, forbid_unknown_fields=True):
    """Payload of a ``greeted`` event."""

    greeting_id: str
    text: str


class GreetIn(msgspec.Struct, forbid_unknown_fields=True):
    """Body of ``POST /api/v1/hello/groups/{group_id}/greet``."""

    name: Annotated[str, Meta(min_length=1, max_length=200)] = "world"
    language: Annotated[str, Meta(min_length=2, max_length=35)] = "en"


@post("/groups/{group_id:uuid}/greet", summary="Greet someone")
async def greet(
    group_id: FromPath[UUID],
    data: JSONBody[GreetIn],
    group_scope: NamedDependency[sdk.Scope],
    ontology: NamedDependency[sdk.Ontology],
    permissions: NamedDependency[sdk.Permissions],
) -> Response[sdk.Thing]:
    """Create a ``greeting`` thing and emit ``greeted``, in one transaction."""
    permissions.require(group_scope, "thing.create", Resource(group_id, type="greeting"))
    text = f"Hello, {data.name}!"
    async with ontology.transaction(group_scope) as o:
        thing = await o.things.create(
            "greeting", name=text, properties={"text": text, "language": data.language}
        )
        await o.events.emit(
            "greeted", {"greeting_id": str(thing.id), "text": text}, target_id=thing.id
        )
    return Response(thing, status_code=201)


async def acknowledge(event: sdk.Event, ctx: HandlerContext) -> None:
    """After a greeting commits, mark it acknowledged (idempotent)."""
    await ctx.ontology.things.update(
        UUID(event.payload["greeting_id"]), properties={"acknowledged": True}
    )


class TallyIn(msgspec.Struct, forbid_unknown_fields=True):
    """Body of ``POST /api/v1/hello/groups/{group_id}/tally``."""

    #: How long the job waits before counting, to make a running job observable.
    pause_seconds: Annotated[float, Meta(ge=0, le=5)] = 0.0


class TallyQueued(msgspec.Struct):
    """The queued job; ``GET /api/v1/groups/{group_id}/jobs/{job_id}`` follows it."""

    job_id: str


@post(
    "/groups/{group_id:uuid}/tally",
    summary="Count the group's greetings in a job",
    status_code=202,
)
async def tally(
    group_id: FromPath[UUID],
    data: JSONBody[TallyIn],
    group_scope: NamedDependency[sdk.Scope],
    platform: NamedDependency[sdk.Platform],
    permissions: NamedDependency[sdk.Permissions],
) -> TallyQueued:
    """Queue the ``hello.tally`` job for the group."""
    permissions.require(group_scope, "thing.create", Resource(group_id, type="greeting"))
    job_id = await platform.jobs.enqueue("hello.tally", data.pause_seconds, group_id=group_id)
    return TallyQueued(job_id)


async def count_greetings(ctx: dict[str, Any], pause_seconds: float) -> dict[str, int]:
    """Report that it started, wait ``pause_seconds``, count the group's greetings."""
    await ctx["progress"](0, 1)
    await asyncio.sleep(pause_seconds)
    greetings = await sdk.every_item(ctx["ontology"].things.list, type="greeting")
    await ctx["progress"](1, 1)
    return {"greetings": len(greetings)}


@hookimpl
def register_thing_types() -> list[ThingType]:
    return [ThingType("greeting", Greeting, "A greeting someone was sent")]


@hookimpl
def register_event_types() -> list[EventType]:
    return [EventType("greeted", Greeted, "Someone was greeted")]


@hookimpl
def register_routes() -> list[Any]:
    return [sdk.api_router("hello", [greet, tally])]


@hookimpl
def register_event_handlers() -> list[EventHandler]:
    return [EventHandler("greeted", acknowledge, name="hello.acknowledge")]


@hookimpl
def register_jobs() -> list[sdk.Job]:
    return [sdk.Job(count_greetings, name="hello.tally", max_tries=3)]


@hookimpl
def register_commands(cli: click.Group) -> None:
    @cli.group()
    def hello() -> None:
        """The hello plugin's greetings."""

    @hello.command("count")
    @click.argument("group_id", type=click.UUID)
    @sdk.with_platform
    async def count(platform: sdk.Platform, group_id: UUID) -> None:
        """Print how many greetings the group GROUP_ID was sent."""
        stores = platform.ontology.scoped(sdk.Scope.system(group_id))
        greetings = await sdk.every_item(stores.things.list, type="greeting")
        click.echo(len(greetings))

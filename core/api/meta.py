"""Liveness, readiness, the caller, their tokens, and the registered types."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID

import msgspec
from litestar import Response, delete, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from core.api.schemas import TokenCreate, TokenCreated, TypeInfo
from core.auth.tokens import Actor, ApiToken, Directory
from core.errors import PROBLEM_CONTENT_TYPE, problem_body
from core.hosts import ANY_HOST
from core.platform import Platform


class Health(msgspec.Struct):
    status: str
    checks: dict[str, str] = msgspec.field(default_factory=dict)


# probes answer on every host: a load balancer may ask with any Host
@get("/health", tags=["health"], summary="Liveness", include_in_schema=True, opt=dict(ANY_HOST))
async def health() -> Health:
    return Health(status="ok")


@get(
    "/ready", tags=["health"], summary="Readiness: database and Redis reachable", opt=dict(ANY_HOST)
)
async def ready(platform: NamedDependency[Platform]) -> Response[Any]:
    checks = await platform.check_ready()
    if all(value == "ok" for value in checks.values()):
        return Response(Health(status="ok", checks=checks))
    failing = ", ".join(f"{name}: {value}" for name, value in checks.items() if value != "ok")
    body = problem_body(503, "not_ready", "Not ready", failing, extra={"checks": checks})
    return Response(body, status_code=503, media_type=PROBLEM_CONTENT_TYPE)


@get("/api/v1/me", tags=["people"], summary="Who the token belongs to")
async def me(actor: NamedDependency[Actor]) -> Actor:
    return actor


@post("/api/v1/me/tokens", tags=["people"], summary="Create an API token (shown once)")
async def create_token(
    data: JSONBody[TokenCreate],
    actor: NamedDependency[Actor],
    directory: NamedDependency[Directory],
) -> Response[TokenCreated]:
    expires_in = timedelta(days=data.expires_in_days) if data.expires_in_days else None
    token, secret = await directory.issue_token(actor.id, data.name, expires_in=expires_in)
    return Response(
        TokenCreated(id=token.id, name=token.name, token=secret, expires_at=token.expires_at),
        status_code=201,
    )


@get("/api/v1/me/tokens", tags=["people"], summary="Your API tokens (never their secrets)")
async def list_tokens(
    actor: NamedDependency[Actor], directory: NamedDependency[Directory]
) -> list[ApiToken]:
    return await directory.tokens_of(actor.id)


@delete("/api/v1/me/tokens/{token_id:uuid}", tags=["people"], summary="Revoke an API token")
async def revoke_token(
    token_id: FromPath[UUID],
    actor: NamedDependency[Actor],
    directory: NamedDependency[Directory],
) -> None:
    await directory.revoke_token(actor.id, token_id)


@get("/api/v1/types", tags=["types"], summary="Registered thing, connection and event types")
async def list_types(platform: NamedDependency[Platform]) -> list[TypeInfo]:
    registry = platform.registry
    out = []
    for kind, table, attr in (
        ("thing", registry.things, "properties"),
        ("connection", registry.connections, "metadata"),
        ("event", registry.events, "payload"),
    ):
        for name, reg in sorted(table.items()):
            struct = getattr(reg.declaration, attr)
            out.append(
                TypeInfo(
                    kind=kind,
                    name=name,
                    plugin=reg.plugin,
                    description=reg.declaration.description,
                    schema=msgspec.json.schema(struct) if struct is not None else None,
                )
            )
    return out

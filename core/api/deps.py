"""Dependencies every route may ask for by name: platform, ontology, permissions, actor, scope."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from uuid import UUID

from litestar import Request
from litestar.di import Provide
from litestar.params import FromPath

from core.auth.tokens import Actor
from core.errors import Unauthorized
from core.ontology.scope import Scope

if TYPE_CHECKING:
    from core.platform import Platform


def bearer_token(request: Request[Any, Any, Any]) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("send an API token as 'Authorization: Bearer <token>'")
    return token.strip()


def _platform(request: Request[Any, Any, Any]) -> Platform:
    platform: Platform = request.app.state.platform
    return platform


async def provide_actor(request: Request[Any, Any, Any]) -> Actor:
    return await _platform(request).directory.actor_for_token(bearer_token(request))


async def provide_scope(request: Request[Any, Any, Any], group_id: FromPath[UUID]) -> Scope:
    return await _platform(request).directory.scope_for_token(bearer_token(request), group_id)


def dependencies(platform: Platform) -> dict[str, Provide]:
    return {
        "platform": Provide(lambda: platform, sync_to_thread=False),
        "ontology": Provide(lambda: platform.ontology, sync_to_thread=False),
        "permissions": Provide(lambda: platform.permissions, sync_to_thread=False),
        "directory": Provide(lambda: platform.directory, sync_to_thread=False),
        "actor": Provide(provide_actor),
        "group_scope": Provide(provide_scope),
    }

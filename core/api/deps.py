"""Dependencies every route may ask for by name: platform, ontology, permissions, actor, scope."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from uuid import UUID

from litestar import Request
from litestar.di import Provide
from litestar.params import FromPath

from core.auth.permissions import Resource
from core.auth.sessions import COOKIE_NAME, CSRF_HEADER, SessionInfo
from core.auth.tokens import Actor
from core.errors import Unauthorized
from core.ontology.scope import Scope

if TYPE_CHECKING:
    from core.platform import Platform


def bearer_token(request: Request[Any, Any, Any]) -> str | None:
    """The bearer token, ``None`` without an Authorization header; a malformed one is 401."""
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("send an API token as 'Authorization: Bearer <token>'")
    return token.strip()


def _platform(request: Request[Any, Any, Any]) -> Platform:
    platform: Platform = request.app.state.platform
    return platform


async def current_session(request: Request[Any, Any, Any]) -> SessionInfo:
    """The browser session of the request's cookie (CSRF-checked for writes), or 401."""
    cookie = request.cookies.get(COOKIE_NAME)
    if not cookie:
        raise Unauthorized("log in, or send an API token as 'Authorization: Bearer <token>'")
    return await _platform(request).sessions.resolve(
        cookie, method=request.method, csrf_header=request.headers.get(CSRF_HEADER)
    )


async def provide_actor(request: Request[Any, Any, Any]) -> Actor:
    """Who is calling: an API token's person, else the session cookie's."""
    token = bearer_token(request)
    if token is not None:
        return await _platform(request).directory.actor_for_token(token)
    return (await current_session(request)).person


async def provide_scope(request: Request[Any, Any, Any], group_id: FromPath[UUID]) -> Scope:
    """Who is calling, in the path's group, with which role (404 for a group not theirs)."""
    directory = _platform(request).directory
    token = bearer_token(request)
    if token is not None:
        return await directory.scope_for_token(token, group_id)
    session = await current_session(request)
    return await directory.scope_for_person(session.person.id, group_id)


class GroupContext:
    """Everything a group-scoped route needs, resolved once per request: who is acting and
    with which role (``scope``), the stores bound to that scope, and the permission check.

    One dependency instead of three also keeps Litestar on its fast path (several
    dependencies of one handler are resolved in an anyio task group, per request)."""

    __slots__ = ("permissions", "platform", "scope", "stores")

    def __init__(self, scope: Scope, platform: Platform) -> None:
        self.scope = scope
        self.platform = platform
        self.permissions = platform.permissions
        self.stores = platform.ontology.scoped(scope)

    @property
    def group_id(self) -> UUID:
        return self.scope.group_id

    def resource(
        self, type: str | None = None, id: UUID | None = None, status: str | None = None
    ) -> Resource:
        return Resource(self.scope.group_id, type, id, status)

    def require(self, action: str, resource: Resource | None = None) -> None:
        """Raise ``Forbidden`` unless the caller may ``action`` (on ``resource``, default:
        the group itself)."""
        self.permissions.require(self.scope, action, resource or self.resource())


async def provide_group(request: Request[Any, Any, Any], group_id: FromPath[UUID]) -> GroupContext:
    return GroupContext(await provide_scope(request, group_id), _platform(request))


def dependencies(platform: Platform) -> dict[str, Provide]:
    return {
        "platform": Provide(lambda: platform, sync_to_thread=False),
        "ontology": Provide(lambda: platform.ontology, sync_to_thread=False),
        "permissions": Provide(lambda: platform.permissions, sync_to_thread=False),
        "directory": Provide(lambda: platform.directory, sync_to_thread=False),
        "actor": Provide(provide_actor),
        "group_scope": Provide(provide_scope),
        "group": Provide(provide_group),
    }


def from_app_state(attribute: str) -> Provide:
    """A dependency providing ``app.state.<attribute>``: how a plugin's service, built in
    its ``startup`` hook, reaches its handlers, which then name it as a parameter::

        ROUTES = [sdk.api_router("website", [WebsiteController],
                                 dependencies={"websites": sdk.from_app_state("website")})]

        async def list_sites(self, websites: Websites, ...) -> ...

    A dotted ``attribute`` reaches into what is there: ``"clone.chat"`` provides
    ``app.state.clone.chat``, one service of several a plugin keeps together.
    A handler asking for it before ``startup`` ran gets a clear error, not ``None``."""
    names = attribute.split(".")

    def provide(request: Request[Any, Any, Any]) -> Any:
        found: Any = request.app.state
        try:
            for name in names:
                found = getattr(found, name)
        except AttributeError:
            raise RuntimeError(
                f"app.state.{attribute} is not set: the plugin's startup hook has not run"
            ) from None
        return found

    return Provide(provide, sync_to_thread=False)

"""The embed widget: a chat bubble any site can show, for anonymous visitors.

A creator pastes ``<script src="https://<platform>/clone/embed.js" data-clone="<id>"
async></script>`` into a site (a website-plugin page gets it through the ``clone_chat``
component). ``embed.js`` draws a bubble; opening it shows ``/clone/widget/{id}`` in a
frame, a page of this platform that talks to the public widget API below. Because that
page is on the platform's origin, the visitor's site never sees the conversation.

* **Origins.** The widget page may be framed only by the platform itself and the clone's
  ``allowed_origins`` (``frame-ancestors``); the widget API answers browsers of those
  origins and of the verified custom domains of the clone's group's websites only (CORS with the
  exact origin; any other ``Origin`` is a 403 ``origin_not_allowed``). The platform's
  origin is core's ``public_url`` when set, else the request's ``Host``; core's
  ``public_sites_origin``, where published pages run the widget, counts as the platform's.
* **Hosts.** The script, the frame's page and this API are answered on every host
  (``sdk.ANY_HOST``): a page on a custom domain or on ``public_sites_origin`` loads them
  from its own origin, so the frame and its API calls are same-origin there and no
  session cookie of the admin's origin is involved (the widget has its own session
  header). The snippet creators paste names ``public_sites_origin`` when it is set.
* **Sessions.** ``POST .../sessions`` starts an anonymous session: a random token (sent
  back as ``X-Clone-Session``) kept in Redis with its clone, group, visitor id and
  conversation, for ``widget_session_hours``. The visitor acts with the ``visitor`` role
  in the clone's group: they chat with active clones, see only their own conversation,
  read what is published (tools) and may leave their details (``create_lead``).
* **Limits.** New sessions per address and clone per hour, questions per session per
  minute, and questions of all visitors to one clone per UTC day, on ``platform.limits``
  (Redis: every process shares them); over a limit: 429 ``rate_limited`` with
  ``Retry-After`` (for the daily one: until the next UTC day). The creator's own chat is
  not limited here.
"""

from __future__ import annotations

import functools
import hashlib
import math
import re
import secrets
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit
from uuid import UUID

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.enums import ScopeType
from litestar.params import FromPath, FromQuery, HeaderParameter, JSONBody
from litestar.response import Template
from litestar.types import ASGIApp, HTTPResponseStartEvent, Message, Receive, Scope, Send

import sdk
from plugins.clone.api import respond, service_dependencies
from plugins.clone.services import ANSWERING_STATUSES, Chat, answers
from plugins.clone.types import (
    CloneProps,
    FeedbackIn,
    MessageIn,
    MessageView,
    ThreadIn,
)

HERE = Path(__file__).parent
SESSION_HEADER = "X-Clone-Session"
_KEY = "clone:widget:"
_CORS_STATE = "clone_widget_cors"
WIDGET_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' https: data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors {ancestors}"
)
Session = Annotated[str | None, HeaderParameter(name=SESSION_HEADER)]


class WidgetSession(msgspec.Struct):
    clone_id: str
    group_id: str
    visitor: str
    thread_id: str


class SessionView(msgspec.Struct):
    """A visitor's session: send ``session`` as the ``X-Clone-Session`` header."""

    session: str
    thread_id: str
    expires_in: int


class WidgetConfig(msgspec.Struct):
    """What the widget shows before the first question."""

    clone_id: str
    name: str
    welcome_message: str
    theme: dict[str, str]


class VisitorContext(sdk.GroupContext):
    """A group context for an anonymous widget visitor (``visitor`` role, no person)."""

    __slots__ = ("visitor",)

    def __init__(self, scope: sdk.Scope, platform: sdk.Platform, visitor: str) -> None:
        super().__init__(scope, platform)
        self.visitor = visitor


DEFAULT_PORTS = (("http", 80), ("https", 443))


def origin_of(url: str) -> str | None:
    """``scheme://host[:port]`` of ``url``, lower-case; ``None`` if it has none (or is no
    URL at all: an ``Origin`` or ``Referer`` header is whatever a client sends)."""
    try:
        parts = urlsplit(url.strip())
        number = parts.port
    except ValueError:  # "http://[" (a broken IPv6 host), a port out of range
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    port = f":{number}" if number and (parts.scheme, number) not in DEFAULT_PORTS else ""
    return f"{parts.scheme}://{parts.hostname.lower()}{port}"


def own_origin(request: Request[Any, Any, Any]) -> str:
    """The origin this request reached (its ``Host``): what a page served in answer to it
    calls ``'self'``."""
    return origin_of(str(request.base_url)) or ""


def platform_origin(request: Request[Any, Any, Any]) -> str:
    """The platform's origin: core's ``public_url`` when set (a ``Host`` header can name
    anything that reaches this server), else the request's own."""
    public_url = _platform(request).settings.public_url
    return (origin_of(public_url) if public_url else None) or own_origin(request)


def allowed_origins(props: CloneProps) -> set[str]:
    return {o for o in (origin_of(u) for u in props.allowed_origins) if o}


def _platform(request: Request[Any, Any, Any]) -> sdk.Platform:
    platform: sdk.Platform = request.app.state.platform
    return platform


async def _public_clone(platform: sdk.Platform, clone_id: UUID) -> tuple[sdk.Scope, sdk.Thing]:
    """The clone ``clone_id`` of whichever group holds it, if it answers (active, or
    retraining after an earlier training), and a visitor scope there; 404 otherwise (a
    draft or failed clone is not public)."""
    thing = await platform.ontology.names.locate(
        clone_id, type="ai_clone", statuses=ANSWERING_STATUSES
    )
    if thing is None or not answers(thing):
        raise sdk.NotFound(f"clone {clone_id} not found")
    return sdk.Scope.visitor(thing.group_id), thing


class OriginNotAllowed(sdk.Forbidden):
    code = "origin_not_allowed"
    title = "Origin not allowed"


async def _check_origin(request: Request[Any, Any, Any], clone: sdk.Thing) -> None:
    """Browsers of other origins than the platform's, the clone's allowed ones and the
    custom domains of its group's websites (as the ``public_url_group`` hook answers) are
    refused; an allowed cross-origin caller gets CORS headers (also on errors).

    A website's custom domain reaches this server too (its pages load ``embed.js`` from
    their own origin, so the widget runs there): such an origin is the platform's only for
    clones of the website's group, never because the request's ``Host`` names it."""
    origin = request.headers.get("origin")
    if origin is None:
        return  # not a browser's cross-origin request
    props = msgspec.convert(clone.properties, CloneProps)
    seen = origin_of(origin)
    public_url = _platform(request).settings.public_url
    if (
        seen is not None
        and seen not in allowed_origins(props)
        and not (public_url and seen == platform_origin(request))
        and seen != _platform(request).hosts.sites_origin
    ):
        site_group = await sdk.group_serving_url(request.app, seen)
        if site_group is not None:  # a website's custom domain: its group's clones only
            seen = seen if site_group == clone.group_id else None
        elif seen != platform_origin(request):  # the request's Host, with no public_url
            seen = None
    if seen is None:
        raise OriginNotAllowed(
            f"this clone's widget is not allowed on {origin[:200]}; its creator can add the "
            "origin to the clone's allowed origins"
        )
    if seen != own_origin(request):
        request.scope.setdefault("state", {})[_CORS_STATE] = origin


_WIDGET_PATH = re.compile(r"^/api/v1/clone/widget/([0-9a-fA-F-]{36})(/|$)")
PREFLIGHT_HEADERS = [
    (b"access-control-allow-methods", b"GET, POST, OPTIONS"),
    (b"access-control-allow-headers", f"Content-Type, Accept, {SESSION_HEADER}".encode()),
    (b"access-control-max-age", b"600"),
]


async def _preflight(scope: Scope, send: Send) -> None:
    """Answer a CORS preflight: 204 with the allowed methods and headers for the clone's
    allowed origins, else the problem (no CORS headers: the browser refuses)."""
    request: Request[Any, Any, Any] = Request(scope)
    match = _WIDGET_PATH.match(scope["path"])
    status, body, headers = 204, b"", list(PREFLIGHT_HEADERS)
    try:
        if match is None:
            raise sdk.NotFound("no such widget route")
        _, clone = await _public_clone(_platform(request), UUID(match.group(1)))
        await _check_origin(request, clone)
        origin = scope.get("state", {}).get(_CORS_STATE)
        if origin:
            headers += [(b"access-control-allow-origin", origin.encode()), (b"vary", b"Origin")]
    except (sdk.PlatformError, ValueError) as exc:
        error = exc if isinstance(exc, sdk.PlatformError) else sdk.NotFound("no such clone")
        status = error.status
        body = msgspec.json.encode(
            sdk.problem_body(error.status, error.code, error.title, error.detail)
        )
        headers = [(b"content-type", b"application/problem+json")]
    headers.append((b"content-length", str(len(body)).encode()))
    start: HTTPResponseStartEvent = {
        "type": "http.response.start",
        "status": status,
        "headers": headers,
    }
    await send(start)
    await send({"type": "http.response.body", "body": body, "more_body": False})


def cors_middleware(app: ASGIApp) -> ASGIApp:
    """CORS for the widget API: answers preflights itself, and adds the CORS headers to
    every response (errors too) of a request whose origin the handler accepted."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == ScopeType.HTTP and scope["method"] == "OPTIONS":
            await _preflight(scope, send)
            return

        async def send_with_cors(message: Message) -> None:
            origin = scope.get("state", {}).get(_CORS_STATE)
            if message["type"] == "http.response.start" and origin:
                headers = list(message.get("headers", []))
                headers += [
                    (b"access-control-allow-origin", origin.encode()),
                    (b"access-control-expose-headers", b"retry-after"),
                    (b"vary", b"Origin"),
                ]
                message = {**message, "headers": headers}
            await send(message)

        await app(scope, receive, send_with_cors)

    return middleware


# -- sessions and limits ------------------------------------------------------------------


def _session_key(token: str) -> str:
    return _KEY + "session:" + hashlib.sha256(token.encode()).hexdigest()


async def _limit(platform: sdk.Platform, key: str, limit: int, seconds: int, what: str) -> None:
    """Count one against ``key`` in a fixed window of ``seconds``; 429 past ``limit``."""
    await platform.limits.enforce(_KEY + key, limit, seconds, what=what)


def _utc_day() -> tuple[str, int]:
    """Today's UTC date and the seconds until the next UTC day begins."""
    now = datetime.now(UTC)
    tomorrow = datetime.combine(now.date() + timedelta(days=1), time.min, UTC)
    return now.date().isoformat(), max(1, math.ceil((tomorrow - now).total_seconds()))


def _address(request: Request[Any, Any, Any]) -> str:
    client = request.client
    return client.host if client else "unknown"


async def _session(
    request: Request[Any, Any, Any], clone_id: UUID, token: str | None
) -> tuple[VisitorContext, WidgetSession]:
    platform = _platform(request)
    scope, clone = await _public_clone(platform, clone_id)
    await _check_origin(request, clone)
    if not token:
        raise sdk.Unauthorized(f"start a session first and send it as {SESSION_HEADER}")
    raw = await platform.redis.get(_session_key(token[:200]))
    session = msgspec.json.decode(raw, type=WidgetSession) if raw else None
    if session is None or session.clone_id != str(clone_id):
        raise sdk.Unauthorized("the widget session has expired; start a new one")
    return VisitorContext(scope, platform, session.visitor), session


# -- routes --------------------------------------------------------------------------------

WIDGET = "/widget/{clone_id:uuid}"


class WidgetController(Controller):
    """The public API of a clone's widget (no account: an anonymous session)."""

    path = ""
    tags = ["clone widget"]

    @get(WIDGET + "/config", summary="What a clone's widget shows (active clones only)")
    async def config(
        self, request: Request[Any, Any, Any], clone_id: FromPath[UUID]
    ) -> WidgetConfig:
        _, clone = await _public_clone(_platform(request), clone_id)
        await _check_origin(request, clone)
        props = msgspec.convert(clone.properties, CloneProps)
        return WidgetConfig(str(clone.id), clone.name, props.welcome_message, props.widget_theme)

    @post(WIDGET + "/sessions", summary="Start an anonymous conversation")
    async def start(
        self, request: Request[Any, Any, Any], chat: NamedDependency[Chat], clone_id: FromPath[UUID]
    ) -> Response[SessionView]:
        """Answers 201 with the session token (send it as ``X-Clone-Session``) and the
        conversation's id. Limited per address (``widget_sessions_per_hour``)."""
        platform = _platform(request)
        scope, clone = await _public_clone(platform, clone_id)
        await _check_origin(request, clone)
        settings = chat.settings
        await _limit(
            platform,
            f"sessions:{clone_id}:{_address(request)}",
            settings.widget_sessions_per_hour,
            3600,
            "new conversations from your address",
        )
        visitor = "visitor:" + secrets.token_hex(8)
        group = VisitorContext(scope, platform, visitor)
        thread = await chat.start_thread(group, clone_id, ThreadIn())
        token = secrets.token_urlsafe(32)
        ttl = settings.widget_session_hours * 3600
        session = WidgetSession(str(clone_id), str(scope.group_id), visitor, thread.id)
        await platform.redis.set(_session_key(token), msgspec.json.encode(session), ex=ttl)
        return Response(SessionView(token, thread.id, ttl), status_code=201)

    @get(WIDGET + "/messages", summary="The visitor's conversation, oldest first")
    async def history(
        self,
        request: Request[Any, Any, Any],
        chat: NamedDependency[Chat],
        clone_id: FromPath[UUID],
        session: Session = None,
    ) -> list[MessageView]:
        group, found = await _session(request, clone_id, session)
        page = await chat.list_messages(group, clone_id, UUID(found.thread_id), None, 50)
        return list(reversed(page.items))

    @post(WIDGET + "/messages", summary="Ask the clone (JSON, or streamed as server-sent events)")
    async def ask(
        self,
        request: Request[Any, Any, Any],
        chat: NamedDependency[Chat],
        clone_id: FromPath[UUID],
        data: JSONBody[MessageIn],
        session: Session = None,
        stream: FromQuery[bool] = False,
    ) -> Response[Any]:
        """As the member API's ``messages`` route; limited per session
        (``widget_messages_per_minute``), per clone, address and UTC day
        (``widget_questions_per_address_per_day``) and per clone and UTC day
        (``widget_questions_per_day``)."""
        group, found = await _session(request, clone_id, session)
        await _limit(
            group.platform,
            f"messages:{hashlib.sha256(found.visitor.encode()).hexdigest()}",
            chat.settings.widget_messages_per_minute,
            60,
            "questions in a minute",
        )
        today, until_tomorrow = _utc_day()
        # one address's share first: a client over it does not spend the clone's day
        await _limit(
            group.platform,
            f"day:{clone_id}:{_address(request)}:{today}",
            chat.settings.widget_questions_per_address_per_day,
            until_tomorrow,
            "questions to this clone's chat from your address today",
        )
        await _limit(
            group.platform,
            f"day:{clone_id}:{today}",
            chat.settings.widget_questions_per_day,
            until_tomorrow,
            "questions to this clone's chat today",
        )
        turn = await chat.ask(group, clone_id, UUID(found.thread_id), data)
        return await respond(request, chat, group, turn, stream)

    @post(
        WIDGET + "/messages/{message_id:uuid}/feedback",
        summary="Rate an answer (up or down)",
        status_code=200,
    )
    async def feedback(
        self,
        request: Request[Any, Any, Any],
        chat: NamedDependency[Chat],
        clone_id: FromPath[UUID],
        message_id: FromPath[UUID],
        data: JSONBody[FeedbackIn],
        session: Session = None,
    ) -> MessageView:
        group, found = await _session(request, clone_id, session)
        return await chat.give_feedback(
            group, clone_id, UUID(found.thread_id), message_id, data.feedback
        )


# -- the page in the frame, and the script sites include ----------------------------------

EMBED_JS = HERE / "static" / "embed.js"


@functools.cache
def _embed_js() -> bytes:
    return EMBED_JS.read_bytes()


@get("/clone/embed.js", include_in_schema=False, opt={**sdk.NO_API_RATE_LIMIT, **sdk.ANY_HOST})
async def embed_script() -> Response[bytes]:
    """The script a site includes to show a clone's chat bubble."""
    return Response(
        _embed_js(),
        media_type="text/javascript",  # Litestar adds "; charset=utf-8" to text types
        headers={"Cache-Control": "public, max-age=300", "X-Content-Type-Options": "nosniff"},
    )


@get("/clone/widget/{clone_id:uuid}/look.js", include_in_schema=False, opt=sdk.NO_API_RATE_LIMIT)
async def look_script(request: Request[Any, Any, Any], clone_id: FromPath[UUID]) -> Response[bytes]:
    """The look saved in an answering clone (its colour), as a script ``embed.js`` loads
    when its page names no colour: pages may run the platform's scripts where they may not
    fetch from it (a published site's CSP has no ``connect-src``). It sets
    ``window.cpCloneLook[clone_id]``; a clone that does not answer is a 404 (the bubble
    keeps the default colour)."""
    try:
        _, clone = await _public_clone(_platform(request), clone_id)
    except sdk.NotFound:
        return Response(b"", status_code=404, media_type="text/javascript")
    theme = msgspec.convert(clone.properties, CloneProps).widget_theme
    look = {"accent": theme.get("accent", "")} if theme.get("accent") else {}
    body = (
        b"(window.cpCloneLook = window.cpCloneLook || {})["
        + msgspec.json.encode(str(clone_id))
        + b"] = "
        + msgspec.json.encode(look)
        + b";\n"
    )
    return Response(
        body,
        media_type="text/javascript",
        headers={"Cache-Control": "public, max-age=60", "X-Content-Type-Options": "nosniff"},
    )


async def framing_group(request: Request[Any, Any, Any]) -> UUID | None:
    """The group whose page on this origin frames the widget, as the browser's
    ``Referer`` names it and the ``public_url_group`` hook answers (a website's page at
    ``/sites/{slug}/...`` or on its custom domain); ``None`` for any other page (another
    site is the business of ``frame-ancestors``), and always without the website plugin.

    "This origin" is the request's own (``Host``), what the page's ``frame-ancestors
    'self'`` lets in, or ``public_url``'s: behind a TLS proxy whose ``X-Forwarded-Proto``
    is not believed, the request looks like ``http://`` while the page was ``https://``."""
    referer = request.headers.get("referer", "")[:2000]
    ours = (own_origin(request), platform_origin(request), _platform(request).hosts.sites_origin)
    if not referer or origin_of(referer) not in ours:
        return None
    return await sdk.group_serving_url(request.app, referer)


@get("/clone/widget/{clone_id:uuid}", include_in_schema=False, opt=dict(sdk.ANY_HOST))
async def widget_page(request: Request[Any, Any, Any], clone_id: FromPath[UUID]) -> Response[Any]:
    """The chat panel, for a frame on the platform's own pages and the clone's allowed
    origins only. A website of another group on this platform may not show it (its pages
    share the platform's origin, so ``frame-ancestors`` cannot tell them apart)."""
    try:
        scope, clone = await _public_clone(_platform(request), clone_id)
        framing = await framing_group(request)
        if framing is not None and framing != scope.group_id:
            raise sdk.NotFound(f"clone {clone_id} not found")
    except sdk.NotFound:
        return Response(
            b"<!doctype html><html lang=en><title>Not found</title><p>This chat is not "
            b"available.</p></html>",
            status_code=404,
            media_type="text/html",
            headers=sdk.ui_headers(WIDGET_CSP.format(ancestors="'self'")),
        )
    props = msgspec.convert(clone.properties, CloneProps)
    ancestors = " ".join(["'self'", *sorted(allowed_origins(props))])
    headers = sdk.ui_headers(WIDGET_CSP.format(ancestors=ancestors))
    headers.pop("X-Frame-Options", None)  # frame-ancestors decides
    return Template(
        template_name="clone/widget.html",
        context={
            "clone": clone,
            "props": props,
            "inline": request.query_params.get("mode") == "inline",
        },
        headers=headers,
    )


WIDGET_ROUTES = [
    sdk.api_router(
        "clone",
        [WidgetController],
        middleware=[cors_middleware],
        dependencies=service_dependencies("chat"),
        # tenant pages (a custom domain's, public_sites_origin's) run the widget there
        opt=dict(sdk.ANY_HOST),
    ),
    embed_script,
    look_script,
    widget_page,
]

"""Request ids, the access log and request metrics: one ASGI middleware around the app.

:class:`ObservabilityMiddleware` wraps the app's whole ASGI handler (``instrument(app)``),
outside routing and exception handling, so it sees every response: the API's, an unknown
path's 404, a rate limit's 429 and an unhandled error's 500. Per request it

* takes the client's ``X-Request-ID`` when it is sane (1-128 of ``A-Z a-z 0-9 . _ : / +
  = @ -``) or makes one, puts it in :data:`core.logs.request_id_var` (so every log line
  written while serving carries it) and returns it as ``X-Request-ID``;
* observes :data:`core.metrics.REQUEST_LATENCY` by method, route TEMPLATE
  (``/api/v1/groups/{group_id}/things``, never the raw path, so ids do not explode the
  label set; ``<unmatched>`` when no route matched) and status;
* writes one access log line (logger ``creator.access``) with ``method``, ``path``,
  ``route``, ``status``, ``duration_ms`` and the request id;
* lists the request in :data:`core.looplag.in_flight` while it runs, so a stall of the
  event loop names it.

It is a plain ASGI callable with no per-request allocation beyond a closure, so it costs a
few microseconds. ``GET /metrics`` serves the Prometheus exposition (not in the schema) to
a request carrying ``metrics_token`` as its bearer token, or, without that setting, to a
client on a loopback address only: route names, error counts and job figures are not for
the public.
"""

from __future__ import annotations

import ipaddress
import logging
import random
import re
import secrets
from time import perf_counter
from typing import TYPE_CHECKING, Any

from litestar import Request, Response, get
from litestar.enums import ScopeType
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from core.errors import Forbidden, Unauthorized
from core.logs import request_id_var
from core.looplag import in_flight
from core.metrics import REQUEST_LATENCY

if TYPE_CHECKING:
    from litestar import Litestar
    from litestar.types import ASGIApp, Message, Receive, Scope, Send

access_log = logging.getLogger("creator.access")

REQUEST_ID_HEADER = b"x-request-id"
UNMATCHED = "<unmatched>"
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:/+=@-]{1,128}", re.ASCII)
#: Access-log fields the message already shows; text lines do not repeat them.
_IN_MESSAGE = frozenset(("method", "path", "status", "duration_ms"))
_METHODS = frozenset(("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"))


def new_request_id() -> str:
    """32 hex digits. An id needs to be unique, not secret: no system call per request."""
    return f"{random.getrandbits(128):032x}"


def request_id_from(headers: Any) -> str | None:
    """The client's ``X-Request-ID`` from raw ASGI headers, if present and sane."""
    for name, value in headers:
        if name == REQUEST_ID_HEADER:
            try:
                text: str = value.decode("ascii")
            except UnicodeDecodeError:
                return None
            return text if _SANE_REQUEST_ID.fullmatch(text) else None
    return None


class ObservabilityMiddleware:
    """ASGI middleware: request id, latency histogram, access log (see the module doc)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        # (method, route, status) -> the histogram's child: skips prometheus' label lock
        self._series: dict[tuple[str, str, int], Any] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        start = perf_counter()
        request_id = request_id_from(scope["headers"]) or new_request_id()
        header = (REQUEST_ID_HEADER, request_id.encode("ascii"))
        method: str = scope["method"]
        path: str = scope["path"]
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = message.get("headers")
                if isinstance(headers, list):
                    headers.append(header)
                else:
                    message["headers"] = [*(headers or ()), header]
            await send(message)

        token = request_id_var.set(request_id)
        running = in_flight.request_started(scope, request_id)
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            in_flight.ended(running)
            duration = perf_counter() - start
            route = scope.get("path_template") if "route_handler" in scope else None
            route = route or UNMATCHED
            key = (method if method in _METHODS else "OTHER", route, status)
            series = self._series.get(key)
            if series is None:
                series = self._series[key] = REQUEST_LATENCY.labels(key[0], route, str(status))
            series.observe(duration)
            if access_log.isEnabledFor(logging.INFO):
                duration_ms = round(duration * 1000, 2)
                access_log.info(
                    "%s %s %s %.2fms",
                    method,
                    path,
                    status,
                    duration_ms,
                    extra={
                        "method": method,
                        "path": path,
                        "route": route,
                        "status": status,
                        "duration_ms": duration_ms,
                        "_in_message": _IN_MESSAGE,
                    },
                )
            request_id_var.reset(token)


def instrument(app: Litestar) -> Litestar:
    """Wrap ``app``'s ASGI handler (routing + exception handling) in the middleware, once."""
    if not isinstance(app.asgi_handler, ObservabilityMiddleware):
        app.asgi_handler = ObservabilityMiddleware(app.asgi_handler)
    return app


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_metrics_access(request: Request[Any, Any, Any]) -> None:
    """401 without the configured ``metrics_token``; without one, 403 unless the client's
    address (as the ASGI server reports it, ``forwarded_allow_ips`` honoured) is loopback."""
    token: str | None = request.app.state.platform.settings.metrics_token
    if token is not None:
        scheme, _, sent = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not secrets.compare_digest(
            sent.strip().encode(), token.encode()
        ):
            raise Unauthorized("send the metrics_token as 'Authorization: Bearer <token>'")
        return
    client = request.client
    if client is None or not _is_loopback(client.host):
        raise Forbidden(
            "metrics are served to loopback clients only; set metrics_token to scrape them "
            "from elsewhere"
        )


@get("/metrics", include_in_schema=False, sync_to_thread=False, name="metrics")
def metrics(request: Request[Any, Any, Any]) -> Response[bytes]:
    """Prometheus exposition of every metric in :mod:`core.metrics` (and the process's),
    for those :func:`check_metrics_access` lets in."""
    check_metrics_access(request)
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)

"""Every error becomes RFC 9457 problem+json here, once, for core and all plugins."""

from __future__ import annotations

import logging
import re
from typing import Any

import asyncpg
from litestar import Request, Response
from litestar.exceptions import HTTPException, SerializationException, ValidationException
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

from core.errors import PROBLEM_CONTENT_TYPE, Busy, PlatformError, RateLimited, problem_body

log = logging.getLogger("creator.api")

_HTTP_CODES = {
    400: ("bad_request", "Bad request"),
    401: ("unauthorized", "Authentication required"),
    403: ("forbidden", "Forbidden"),
    404: ("not_found", "Not found"),
    405: ("method_not_allowed", "Method not allowed"),
    406: ("not_acceptable", "Not acceptable"),
    409: ("conflict", "Conflict"),
    413: ("payload_too_large", "Payload too large"),
    415: ("unsupported_media_type", "Unsupported media type"),
    429: ("rate_limited", "Too many requests"),
    503: ("unavailable", "Service unavailable"),
}


def _problem(request: Request[Any, Any, Any], status: int, body: dict[str, Any]) -> Response[Any]:
    body.setdefault("instance", request.url.path)
    return Response(body, status_code=status, media_type=PROBLEM_CONTENT_TYPE)


def _screen_not_found(request: Request[Any, Any, Any]) -> Response[Any] | None:
    """An unknown path under an admin prefix (``/app/…``, ``/builder/…``) is a page a
    person opened: answer the shell's HTML 404, not problem+json."""
    platform = getattr(request.app.state, "platform", None)
    if request.method not in ("GET", "HEAD") or platform is None:
        return None
    if not platform.shell.is_screen(request.url.path):
        return None
    from core.shell_pages import not_found_page  # the pages import the API's dependencies

    page: Response[Any] = not_found_page(request)
    return page


def platform_error(request: Request[Any, Any, Any], exc: PlatformError) -> Response[Any]:
    if exc.status == 404 and (page := _screen_not_found(request)) is not None:
        return page
    body = problem_body(exc.status, exc.code, exc.title, exc.detail, extra=exc.extra)
    response = _problem(request, exc.status, body)
    if exc.status == 401:  # RFC 9110 15.5.2: a 401 must say how to authenticate
        response.headers["WWW-Authenticate"] = 'Bearer realm="api"'
    if isinstance(exc, (RateLimited, Busy)):
        response.headers["Retry-After"] = str(exc.retry_after)
    return response


#: Litestar's words for a required query, header or cookie parameter left out.
_MISSING_PARAMETER = re.compile(r"Missing required \w+ parameter '([^']+)'")


def _field_of(item: dict[str, Any]) -> str | None:
    """The field as the client named it: a body path (``properties.price``) or a query,
    path or header parameter's name. Litestar calls the whole body ``data``; that is not
    a field the client knows, so it is left out."""
    key = item.get("key")
    if not key or (key == "data" and item.get("source") == "body"):
        return None
    return str(key)


def validation_error(request: Request[Any, Any, Any], exc: ValidationException) -> Response[Any]:
    """Litestar's own validation (body shape, query and path parameters)."""
    errors = exc.extra if isinstance(exc.extra, list) else []
    first = errors[0] if errors and isinstance(errors[0], dict) else {}
    message = str(first.get("message") or exc.detail)
    if first.get("key") == "data" and message == "'data'":
        message = "a JSON request body is required"  # Litestar's KeyError for a missing body
    malformed = "decode" in message.lower() or "malformed" in message.lower()
    if malformed:
        body = problem_body(400, "malformed_body", "Malformed body", message)
        return _problem(request, 400, body)
    extra: dict[str, Any] = {}
    field = _field_of(first)
    for marker in ("missing required field `", "contains unknown field `"):
        key = message.partition(marker)[2].partition("`")[0]
        if key:  # msgspec points at the object holding the key; name the key itself
            field = f"{field}.{key}" if field else key
    missing = _MISSING_PARAMETER.match(message)
    if missing and not field:  # Litestar names a missing parameter only in its message
        field = missing.group(1)
    if field:
        extra["field"] = field
    if len(errors) > 1:
        extra["errors"] = errors
    body = problem_body(422, "validation_failed", "Validation failed", message, extra=extra)
    return _problem(request, 422, body)


def http_error(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    if exc.status_code == 404 and (page := _screen_not_found(request)) is not None:
        return page
    code, title = _HTTP_CODES.get(exc.status_code, ("http_error", "HTTP error"))
    if exc.status_code == 400 and isinstance(exc.__cause__, SerializationException):
        code, title = "malformed_body", "Malformed body"  # the body is not valid JSON
    body = problem_body(exc.status_code, code, title, exc.detail)
    response = _problem(request, exc.status_code, body)
    if exc.headers:
        response.headers.update(exc.headers)
    return response


def data_error(request: Request[Any, Any, Any], exc: asyncpg.DataError) -> Response[Any]:
    """PostgreSQL refused a value the validation let through: a NUL character in text or
    JSON (``\\u0000``), a date out of its range, a number too large. The value is the
    client's, so this is a 422, not a 500."""
    log.warning("database refused a value on %s %s: %s", request.method, request.url.path, exc)
    detail = str(exc).split("\n")[0]
    if "0x00" in detail or "Unicode escape" in detail:
        detail = "text may not contain the NUL character (\\u0000)"
    body = problem_body(422, "validation_failed", "Validation failed", detail)
    return _problem(request, 422, body)


def _in_body_decoding(exc: BaseException) -> bool:
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_name in ("decode_json", "decode_msgpack"):
            return True
        tb = tb.tb_next
    return False


def body_decode_error(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """Litestar turns msgspec's ``DecodeError`` into a 400 but lets two other decoding
    failures through: a body nested deeper than the decoder goes (``RecursionError``) and
    invalid UTF-8 inside a JSON string (``UnicodeDecodeError``). Raised while decoding the
    body they are malformed input (400); raised anywhere else they are our bug (500)."""
    if not _in_body_decoding(exc):
        return internal_error(request, exc)
    detail = (
        "the body is nested too deeply"
        if isinstance(exc, RecursionError)
        else "the body is not valid UTF-8"
    )
    body = problem_body(400, "malformed_body", "Malformed body", detail)
    return _problem(request, 400, body)


def _lone_error(exc: BaseException) -> BaseException:
    """The one error inside (nested) exception groups; the group itself otherwise.
    Concurrent work (a task group) wraps what one of its tasks raised."""
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return exc


def internal_error(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    inner = _lone_error(exc)
    if isinstance(inner, PlatformError):
        return platform_error(request, inner)
    if isinstance(inner, asyncpg.DataError):
        return data_error(request, inner)
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    body = problem_body(
        500, "internal_error", "Internal server error", "an unexpected error occurred; it is logged"
    )
    return _problem(request, HTTP_500_INTERNAL_SERVER_ERROR, body)


EXCEPTION_HANDLERS: dict[type[Exception] | int, Any] = {
    PlatformError: platform_error,
    ValidationException: validation_error,
    HTTPException: http_error,
    asyncpg.DataError: data_error,
    RecursionError: body_decode_error,
    UnicodeDecodeError: body_decode_error,
    Exception: internal_error,
}

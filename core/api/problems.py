"""Every error becomes RFC 9457 problem+json here, once, for core and all plugins."""

from __future__ import annotations

import logging
from typing import Any

from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

from core.errors import PROBLEM_CONTENT_TYPE, PlatformError, problem_body

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


def platform_error(request: Request[Any, Any, Any], exc: PlatformError) -> Response[Any]:
    body = problem_body(exc.status, exc.code, exc.title, exc.detail, extra=exc.extra)
    return _problem(request, exc.status, body)


def _field_of(item: dict[str, Any]) -> str | None:
    key = item.get("key")
    source = item.get("source")
    if key and source and source != "body":
        return f"{source}.{key}" if source != "path" else str(key)
    return str(key) if key else None


def validation_error(request: Request[Any, Any, Any], exc: ValidationException) -> Response[Any]:
    """Litestar's own validation (body shape, query and path parameters)."""
    errors = exc.extra if isinstance(exc.extra, list) else []
    first = errors[0] if errors and isinstance(errors[0], dict) else {}
    message = str(first.get("message") or exc.detail)
    malformed = "decode" in message.lower() or "malformed" in message.lower()
    if malformed:
        body = problem_body(400, "malformed_body", "Malformed body", message)
        return _problem(request, 400, body)
    extra: dict[str, Any] = {}
    field = _field_of(first)
    if field:
        extra["field"] = field
    if len(errors) > 1:
        extra["errors"] = errors
    body = problem_body(422, "validation_failed", "Validation failed", message, extra=extra)
    return _problem(request, 422, body)


def http_error(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    code, title = _HTTP_CODES.get(exc.status_code, ("http_error", "HTTP error"))
    body = problem_body(exc.status_code, code, title, exc.detail)
    response = _problem(request, exc.status_code, body)
    if exc.headers:
        response.headers.update(exc.headers)
    return response


def internal_error(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    body = problem_body(
        500, "internal_error", "Internal server error", "an unexpected error occurred; it is logged"
    )
    return _problem(request, HTTP_500_INTERNAL_SERVER_ERROR, body)


EXCEPTION_HANDLERS: dict[type[Exception] | int, Any] = {
    PlatformError: platform_error,
    ValidationException: validation_error,
    HTTPException: http_error,
    Exception: internal_error,
}

"""Domain errors and their one mapping to RFC 9457 ``application/problem+json``.

Services raise these; :func:`problem_response` is the only place that turns an error into
HTTP, so every route of core and of every plugin answers errors the same way, each with a
stable machine-readable ``code``.
"""

from __future__ import annotations

from typing import Any, ClassVar

import msgspec

PROBLEM_CONTENT_TYPE = "application/problem+json"


class PlatformError(Exception):
    """Base of every domain error. Subclasses fix ``status`` and ``code``."""

    status: ClassVar[int] = 400
    code: ClassVar[str] = "bad_request"
    title: ClassVar[str] = "Bad request"

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class ValidationFailed(PlatformError):
    """Input did not validate; ``field`` names the offending field when known."""

    status = 422
    code = "validation_failed"
    title = "Validation failed"

    def __init__(self, detail: str, *, field: str | None = None, **extra: Any) -> None:
        if field is not None:
            extra["field"] = field
        super().__init__(detail, **extra)
        self.field = field


class InvalidText(ValidationFailed):
    """Text PostgreSQL cannot store or compare (a NUL character, a lone surrogate) in a
    parameter, header or body field; ``field`` names where."""

    code = "invalid_text"
    title = "Invalid text"


class UnknownType(ValidationFailed):
    code = "unknown_type"
    title = "Unknown type"


class NotFound(PlatformError):
    status = 404
    code = "not_found"
    title = "Not found"


class Unauthorized(PlatformError):
    status = 401
    code = "unauthorized"
    title = "Authentication required"


class Forbidden(PlatformError):
    status = 403
    code = "forbidden"
    title = "Forbidden"


class GroupLimitReached(Forbidden):
    """The person already owns as many organisations as ``max_groups_per_person`` allows."""

    code = "group_limit_reached"
    title = "Group limit reached"


class Conflict(PlatformError):
    status = 409
    code = "conflict"
    title = "Conflict"


class PreconditionFailed(PlatformError):
    """An ``If-Match`` version did not match the stored one."""

    status = 412
    code = "version_mismatch"
    title = "Precondition failed"


class PayloadTooLarge(PlatformError):
    status = 413
    code = "payload_too_large"
    title = "Payload too large"


class UnsupportedMediaType(PlatformError):
    status = 415
    code = "unsupported_media_type"
    title = "Unsupported media type"


class QuotaExceeded(PlatformError):
    status = 429
    code = "quota_exceeded"
    title = "Quota exceeded"


class RateLimited(PlatformError):
    """Too many requests of one kind (:mod:`core.limits`). The client may try again in
    ``retry_after`` seconds: the response says so in ``Retry-After`` and in the body."""

    status = 429
    code = "rate_limited"
    title = "Too many requests"

    def __init__(self, detail: str, *, retry_after: int, **extra: Any) -> None:
        super().__init__(detail, retry_after=retry_after, **extra)
        self.retry_after = retry_after


class Busy(PlatformError):
    """The server cannot take this work now (:mod:`core.cpu`'s queue is full). The client
    may try again in ``retry_after`` seconds, as ``Retry-After`` says."""

    status = 503
    code = "busy"
    title = "Server busy"

    def __init__(self, detail: str, *, retry_after: int, **extra: Any) -> None:
        super().__init__(detail, retry_after=retry_after, **extra)
        self.retry_after = retry_after


class Problem(msgspec.Struct, omit_defaults=True):
    """The problem+json body (RFC 9457) plus our stable ``code``."""

    type: str
    title: str
    status: int
    code: str
    detail: str | None = None
    instance: str | None = None


def problem_body(
    status: int,
    code: str,
    title: str,
    detail: str | None,
    instance: str | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    body = msgspec.to_builtins(
        Problem(
            type=f"https://creator-platform.dev/problems/{code.replace('_', '-')}",
            title=title,
            status=status,
            code=code,
            detail=detail,
            instance=instance,
        )
    )
    if extra:
        body.update({k: v for k, v in extra.items() if k not in body})
    return body  # type: ignore[no-any-return]

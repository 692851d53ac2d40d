"""Assertions and waiting any test needs: a problem response, a condition met in the
background.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import httpx

from core.errors import PROBLEM_CONTENT_TYPE

if TYPE_CHECKING:
    pass


_PROBLEM_KEYS = ("type", "title", "status", "code")


def assert_problem(
    response: httpx.Response,
    status: int | None = None,
    code: str | None = None,
    *,
    field: str | None = None,
) -> dict[str, Any]:
    """``response`` is an RFC 9457 problem as every platform route answers errors, with
    ``status``, our stable ``code`` and the offending ``field`` when given; returns its
    body.

    Always checked: ``application/problem+json``; ``type``, ``title``, ``status`` and
    ``code`` present; the body's ``status`` equal to the HTTP status; ``code`` a
    non-empty string that ``type`` ends with; and no server error (5xx) unless
    ``status`` names one (a plugin answers 502 when a provider it calls fails)."""
    context = (response.request.method, str(response.request.url), response.status_code)
    if status is None:
        assert response.status_code < 500, (*context, response.text[:500])
    content_type = response.headers.get("content-type", "")
    shown = (*context, content_type, response.text[:500])
    assert content_type.startswith(PROBLEM_CONTENT_TYPE), shown
    body = response.json()
    assert isinstance(body, dict), (*context, body)
    for key in _PROBLEM_KEYS:
        assert key in body, (*context, f"no {key!r}", body)
    assert body["status"] == response.status_code, (*context, body)
    assert isinstance(body["code"], str) and body["code"], (*context, body)
    assert isinstance(body["title"], str) and body["title"], (*context, body)
    assert str(body["type"]).endswith(body["code"].replace("_", "-")), (*context, body)
    if status is not None:
        assert response.status_code == status, (*context, f"expected {status}", body)
    if code is not None:
        assert body["code"] == code, (*context, f"expected code {code!r}", body)
    if field is not None:
        assert body.get("field") == field, (*context, f"expected field {field!r}", body)
    return body


async def wait_until(
    condition: Callable[[], Any],
    *,
    within: float = 10.0,
    interval: float = 0.02,
    message: str | None = None,
) -> Any:
    """Call ``condition`` (sync, or returning an awaitable) every ``interval`` seconds
    until it returns something truthy, and return that.

    An ``AssertionError`` from ``condition`` means "not yet" (so it may assert what it
    waits for). After ``within`` seconds fail with an ``AssertionError`` naming
    ``message`` (or the callable), the last value it returned and the last assertion it
    raised."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    last_value: Any = None
    last_error: AssertionError | None = None
    while True:
        try:
            value = condition()
            if inspect.isawaitable(value):
                value = await value
        except AssertionError as error:
            last_error = error
        else:
            if value:
                return value
            last_value, last_error = value, None
        if loop.time() >= deadline:
            what = message or getattr(condition, "__qualname__", repr(condition))
            last = f"assertion: {last_error}" if last_error else f"value: {last_value!r}"
            raise AssertionError(f"waited {within:g} s for {what}; last {last}") from last_error
        await asyncio.sleep(interval)

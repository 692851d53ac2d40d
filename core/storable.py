"""Text PostgreSQL cannot store: where it hides in a request, and how a pasted document
loses it.

PostgreSQL's ``text`` and ``jsonb`` refuse the NUL character (U+0000), and UTF-8 has no
encoding for a lone surrogate (U+D800-U+DFFF without its pair). Either reaching a query
fails the query, and when it fails inside concurrent work (the legs of a hybrid search)
the error surfaces as a server error. :class:`StorableTextMiddleware` refuses such text
once, for every route of core and of every plugin, before a handler runs: in the query
string, the path parameters, the headers and a JSON or form body, with a 422
``invalid_text`` naming the field.

A pasted document is the exception: a PDF's extracted text or a copied web page may
carry a stray NUL that the person never saw. A route names those body fields with
:func:`pasted_text` in its ``opt``; they pass the check, and the service strips them with
:func:`strip_unstorable` and says so in its answer.

The check costs a byte search per request (``%00`` in the query string, ``\\u0000`` in a
JSON body, a NUL in a header value) on data the server holds anyway; only a request with
a hit is decoded a second time to name the field. Lone surrogates cannot come out of the
parsers themselves (msgspec refuses an unpaired ``\\ud800`` escape, and query strings and
paths are decoded with replacement characters), so the fast path looks for NUL only,
while the precise pass also catches surrogates in what it walks.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from types import MappingProxyType
from typing import Any
from urllib.parse import parse_qsl

import msgspec
from litestar import Request
from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Receive, Scope, Send

from core.errors import InvalidText

#: A route handler's ``opt`` key: the top-level body fields holding a pasted document.
PASTED_TEXT_OPT_KEY = "pasted_text"
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def pasted_text(*fields: str) -> Mapping[str, tuple[str, ...]]:
    """A route's ``opt`` (or part of it) naming the body fields that hold a pasted
    document: NUL characters and lone surrogates in them reach the handler, which strips
    them (:func:`strip_unstorable`) and says so, instead of the request being refused."""
    return MappingProxyType({PASTED_TEXT_OPT_KEY: tuple(fields)})


def strip_unstorable(text: str) -> tuple[str, int]:
    """``text`` without NUL characters and lone surrogates, and how many were removed."""
    if text.isascii() and "\x00" not in text:
        return text, 0
    clean, removed = _UNSTORABLE.subn("", text)
    return clean, removed


def stripped_warning(removed: int, field: str = "text") -> str:
    """What a service answers after :func:`strip_unstorable` removed ``removed``
    characters from a pasted document."""
    noun = "character" if removed == 1 else "characters"
    return f"{removed} {noun} that cannot be stored (NUL or lone surrogate) removed from {field}"


def unstorable(text: str) -> bool:
    """Whether ``text`` holds a character PostgreSQL cannot store."""
    return "\x00" in text or (not text.isascii() and _UNSTORABLE.search(text) is not None)


def _fields(value: Any, path: str) -> Iterator[tuple[str, str]]:
    """Every string in a decoded JSON value (keys too), with its dotted path; iterative,
    so a deeply nested body cannot exhaust the stack."""
    stack: list[tuple[str, Any]] = [(path, value)]
    while stack:
        where, node = stack.pop()
        if isinstance(node, str):
            yield where, node
        elif isinstance(node, dict):
            for key, item in node.items():
                inner = f"{where}.{key}" if where else str(key)
                yield inner, str(key)
                stack.append((inner, item))
        elif isinstance(node, list):
            stack.extend((f"{where}[{i}]", item) for i, item in enumerate(node))


def first_unstorable(value: Any, allowed: tuple[str, ...] = ()) -> str | None:
    """The path of the first string in ``value`` that PostgreSQL cannot store, outside
    the top-level fields ``allowed`` (a pasted document); ``None`` when there is none."""
    for where, text in _fields(value, ""):
        top = re.split(r"[.\[]", where, maxsplit=1)[0]
        if unstorable(text) and top not in allowed:
            return where
    return None


def _refuse(field: str, where: str) -> InvalidText:
    return InvalidText(
        f"{where} {field!r} holds a character that cannot be stored "
        "(a NUL character \\u0000 or a lone surrogate)",
        field=field,
    )


def _check_query(query_string: bytes) -> None:
    if b"%00" not in query_string and b"\x00" not in query_string:
        return
    for key, value in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True):
        if "\x00" in key or "\x00" in value:
            raise _refuse(key.replace("\x00", "\\u0000"), "query parameter")


def _check_headers(headers: list[tuple[bytes, bytes]]) -> None:
    for name, value in headers:
        if b"\x00" in value:
            raise _refuse(name.decode("latin-1"), "header")


def _check_path(scope: Scope) -> None:
    if "\x00" not in scope["path"]:
        return
    for name, value in scope.get("path_params", {}).items():
        if isinstance(value, str) and unstorable(value):
            raise _refuse(name, "path parameter")
    raise _refuse("path", "the")


def _content_type(headers: list[tuple[bytes, bytes]]) -> bytes | None:
    for name, value in headers:
        if name.lower() == b"content-type":
            return value.split(b";", 1)[0].strip().lower()
    return None


async def _check_body(scope: Scope, receive: Receive, send: Send, mime: bytes | None) -> None:
    form = mime == b"application/x-www-form-urlencoded"
    if not (form or mime is None or b"json" in mime or mime == b"text/plain"):
        return  # multipart and binary uploads: their services clean extracted text
    # Read through Litestar's request: the body limit applies and the handler reuses it.
    body = await Request[Any, Any, Any](scope, receive, send).body()
    if form:
        _check_query(body)
        return
    if b"\\u0000" not in body:
        return
    try:
        decoded = msgspec.json.decode(body)
    except (msgspec.DecodeError, RecursionError, UnicodeDecodeError):
        return  # not JSON: the handler's own decoding answers
    handler = scope.get("route_handler")
    allowed: tuple[str, ...] = tuple(handler.opt.get(PASTED_TEXT_OPT_KEY, ())) if handler else ()
    field = first_unstorable(decoded, allowed)
    if field is not None:
        raise _refuse(field.replace("\x00", "\\u0000"), "body field")


class StorableTextMiddleware(ASGIMiddleware):
    """Refuses, before any handler, text PostgreSQL cannot store (module docstring)."""

    scopes = (ScopeType.HTTP,)

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        assert scope["type"] == ScopeType.HTTP  # ``scopes`` lets nothing else through
        headers = list(scope["headers"])
        _check_headers(headers)
        _check_query(scope["query_string"])
        _check_path(scope)
        if scope["method"] in _BODY_METHODS:
            await _check_body(scope, receive, send, _content_type(headers))
        await next_app(scope, receive, send)

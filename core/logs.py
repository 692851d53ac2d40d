"""Logging for every process (``creator serve``, ``creator worker``, ``create_app``).

``configure_logging(settings)`` puts one handler on the root logger: JSON lines when
``log_format = "json"`` (``timestamp``, ``level``, ``logger``, ``message``,
``request_id`` and any ``extra=`` fields), readable text otherwise. It is idempotent: it
replaces the handler it installed before and leaves handlers others added (pytest's,
an embedding application's) alone.

The current request's id lives in :data:`request_id_var` (set by
``core.observability``), so every log line written while serving a request carries it.
"""

from __future__ import annotations

import logging
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TextIO

import msgspec

if TYPE_CHECKING:
    from core.settings import Settings

LOG_FORMATS = ("text", "json")

#: The id of the request being served in this context (``None`` outside requests).
request_id_var: ContextVar[str | None] = ContextVar("creator_request_id", default=None)


def current_request_id() -> str | None:
    """The id of the request being served (its ``X-Request-ID``), ``None`` outside one:
    the reference to give a user for an error whose details only the log keeps."""
    return request_id_var.get()


#: Attributes every ``LogRecord`` has; anything else on a record came from ``extra=``.
_STANDARD = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys()
    | {"message", "asctime", "request_id", "taskName", "color_message"}  # uvicorn's colours
)

_encode = msgspec.json.Encoder(enc_hook=str).encode


def extra_fields(record: logging.LogRecord) -> dict[str, Any]:
    """The ``extra=`` fields of a record."""
    return {k: v for k, v in record.__dict__.items() if k not in _STANDARD and k[0] != "_"}


class RequestIdFilter(logging.Filter):
    """Sets ``record.request_id`` from the context (unless the caller passed one)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = request_id_var.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None) or request_id_var.get(),
        }
        for key, value in extra_fields(record).items():
            entry.setdefault(key, value)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        try:
            return _encode(entry).decode()
        except (TypeError, ValueError, OverflowError):
            return _encode({k: repr(v) for k, v in entry.items()}).decode()


class TextFormatter(logging.Formatter):
    """``2026-11-24 10:40:00,123 INFO creator.access [req-id] message key=value ...``

    ``extra=`` fields follow the message, except those a record lists in its
    ``_in_message`` attribute (already shown in the message)."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s%(request_part)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        request_id = getattr(record, "request_id", None) or request_id_var.get()
        record.request_part = f" [{request_id}]" if request_id else ""
        try:
            line = super().format(record)
        finally:
            record.__dict__.pop("request_part", None)
        extras = extra_fields(record)
        shown = record.__dict__.get("_in_message", ())
        extras = {k: v for k, v in extras.items() if k not in shown}
        if extras:
            line += " " + " ".join(f"{k}={v}" for k, v in extras.items())
        return line


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is now (pytest swaps it per test), not to the
    stream that was current when the handler was made."""

    def __init__(self) -> None:
        super().__init__()

    @property  # type: ignore[override]
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:
        pass


_MARK = "_creator_handler"


def make_handler(log_format: str) -> logging.Handler:
    """A handler writing ``log_format`` lines to stderr, with the request id filter."""
    handler = _StderrHandler()
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    handler.addFilter(RequestIdFilter())
    return handler


def configure_logging(settings: Settings) -> logging.Handler:
    """Install (or replace) the platform's handler on the root logger and set levels."""
    log_format = settings.log_format
    if log_format not in LOG_FORMATS:
        raise ValueError(f"log_format must be one of {', '.join(LOG_FORMATS)}")
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, _MARK, False)]:
        root.removeHandler(old)
    handler = make_handler(log_format)
    setattr(handler, _MARK, True)
    root.addHandler(handler)
    level = getattr(logging, settings.log_level.upper(), logging.INFO)
    root.setLevel(level)
    logging.getLogger("creator").setLevel(level)
    return handler

"""Reading one uploaded file from a ``multipart/form-data`` body, for any plugin's route.

A handler calls :func:`read_upload` *after* its permission check, so nobody makes the
server parse a large body for a group that is not theirs (declaring the body as a
handler parameter would parse it before the dependencies are resolved).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from litestar import Request
from litestar.datastructures import UploadFile
from litestar.exceptions import HTTPException

from core.errors import PlatformError, UnsupportedMediaType, ValidationFailed


async def read_upload(
    request: Request[Any, Any, Any],
    *,
    field: str = "file",
    text_fields: Sequence[str] = (),
    max_text_chars: int = 2000,
) -> tuple[UploadFile, dict[str, str]]:
    """The one file in ``field`` and the text ``text_fields`` present (each at most
    ``max_text_chars``); a 415 for another content type and a 422 naming the field for
    a malformed body, no file, several files, or a text field that is not text. The
    caller closes the file."""
    if request.content_type[0] != "multipart/form-data":
        raise UnsupportedMediaType(f"send the file as multipart/form-data in a field {field!r}")
    try:
        form = await request.form()
    except (PlatformError, HTTPException):
        raise
    except Exception:  # a malformed or truncated multipart body
        raise ValidationFailed("the multipart body could not be read", field=field) from None
    files = form.getall(field) if field in form else []
    texts: dict[str, str] = {}
    problem: ValidationFailed | None = None
    if len(files) != 1 or not isinstance(files[0], UploadFile):
        problem = ValidationFailed(f"send exactly one file in the field {field!r}", field=field)
    for name in text_fields:
        value = form.get(name, "")
        if not isinstance(value, str) or len(value) > max_text_chars:
            problem = problem or ValidationFailed(
                f"{name} must be text of at most {max_text_chars} characters", field=name
            )
        elif value:
            texts[name] = value
    if problem is not None:
        for value in form.values():
            if isinstance(value, UploadFile):
                await value.close()
        raise problem
    return files[0], texts

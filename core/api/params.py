"""Query parameters listings share, declared once with the limits that both validate and
document them (a ``QueryParameter`` constraint is enforced by Litestar and stated in the
OpenAPI document; a ``msgspec.Meta`` on a query parameter would be neither)."""

from __future__ import annotations

from typing import Annotated

from litestar.params import QueryParameter

from core.ontology.stores import MAX_LIMIT

#: Longest cursor a listing hands out: an id (22 characters) or a key such as the dead
#: letters' (time, event id, handler name), in base64, with room to spare.
MAX_CURSOR_LENGTH = 1000

#: ``?cursor=``: the ``next_cursor`` of the previous page.
PageCursor = Annotated[
    str | None,
    QueryParameter(
        max_length=MAX_CURSOR_LENGTH,
        # Cursors are URL-safe base64: ASCII, so the limit bounds the request line too.
        pattern=r"^[A-Za-z0-9_-]*$",
        description="The next_cursor of the previous page",
    ),
]
#: ``?limit=``: at most this many items per page.
PageLimit = Annotated[int, QueryParameter(ge=1, le=MAX_LIMIT, description="Items per page")]
#: ``?type=`` filters by a registered type name.
TypeFilter = Annotated[str | None, QueryParameter(min_length=1, max_length=100)]

"""What every scoped store shares: the base class binding a store to a scope and its unit
of work, the column lists, and :func:`every_item`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar
from uuid import UUID

from core.ontology.queries import DEFAULT_LIMIT as DEFAULT_LIMIT
from core.ontology.queries import MAX_LIMIT as MAX_LIMIT
from core.ontology.queries import check_limit as check_limit
from core.ontology.queries import decode_cursor as decode_cursor
from core.ontology.queries import encode_cursor as encode_cursor
from core.ontology.records import Page

if TYPE_CHECKING:
    from core.ontology.stores import ScopedOntology


T = TypeVar("T")


async def every_item(list_page: Callable[..., Awaitable[Page[T]]], /, **filters: Any) -> list[T]:
    """Every item of a listing, read ``MAX_LIMIT`` at a time: ``list_page`` is a store's
    ``list`` (``things.list``, ``connections.list``, ``knowledge.list``), ``filters`` its
    keyword filters. For work that needs all of them, not for answering a request."""
    items: list[T] = []
    cursor: str | None = None
    while True:
        page = await list_page(**filters, cursor=cursor, limit=MAX_LIMIT)
        items += page.items
        cursor = page.next_cursor
        if cursor is None:
            return items


THING_COLUMNS = "id, group_id, type, name, status, properties, version, created_at, updated_at"
CONNECTION_COLUMNS = "id, group_id, type, from_id, to_id, metadata, created_at, valid_to"
EVENT_COLUMNS = "id, group_id, type, actor_id, target_id, payload, occurred_at"
KNOWLEDGE_COLUMNS = "id, group_id, kind, text, metadata, embedding_model, embedding_dim, created_at"


#: The ids of group $1 and of every group below it.
SUBGROUPS_SQL = (
    "WITH RECURSIVE tree (id, depth) AS (SELECT id, 0 FROM groups WHERE id = $1 "
    "UNION ALL SELECT g.id, t.depth + 1 FROM groups g JOIN tree t ON g.parent_id = t.id "
    "WHERE t.depth < 32) SELECT id FROM tree"
)
#: The root organisation above group $1 (the group itself when it has no parent).
ROOT_GROUP_SQL = (
    "WITH RECURSIVE chain (id, parent_id, depth) AS (SELECT id, parent_id, 0 FROM groups "
    "WHERE id = $1 UNION ALL SELECT g.id, g.parent_id, c.depth + 1 FROM groups g "
    "JOIN chain c ON g.id = c.parent_id WHERE c.depth < 32) "
    "SELECT id FROM chain ORDER BY depth DESC LIMIT 1"
)


class _Store:
    def __init__(self, scoped: ScopedOntology) -> None:
        self.scope = scoped.scope
        self.registry = scoped.registry
        self.session = scoped.session
        self._scoped = scoped

    @property
    def group_id(self) -> UUID:
        return self.scope.group_id

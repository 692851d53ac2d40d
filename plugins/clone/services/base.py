"""What the clone services share: the platform they work on, finding a clone, and the
small helpers their views and their callers use (quoting, ids, which clones answer)."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any
from uuid import UUID

import sdk

log = logging.getLogger("creator.clone")

#: Characters of a passage quoted in a citation.
QUOTE_CHARS = 300
#: The statuses of a clone that may answer its audience (see :func:`answers`).
ANSWERING_STATUSES = ("active", "training")


def answers(clone: sdk.Thing) -> bool:
    """Whether a clone answers its audience: active, or retraining after an earlier
    training (it answers from what it knew until the new training ends)."""
    return clone.status == "active" or (
        clone.status == "training" and bool(clone.properties.get("trained_at"))
    )


def quote(text: str, limit: int = QUOTE_CHARS) -> str:
    """``text`` cut at a word boundary to at most ``limit`` characters (with an ellipsis)."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,.;:") + "…"


def iso(value: datetime | None) -> str:
    """A stored timestamp as the API shows it (``""`` for none)."""
    return value.isoformat() if value else ""


def parse_uuid(value: str, field: str) -> UUID:
    """``value`` as an id, or a 422 naming ``field``."""
    try:
        return UUID(value)
    except (ValueError, TypeError, AttributeError):
        raise sdk.ValidationFailed(f"{field} is not a valid id", field=field) from None


class CloneService:
    """A clone service: the platform it works on, and the steps all of them take."""

    def __init__(self, platform: sdk.Platform) -> None:
        self.platform = platform

    def _transaction(self, group: sdk.GroupContext) -> Any:
        return self.platform.ontology.transaction(group.scope)

    async def get_clone_thing(self, stores: sdk.ScopedOntology, clone_id: UUID) -> sdk.Thing:
        """The clone ``clone_id`` as ``stores`` see it, or a 404."""
        try:
            return await stores.things.get(clone_id, type="ai_clone")
        except sdk.NotFound:
            raise sdk.NotFound(f"clone {clone_id} not found") from None

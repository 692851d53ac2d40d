"""Where a clone answers: ``powers`` connections from a clone to the published website
pages that show its chat bubble (the ``clone_chat`` component).

The website plugin knows nothing of clones; this module listens to its events
(``page_published``, ``page_unpublished``) and recomputes the page's connections from the
page as it is live: a clone gains ``powers`` → page when a published page shows its bubble
and loses it when the page is unpublished, changed or deleted (deleting a thing ends its
connections). Recomputing from the current state makes a repeated or late delivery
harmless.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from uuid import UUID

import sdk
from plugins.clone.training import page_as_live

COMPONENT = "clone_chat"
#: Deepest component tree walked (the website allows far less).
MAX_DEPTH = 32


def clones_shown(tree: Any, depth: int = 0) -> Iterator[str]:
    """The ``clone_id`` of every ``clone_chat`` component in a page ``tree``."""
    if depth > MAX_DEPTH or not isinstance(tree, list):
        return
    for node in tree:
        if not isinstance(node, dict):
            continue
        props = node.get("props")
        if node.get("type") == COMPONENT and isinstance(props, dict):
            clone_id = props.get("clone_id")
            if isinstance(clone_id, str) and clone_id:
                yield clone_id
        yield from clones_shown(node.get("children"), depth + 1)


async def _clone_ids(stores: sdk.ScopedOntology, page: sdk.Thing) -> set[UUID]:
    if page.status != "published":
        return set()
    live = await page_as_live(stores, page)
    found: set[UUID] = set()
    for value in set(clones_shown(live.get("tree"))):
        try:
            clone = await stores.things.get(UUID(value), type="ai_clone")
        except (ValueError, sdk.NotFound):
            continue  # not a clone of this group: nothing to record
        found.add(clone.id)
    return found


async def sync_page(event: sdk.Event, ctx: sdk.HandlerContext) -> None:
    """Make the page's ``powers`` connections match the clones its live version shows.

    One page's runs take turns (a lock on the page until the transaction ends): a run
    that read the page as published must not add its link after a later run, which read
    it unpublished, found nothing to end."""
    stores = ctx.ontology
    try:
        page_id = UUID(str(event.payload.get("page_id")))
    except ValueError:
        return
    async with stores.session.transaction():
        await stores.session.lock("clone_powers", stores.scope.group_id, page_id)
        await _sync(stores, page_id)


async def _sync(stores: sdk.ScopedOntology, page_id: UUID) -> None:
    try:
        page = await stores.things.get(page_id, type="page")
    except sdk.NotFound:
        return  # deleted meanwhile: its connections ended with it
    wanted = await _clone_ids(stores, page)
    existing = await stores.connections.list(type="powers", to_id=page_id, limit=200)
    have = {link.from_id: link for link in existing.items}
    for clone_id, link in have.items():
        if clone_id not in wanted:
            try:
                await stores.connections.delete(link.id)
            except sdk.NotFound:
                pass  # another delivery ended it
    for clone_id in wanted - set(have):
        try:
            await stores.connections.create("powers", clone_id, page_id, {"service": "widget"})
        except sdk.Conflict:
            pass  # another delivery made it


# Durable (a worker, retried): bookkeeping that must not be lost, and is in no hurry.
HANDLERS = (
    sdk.EventHandler("page_published", sync_page, name="placements.published", durable=True),
    sdk.EventHandler("page_unpublished", sync_page, name="placements.unpublished", durable=True),
)

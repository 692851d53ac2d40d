"""Training: the ``clone.train`` job embeds a clone's sources into the group's knowledge.

A clone's knowledge is the chunks of the things it is ``trained_on`` (its own
``clone_source`` things and website ``page`` things), ingested with ``thing_id`` = the
source, so a search restricted to those ids is the clone's knowledge and nothing else.

Training is incremental twice over: a source whose text (and title) hashes to the
``content_hash`` its ``trained_on`` connection recorded is skipped without touching the
knowledge at all, and a changed source is re-ingested, which embeds only its chunks whose
text changed. The sentences of every chunk are embedded too, once per embedding model
(:mod:`plugins.clone.sentences`: what the offline provider quotes); an unchanged source
whose sentences are done costs two reads. Each source's ``trained_on`` metadata then
records ``chunk_count`` and ``content_hash``; the clone ends ``active`` (or ``failed``
with ``training_error``), ``clone_trained`` says how many sources, chunks and newly
embedded chunks there were, and the clone's ``clone_of`` connection to its creator is
replaced by one with the next ``version`` and ``training_size`` = its chunks, in the
same transaction.

This module needs only the platform (a worker process runs it without the app's state).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import msgspec

import sdk
from plugins.clone import extract, sentences
from plugins.clone.types import CloneOfMeta, CloneTrained, TrainedOnMeta

log = logging.getLogger("creator.clone")

TRAIN_JOB = "clone.train"
#: Tries of a training job that fails unexpectedly (a database or embedding API blip);
#: a problem with the sources themselves fails it at once.
TRAIN_MAX_TRIES = 3
#: How long one try of a training may run. The local embedding model trains a few chunks
#: a second (``docs/clone.md``), so the default job timeout (5 minutes) would cut off any
#: clone of more than a few hundred new chunks; a retry skips the sources a try finished.
TRAIN_TIMEOUT_SECONDS = 3 * 3600
#: Most sources one clone may have (``trained_on`` connections listed in one page).
MAX_SOURCES = 200

Progress = Callable[[int, int], Awaitable[None]]


def training_hash(title: str, text: str) -> str:
    """What ``trained_on.content_hash`` records: the title and text that were embedded."""
    return hashlib.sha256(f"{title}\n\x00\n{text}".encode()).hexdigest()


async def source_links(stores: sdk.ScopedOntology, clone_id: UUID) -> list[sdk.Connection]:
    """The clone's live ``trained_on`` connections, oldest first."""
    found = await stores.connections.list(type="trained_on", from_id=clone_id, limit=MAX_SOURCES)
    return list(reversed(found.items))


async def creator_link(stores: sdk.ScopedOntology, clone_id: UUID) -> sdk.Connection | None:
    """The clone's live ``clone_of`` connection to its creator, if it has one."""
    found = await stores.connections.list(type="clone_of", from_id=clone_id, limit=1)
    return found.items[0] if found.items else None


async def record_training(o: sdk.ScopedOntology, clone_id: UUID, chunks: int) -> None:
    """Count a successful training on the clone's ``clone_of`` connection (the next
    version, its chunks now), in the caller's transaction. The caller has locked the
    clone (its update), so of two trainings ending at once the second reads the first's
    version and counts on from it."""
    link = await creator_link(o, clone_id)
    if link is None:
        return  # no creator recorded (made by someone who is no member, or before clone_of)
    meta = msgspec.convert(link.metadata, CloneOfMeta)
    after = CloneOfMeta(version=meta.version + 1, training_size=chunks)
    try:
        await o.connections.replace("clone_of", clone_id, link.to_id, msgspec.to_builtins(after))
    except sdk.NotFound:
        # The creator left the group: the clone keeps their last record; training stands.
        log.info("clone %s: creator %s is no longer a member", clone_id, link.to_id)


async def page_as_live(stores: sdk.ScopedOntology, page: sdk.Thing) -> dict[str, Any]:
    """A website ``page``'s properties with the title, SEO and tree of its published
    revision if it has one (else its draft's), read as JSON through the type."""
    props: dict[str, Any] = dict(page.properties)
    number = props.get("published_revision")
    if isinstance(number, int):
        found = await stores.things.list(
            type="page_revision", where={"page_id": str(page.id), "number": number}, limit=1
        )
        if found.items:
            live = found.items[0].properties
            for key in ("title", "seo", "tree"):
                if key in live:
                    props[key] = live[key]
    return props


async def source_text(stores: sdk.ScopedOntology, thing: sdk.Thing) -> tuple[str, str]:
    """``(title, text)`` of a source thing as training embeds it. A ``page`` is read as it
    is live (its published revision) if published, else as its draft."""
    if thing.type == "clone_source":
        text = thing.properties.get("text")
        return thing.name, text if isinstance(text, str) else ""
    if thing.type == "page":
        props = await page_as_live(stores, thing)
        title = props.get("title")
        words = await sdk.run_cpu(extract.page_text, props)
        return (title if isinstance(title, str) and title else thing.name), words
    raise sdk.ValidationFailed(f"a {thing.type} cannot be a clone's source", field="thing_id")


async def _replace_link(
    platform: sdk.Platform, scope: sdk.Scope, link: sdk.Connection, meta: TrainedOnMeta
) -> bool:
    """Record ``meta`` on the source's ``trained_on`` connection. The stores cannot change
    a connection's metadata, so the connection is ended and made again (its history keeps
    every training). False if the source was removed meanwhile."""
    async with platform.ontology.transaction(scope) as o:
        try:
            await o.connections.delete(link.id)
        except sdk.NotFound:
            return False
        await o.connections.create(
            "trained_on", link.from_id, link.to_id, msgspec.to_builtins(meta)
        )
    return True


async def train(
    platform: sdk.Platform,
    scope: sdk.Scope,
    clone_id: UUID,
    progress: Progress | None = None,
    job_id: str | None = None,
) -> CloneTrained:
    """Embed the clone's changed sources, record each one's training, and make the clone
    ``active``; emits ``clone_trained``."""
    started = time.perf_counter()
    stores = platform.ontology.scoped(scope)
    learns_sentences = sentences.reads_sentences(
        platform, await stores.things.get(clone_id, type="ai_clone")
    )
    links = await source_links(stores, clone_id)
    total = len(links)
    if progress is not None:
        await progress(0, total)
    sources = chunks = embedded = said = 0  # said: sentences embedded
    for done, link in enumerate(links, start=1):
        try:
            thing = await stores.things.get(link.to_id)
        except sdk.NotFound:
            thing = None  # deleted meanwhile (its connection ended with it)
        if thing is not None:
            title, text = await source_text(stores, thing)
            meta = msgspec.convert(link.metadata, TrainedOnMeta)
            digest = training_hash(title, text)
            if digest == meta.content_hash:
                count = meta.chunk_count
                if count and learns_sentences:  # trained before its sentences were, by
                    # another model, or for a provider that did not read them
                    said += await sentences.learn_thing(platform, scope, thing.id)
            else:
                if text.strip():
                    result = await platform.knowledge.ingest(
                        scope,
                        text,
                        thing_id=thing.id,
                        metadata={"title": title, "source_type": thing.type},
                    )
                    count, embedded = len(result.items), embedded + result.embedded
                    if learns_sentences:
                        said += await sentences.learn(
                            platform, scope, [(item.id, item.text) for item in result.items]
                        )
                else:
                    count = 0
                    await stores.knowledge.delete_for_thing(thing.id)
                meta = TrainedOnMeta(chunk_count=count, weight=meta.weight, content_hash=digest)
                if not await _replace_link(platform, scope, link, meta):
                    count = 0
            sources, chunks = sources + 1, chunks + count
        if progress is not None:
            await progress(done, total)
    seconds = round(time.perf_counter() - started, 3)
    report = CloneTrained(
        clone_id=str(clone_id),
        sources=sources,
        chunks=chunks,
        embedded=embedded,
        seconds=seconds,
        sentences_embedded=said,
    )
    async with platform.ontology.transaction(scope) as o:
        await o.things.update(
            clone_id,
            status="active",
            properties={
                "trained_at": datetime.now(UTC).isoformat(),
                "training_error": None,
                "training_job": job_id,
            },
        )
        await record_training(o, clone_id, chunks)
        await o.events.emit("clone_trained", msgspec.to_builtins(report), target_id=clone_id)
    log.info(
        "clone %s trained: %d sources, %d chunks, %d embedded, %d sentences embedded in %.1f s",
        clone_id,
        sources,
        chunks,
        embedded,
        said,
        seconds,
    )
    return report


async def mark_failed(platform: sdk.Platform, scope: sdk.Scope, clone_id: UUID, error: str) -> None:
    """The clone's training failed: status ``failed`` with the reason (``clone_updated``)."""
    async with platform.ontology.transaction(scope) as o:
        try:
            await o.things.update(
                clone_id, status="failed", properties={"training_error": error[:1000]}
            )
        except sdk.NotFound:
            return  # deleted meanwhile
        await o.events.emit(
            "clone_updated",
            {"clone_id": str(clone_id), "changed": ["status", "training_error"]},
            target_id=clone_id,
        )


async def train_job(ctx: dict[str, Any], clone_id: str) -> dict[str, Any]:
    """The ``clone.train`` job: ``ctx["group_id"]`` is the clone's group."""
    platform: sdk.Platform = ctx["platform"]
    scope = sdk.Scope.system(ctx["group_id"])
    clone = UUID(clone_id)
    job_id = str(ctx.get("job_id") or "") or None
    try:
        await platform.ontology.scoped(scope).things.get(clone, type="ai_clone")
    except sdk.NotFound:
        return {"skipped": "the clone was deleted"}
    try:
        # inside the job's own limit, so running out of time is an error this try sees
        # (and the last try records), not a cancellation from outside
        async with asyncio.timeout(TRAIN_TIMEOUT_SECONDS - 30):
            report = await train(platform, scope, clone, ctx["progress"], job_id)
    except sdk.PlatformError as exc:  # the sources themselves: trying again cannot help
        await mark_failed(platform, scope, clone, exc.detail)
        return {"error": exc.detail}
    except Exception as exc:
        if int(ctx.get("job_try") or 1) >= TRAIN_MAX_TRIES:
            reason = (str(exc) or "it ran out of time") if isinstance(exc, TimeoutError) else exc
            await mark_failed(platform, scope, clone, f"{type(exc).__name__}: {reason}")
        raise
    result: dict[str, Any] = msgspec.to_builtins(report)
    return result

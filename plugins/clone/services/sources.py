"""What a clone learns from: its own ``clone_source`` things (pasted text, Markdown, HTML
or an uploaded file, kept as extracted text) and website ``page`` things, each connected
to the clone by ``trained_on``. Each clone has its own sources, so several clones in one
group each know only theirs; training (:mod:`plugins.clone.training`) reads them.
"""

from __future__ import annotations

from uuid import UUID

import msgspec

import sdk
from plugins.clone import extract
from plugins.clone.services.base import CloneService, iso, parse_uuid, quote
from plugins.clone.settings import CloneSettings
from plugins.clone.training import MAX_SOURCES, source_links, source_text, training_hash
from plugins.clone.types import SourceIn, SourcePatch, SourceProps, SourceView, TrainedOnMeta


class Sources(CloneService):
    """The sources of a group's clones: list, add (text, file or page), change, remove."""

    def __init__(self, platform: sdk.Platform, settings: CloneSettings) -> None:
        super().__init__(platform)
        self.settings = settings

    async def source_view(
        self, stores: sdk.ScopedOntology, link: sdk.Connection, thing: sdk.Thing
    ) -> SourceView:
        title, text = await source_text(stores, thing)
        meta = msgspec.convert(link.metadata, TrainedOnMeta)
        if not meta.content_hash:
            state = "new"
        elif meta.content_hash == training_hash(title, text):
            state = "trained"
        else:
            state = "changed"
        kind = thing.properties.get("kind", "text") if thing.type == "clone_source" else "page"
        filename = thing.properties.get("filename", "") if thing.type == "clone_source" else ""
        return SourceView(
            id=str(thing.id),
            clone_id=str(link.from_id),
            kind=kind,
            title=title,
            filename=filename,
            chars=len(text),
            preview=quote(text, 200),
            chunk_count=meta.chunk_count,
            state=state,  # type: ignore[arg-type]
            created_at=iso(link.created_at),
        )

    async def list_sources(
        self, group: sdk.GroupContext, clone_id: UUID, cursor: str | None, limit: int
    ) -> sdk.Page[SourceView]:
        group.require("clone.read")
        await self.get_clone_thing(group.stores, clone_id)
        page = await group.stores.connections.list(
            type="trained_on", from_id=clone_id, cursor=cursor, limit=limit
        )
        views = []
        for link in page.items:
            try:
                thing = await group.stores.things.get(link.to_id)
            except sdk.NotFound:
                continue
            views.append(await self.source_view(group.stores, link, thing))
        return sdk.Page(items=views, next_cursor=page.next_cursor)

    async def _link(
        self, stores: sdk.ScopedOntology, clone_id: UUID, source_id: UUID
    ) -> sdk.Connection:
        found = await stores.connections.list(
            type="trained_on", from_id=clone_id, to_id=source_id, limit=1
        )
        if not found.items:
            raise sdk.NotFound(f"clone {clone_id} has no source {source_id}")
        return found.items[0]

    async def get_source(
        self, group: sdk.GroupContext, clone_id: UUID, source_id: UUID
    ) -> SourceView:
        group.require("clone.read")
        await self.get_clone_thing(group.stores, clone_id)
        link = await self._link(group.stores, clone_id, source_id)
        try:
            thing = await group.stores.things.get(source_id)
        except sdk.NotFound:
            raise sdk.NotFound(f"clone {clone_id} has no source {source_id}") from None
        return await self.source_view(group.stores, link, thing)

    async def add_source(
        self, group: sdk.GroupContext, clone_id: UUID, data: SourceIn
    ) -> SourceView:
        """Pasted text, Markdown or HTML (``kind``, ``title``, ``text``), or a website page
        (``kind: "page"``, ``thing_id``)."""
        group.require("clone.manage")
        if data.kind == "page":
            if data.text:
                raise sdk.ValidationFailed("a page source takes no text", field="text")
            if not data.thing_id:
                raise sdk.ValidationFailed("name the page in thing_id", field="thing_id")
            return await self.add_page_source(
                group, clone_id, parse_uuid(data.thing_id, "thing_id")
            )
        if data.thing_id is not None:
            raise sdk.ValidationFailed(
                f"a {data.kind} source takes text, not a thing_id", field="thing_id"
            )
        title = " ".join(data.title.split())
        if not title:
            raise sdk.ValidationFailed("give the source a title", field="title")
        if not data.text.strip():
            raise sdk.ValidationFailed("the text is empty", field="text")
        pasted, removed = sdk.strip_unstorable(data.text)
        text = await sdk.run_cpu(extract.extract, data.kind, pasted)
        if not text:
            raise sdk.ValidationFailed(f"the {data.kind} has no text to learn from", field="text")
        view = await self._create_source(group, clone_id, title, data.kind, text, "")
        return _warned(view, removed)

    async def add_file_source(
        self,
        group: sdk.GroupContext,
        clone_id: UUID,
        filename: str,
        data: bytes,
        title: str = "",
    ) -> SourceView:
        """An uploaded .txt, .md, .html or .pdf file (a PDF is recognised by its bytes)."""
        group.require("clone.manage")
        await self.get_clone_thing(group.stores, clone_id)
        limit = self.settings.max_upload_bytes
        if len(data) > limit:
            raise sdk.PayloadTooLarge(
                f"the file is larger than the {limit} bytes a source may have", limit=limit
            )
        if not data:
            raise sdk.ValidationFailed("the file is empty", field="file")
        name = extract.clean_text(filename.replace("\\", "/").rsplit("/", 1)[-1])
        name = " ".join(name.split())[:255] or "upload"
        kind = extract.file_kind(name, data)
        text = await sdk.run_cpu(extract.from_file, kind, data)
        if not text:
            raise sdk.ValidationFailed("the file has no text to learn from", field="file")
        title = " ".join(title.split())[:200]
        if not title:
            stem = name.rsplit(".", 1)[0] if "." in name else name
            title = stem[:200] or "Upload"
        return await self._create_source(group, clone_id, title, kind, text, name)

    async def _create_source(
        self,
        group: sdk.GroupContext,
        clone_id: UUID,
        title: str,
        kind: str,
        text: str,
        filename: str,
    ) -> SourceView:
        props = SourceProps(
            kind=kind,  # type: ignore[arg-type]
            filename=filename,
            text=text,
            content_hash=training_hash(title, text),
        )
        async with self._transaction(group) as o:
            await self.get_clone_thing(o, clone_id)
            await self._check_source_count(group, o, clone_id)
            thing = await o.things.create(
                "clone_source", name=title, properties=msgspec.to_builtins(props)
            )
            link = await o.connections.create("trained_on", clone_id, thing.id, {})
        return await self.source_view(group.stores, link, thing)

    async def update_source(
        self, group: sdk.GroupContext, clone_id: UUID, source_id: UUID, patch: SourcePatch
    ) -> SourceView:
        """New title or text for one of the clone's own sources (training picks it up)."""
        group.require("clone.manage")
        await self.get_clone_thing(group.stores, clone_id)
        link = await self._link(group.stores, clone_id, source_id)
        source = await group.stores.things.get(source_id)
        if source.type != "clone_source":
            raise sdk.ValidationFailed(
                f"a {source.type} source changes where it lives, not here", field="source_id"
            )
        props = msgspec.convert(source.properties, SourceProps)
        title = source.name
        removed = 0
        if patch.title is not msgspec.UNSET:
            title = " ".join(patch.title.split())
            if not title:
                raise sdk.ValidationFailed("give the source a title", field="title")
        if patch.text is not msgspec.UNSET:
            kind = props.kind if props.kind in ("text", "markdown", "html") else "text"
            pasted, removed = sdk.strip_unstorable(patch.text)
            text = await sdk.run_cpu(extract.extract, kind, pasted)
            if not text:
                raise sdk.ValidationFailed("the text is empty", field="text")
            props.text = text
        props.content_hash = training_hash(title, props.text)
        async with self._transaction(group) as o:
            source = await o.things.update(
                source_id,
                name=title,
                properties=msgspec.to_builtins(props),
                replace_properties=True,
            )
        return _warned(await self.source_view(group.stores, link, source), removed)

    async def _check_source_count(
        self, group: sdk.GroupContext, o: sdk.ScopedOntology, clone_id: UUID
    ) -> None:
        await self.platform.quotas.check(group.scope, "clone_sources", within=o, parent_id=clone_id)
        if len(await source_links(o, clone_id)) >= MAX_SOURCES:
            raise sdk.QuotaExceeded(f"a clone may have at most {MAX_SOURCES} sources")

    async def add_page_source(
        self, group: sdk.GroupContext, clone_id: UUID, page_id: UUID
    ) -> SourceView:
        group.require("clone.manage")
        if "page" not in self.platform.registry.things:
            raise sdk.ValidationFailed(
                "website pages are not available here (the website plugin is not enabled)",
                field="thing_id",
            )
        async with self._transaction(group) as o:
            await self.get_clone_thing(o, clone_id)
            try:
                page = await o.things.get(page_id, type="page")
            except sdk.NotFound:
                raise sdk.NotFound(f"page {page_id} not found", field="thing_id") from None
            await self._check_source_count(group, o, clone_id)
            try:
                link = await o.connections.create("trained_on", clone_id, page_id, {})
            except sdk.Conflict:
                raise sdk.Conflict(
                    f"the clone already learns from page {page_id}", field="thing_id"
                ) from None
        return await self.source_view(group.stores, link, page)

    async def remove_source(self, group: sdk.GroupContext, clone_id: UUID, source_id: UUID) -> None:
        """The clone stops learning from the source; its own sources are deleted with
        their knowledge (a website page stays, and so does its knowledge)."""
        group.require("clone.manage")
        await self.get_clone_thing(group.stores, clone_id)
        async with self._transaction(group) as o:
            await drop_source(o, await self._link(o, clone_id, source_id))


async def drop_source(o: sdk.ScopedOntology, link: sdk.Connection) -> None:
    """Disconnect a source; the clone's own source goes with its knowledge (a website page
    stays, and so does its knowledge)."""
    await o.connections.delete(link.id)
    try:
        thing = await o.things.get(link.to_id)
    except sdk.NotFound:
        return
    if thing.type == "clone_source":
        await o.knowledge.delete_for_thing(thing.id)
        await o.things.delete(thing.id)


def _warned(view: SourceView, removed: int) -> SourceView:
    """The view, saying that ``removed`` unstorable characters left the pasted text."""
    if removed:
        view.warnings.append(sdk.stripped_warning(removed))
    return view

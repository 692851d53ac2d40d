"""Clones, their sources, training and chat, written against core's stores.

* A clone is an ``ai_clone`` thing; what it learns from are the things it is
  ``trained_on``: its own ``clone_source`` things (pasted text or an uploaded file, kept
  as extracted text) and website ``page`` things. Each clone has its own sources, so
  several clones in one group each know only theirs.
* Training runs as the ``clone.train`` job (:mod:`plugins.clone.training`).
* A conversation is an ``ai_thread`` thing with ``ai_message`` things. An answer is
  grounded in passages retrieved from the clone's sources only; when none is relevant the
  clone says it does not know without asking a model, and the question is recorded as a
  content gap (``message_answered`` with ``unanswered``).

* Tools (:mod:`plugins.clone.tools`) are offered to providers that can call them
  (``supports_tools``); each call runs with the asker's scope, its outcome is kept on the
  answer and logged as ``ai_tool_called``. With tools on offer, a question whose answer
  is not in the sources still goes to the model (a tool may answer it), told to say it
  does not know otherwise; it counts as a content gap unless a tool answered.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import math
import re
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar
from uuid import UUID

import msgspec

import sdk
from plugins.clone import extract, retrieval, sentences
from plugins.clone.providers import (
    OFFLINE_DONT_KNOW,
    AnswerRequest,
    ChatMessage,
    Finished,
    LLMProvider,
    Passage,
    ProviderError,
    TextDelta,
    ToolRequest,
)
from plugins.clone.questions import question_key
from plugins.clone.settings import CloneSettings
from plugins.clone.tools import (
    CloneTool,
    ToolContext,
    answered,
    kept,
    result_for_model,
    run_tool,
)
from plugins.clone.training import (
    MAX_SOURCES,
    TRAIN_JOB,
    creator_link,
    source_links,
    source_text,
    training_hash,
)
from plugins.clone.types import (
    Citation,
    CloneIn,
    CloneOfMeta,
    ClonePatch,
    CloneProps,
    CloneView,
    Exchange,
    MessageIn,
    MessageView,
    ProviderView,
    SourceIn,
    SourcePatch,
    SourceProps,
    SourceView,
    ThreadIn,
    ThreadView,
    ToolCall,
    TrainedOnMeta,
    TrainStarted,
)

log = logging.getLogger("creator.clone")

#: What a clone says when nothing it learned is relevant (no model is asked).
I_DONT_KNOW = (
    "I don't know — nothing I have learned covers that yet. Could you ask it another way, "
    "or get in touch directly?"
)
#: Characters of a passage quoted in a citation.
QUOTE_CHARS = 300
#: Most earlier messages read for a question's history (before the token budget).
HISTORY_MESSAGES = 50
#: Rounds of tool calls one answer may make before the model must answer.
MAX_TOOL_ROUNDS = 3
PURPOSES = {
    "sales": "You help visitors understand {group}'s offers and find the one that fits them, "
    "honestly and without pressure.",
    "support": "You help customers with questions about {group}'s products and services.",
    "teaching": "You teach {group}'s material: explain clearly, step by step, with examples "
    "from it.",
    "general": "You answer questions about {group} and its work.",
}


class LLMUnavailable(sdk.PlatformError):
    """The clone's language model could not answer (the question is kept)."""

    status: ClassVar[int] = 502
    code: ClassVar[str] = "llm_unavailable"
    title: ClassVar[str] = "The clone's language model is unavailable"


#: The creator's profile, read from ``profile`` in the group's settings, as the prompt says it.
PROFILE_FIELDS = (
    ("niche", "{group} works in {value}."),
    ("expertise", "Their expertise: {value}."),
    ("audience", "They serve {value}; speak to them in a way that fits."),
)


def profile_of(settings: Any) -> dict[str, str]:
    """The creator's profile (``niche``, ``expertise``, ``audience``) from a group's
    ``settings["profile"]``: short strings only, anything else ignored."""
    profile = settings.get("profile") if isinstance(settings, dict) else None
    if not isinstance(profile, dict):
        return {}
    found = {}
    for key, _ in PROFILE_FIELDS:
        value = profile.get(key)
        if isinstance(value, str) and value.strip():
            found[key] = " ".join(value.split())[:300].rstrip(".")
    return found


def default_system_prompt(
    group_name: str, clone_name: str, purpose: str, profile: dict[str, str] | None = None
) -> str:
    """The prompt a clone starts with: who it is, what it is for, who the creator is and
    serves (their profile), and how to answer."""
    role = PURPOSES.get(purpose, PURPOSES["general"]).format(group=group_name)
    about = "".join(
        " " + template.format(group=group_name, value=profile[key])
        for key, template in PROFILE_FIELDS
        if profile and key in profile
    )
    return (
        f"You are {clone_name}, the AI assistant of {group_name}. {role}{about}\n"
        f"Answer only from the numbered passages of {group_name}'s own material given with "
        "each question, and cite the passages you use like [1]. If they do not contain the "
        f"answer, say that you don't know and suggest contacting {group_name} directly. "
        "Never invent prices, dates, policies or promises. Be concise, warm and accurate, "
        "and answer in the language of the question."
    )


_ORIGIN = re.compile(
    r"^(https?)://([a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*)(:\d{1,5})?/?$"
)


def allowed_origins(values: list[str]) -> list[str]:
    """``values`` as origins (``https://example.com``, ``http://localhost:8080``): one
    spelling each (lower-case, no trailing slash), or a 422 naming the one that is not."""
    found: dict[str, None] = {}
    for number, value in enumerate(values):
        origin = value.strip().lower().rstrip("/")
        match = _ORIGIN.match(origin)
        port = int(match.group(6)[1:]) if match and match.group(6) else None
        if not match or (port is not None and not 1 <= port <= 65535):
            raise sdk.ValidationFailed(
                f"{value[:100]!r} is not an origin: write the site's scheme and host (and "
                "port), like https://example.com, without a path",
                field=f"allowed_origins[{number}]",
            )
        if (match.group(1), port) in (("http", 80), ("https", 443)):
            origin = origin.rsplit(":", 1)[0]  # browsers send the default port as nothing
        found[origin] = None
    return list(found)


#: The statuses of a clone that may answer its audience (see :func:`answers`).
ANSWERING_STATUSES = ("active", "training")


def answers(clone: sdk.Thing) -> bool:
    """Whether a clone answers its audience: active, or retraining after an earlier
    training (it answers from what it knew until the new training ends)."""
    return clone.status == "active" or (
        clone.status == "training" and bool(clone.properties.get("trained_at"))
    )


def approx_tokens(text: str) -> int:
    """Tokens of ``text`` for a chat model, roughly: 1.3 per word."""
    return math.ceil(len(text.split()) * 1.3)


def bounded_history(messages: list[sdk.Thing], budget: int) -> list[ChatMessage]:
    """The newest messages (``messages`` newest first) that fit in ``budget`` tokens, in
    conversation order."""
    kept: list[ChatMessage] = []
    used = 0
    for message in messages:
        props = message.properties
        content = props.get("content", "")
        cost = approx_tokens(content)
        if used + cost > budget:
            break
        used += cost
        kept.append(ChatMessage(role=props.get("role", "user"), content=content))
    kept.reverse()
    return kept


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


def _iso(value: datetime | None) -> str:
    return value.isoformat() if value else ""


def _uuid(value: str, field: str) -> UUID:
    try:
        return UUID(value)
    except (ValueError, TypeError, AttributeError):
        raise sdk.ValidationFailed(f"{field} is not a valid id", field=field) from None


@dataclass
class Turn:
    """A question on its way to an answer: stored, with the passages found for it and the
    request for the provider (``None`` when nothing relevant was found)."""

    clone: sdk.Thing
    thread: sdk.Thing
    question: sdk.Thing
    passages: list[Passage]
    provider: LLMProvider | None
    request: AnswerRequest | None
    started: float
    tools: dict[str, CloneTool] = dataclasses.field(default_factory=dict)
    #: Who is asking, as tools see them.
    scope: sdk.Scope | None = None
    visitor: str = ""

    @property
    def text(self) -> str:
        content: str = self.question.properties["content"]
        return content


class Clones:
    """The clone plugin's behaviour. One instance per running platform."""

    def __init__(
        self,
        platform: sdk.Platform,
        settings: CloneSettings,
        providers: dict[str, LLMProvider],
        tools: dict[str, CloneTool] | None = None,
    ) -> None:
        self.platform = platform
        self.settings = settings
        self.providers = providers
        #: Tools of the enabled plugins (``register_clone_tools``) whose thing types exist.
        self.tools = tools or {}

    # -- views ----------------------------------------------------------------------------

    def clone_view(self, thing: sdk.Thing, creator: sdk.Connection | None = None) -> CloneView:
        """The clone as the API shows it; ``creator``: its ``clone_of`` connection."""
        props = msgspec.convert(thing.properties, CloneProps)
        meta = msgspec.convert(creator.metadata, CloneOfMeta) if creator else CloneOfMeta()
        return CloneView(
            id=str(thing.id), name=thing.name, status=thing.status, purpose=props.purpose,
            system_prompt=props.system_prompt, temperature=props.temperature,
            provider=props.provider or self.settings.llm_provider, model=props.model,
            welcome_message=props.welcome_message, trained_at=props.trained_at,
            training_error=props.training_error, training_job=props.training_job,
            version=thing.version, created_at=_iso(thing.created_at),
            updated_at=_iso(thing.updated_at), allowed_origins=props.allowed_origins,
            widget_theme=props.widget_theme,
            creator_id=str(creator.to_id) if creator else None,
            training_version=meta.version, training_size=meta.training_size,
        )  # fmt: skip

    async def view(self, stores: sdk.ScopedOntology, thing: sdk.Thing) -> CloneView:
        """:meth:`clone_view` with the clone's creator read from its ``clone_of``."""
        return self.clone_view(thing, await creator_link(stores, thing.id))

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
            id=str(thing.id), clone_id=str(link.from_id), kind=kind, title=title,
            filename=filename, chars=len(text), preview=quote(text, 200),
            chunk_count=meta.chunk_count, state=state,  # type: ignore[arg-type]
            created_at=_iso(link.created_at),
        )  # fmt: skip

    def thread_view(self, thing: sdk.Thing) -> ThreadView:
        p = thing.properties
        return ThreadView(
            id=str(thing.id), clone_id=p["clone_id"], title=p.get("title", ""),
            visitor=p.get("visitor", ""), created_at=_iso(thing.created_at),
        )  # fmt: skip

    def message_view(self, thing: sdk.Thing) -> MessageView:
        p = thing.properties
        return MessageView(
            id=str(thing.id), thread_id=p["thread_id"], clone_id=p["clone_id"], role=p["role"],
            content=p["content"],
            citations=msgspec.convert(p.get("citations", []), list[Citation]),
            unanswered=bool(p.get("unanswered", False)), feedback=p.get("feedback"),
            latency_ms=p.get("latency_ms"), provider=p.get("provider", ""),
            model=p.get("model", ""), created_at=_iso(thing.created_at),
            tool_calls=msgspec.convert(p.get("tool_calls", []), list[ToolCall]),
        )  # fmt: skip

    def provider_views(self) -> list[ProviderView]:
        default = self.settings.llm_provider
        return [ProviderView(name, name == default) for name in self.providers]

    def _check_provider(self, name: str) -> None:
        if name and name not in self.providers:
            raise sdk.ValidationFailed(
                f"unknown LLM provider {name!r}; available: {', '.join(sorted(self.providers))}",
                field="provider",
            )

    def _transaction(self, group: sdk.GroupContext) -> Any:
        return self.platform.ontology.transaction(group.scope)

    # -- clones ---------------------------------------------------------------------------

    async def list_clones(
        self, group: sdk.GroupContext, cursor: str | None, limit: int
    ) -> sdk.Page[CloneView]:
        group.require("clone.read")
        page = await group.stores.things.list(type="ai_clone", cursor=cursor, limit=limit)
        # the page's creators in one query (one live clone_of per clone)
        links = await group.stores.connections.list(
            type="clone_of", from_ids=[t.id for t in page.items], limit=max(1, len(page.items))
        )
        creators = {link.from_id: link for link in links.items}
        return sdk.Page(
            items=[self.clone_view(t, creators.get(t.id)) for t in page.items],
            next_cursor=page.next_cursor,
        )

    async def get_clone_thing(self, stores: sdk.ScopedOntology, clone_id: UUID) -> sdk.Thing:
        try:
            return await stores.things.get(clone_id, type="ai_clone")
        except sdk.NotFound:
            raise sdk.NotFound(f"clone {clone_id} not found") from None

    async def get_clone(self, group: sdk.GroupContext, clone_id: UUID) -> CloneView:
        group.require("clone.read")
        return await self.view(group.stores, await self.get_clone_thing(group.stores, clone_id))

    async def _creator(self, group: sdk.GroupContext) -> tuple[str, dict[str, str]]:
        """The creator's name and profile (the group's ``settings["profile"]``)."""
        found = await self.platform.directory.get_group(group.group_id)
        return found.name, profile_of(found.settings)

    async def create_clone(self, group: sdk.GroupContext, data: CloneIn) -> CloneView:
        group.require("clone.manage")
        self._check_provider(data.provider)
        creator, profile = await self._creator(group)
        prompt = data.system_prompt.strip() or default_system_prompt(
            creator, data.name, data.purpose, profile
        )
        props = CloneProps(
            purpose=data.purpose, system_prompt=prompt, temperature=data.temperature,
            provider=data.provider, model=data.model, welcome_message=data.welcome_message,
        )  # fmt: skip
        clean = sdk.validate_object(CloneProps, msgspec.to_builtins(props), "properties")
        named = _uuid(data.creator_id, "creator_id") if data.creator_id is not None else None
        async with self._transaction(group) as o:
            await self.platform.quotas.check(group.scope, "clones", within=o)
            thing = await o.things.create("ai_clone", name=data.name, properties=clean)
            creator_id = named or group.scope.person_id
            link = await self._connect_creator(o, thing.id, creator_id, named is not None)
            await o.events.emit("clone_created", {"clone_id": str(thing.id)}, target_id=thing.id)
        return self.clone_view(thing, link)

    @staticmethod
    async def _connect_creator(
        o: sdk.ScopedOntology, clone_id: UUID, person_id: UUID | None, named: bool
    ) -> sdk.Connection | None:
        """Connect a new clone to the member it is a clone of (``clone_of``, version 0).
        A creator named in the request must be a member of the group (else a 422 naming
        ``creator_id``, the same for anyone of another group as for no one); the one
        creating it is its creator if they are a member (a platform owner acting in a
        group they do not belong to makes a clone without one)."""
        if person_id is None:
            return None
        meta = msgspec.to_builtins(CloneOfMeta())
        try:
            return await o.connections.create("clone_of", clone_id, person_id, meta)
        except sdk.NotFound:
            if not named:
                return None
            raise sdk.ValidationFailed(
                f"creator_id {person_id} is not a member of this group", field="creator_id"
            ) from None

    async def update_clone(
        self,
        group: sdk.GroupContext,
        clone_id: UUID,
        patch: ClonePatch,
        expected_version: int | None = None,
    ) -> CloneView:
        group.require("clone.manage")
        clone = await self.get_clone_thing(group.stores, clone_id)
        props = msgspec.convert(clone.properties, CloneProps)
        before = msgspec.to_builtins(props)
        old_purpose = props.purpose
        name = clone.name if patch.name is msgspec.UNSET else patch.name
        if patch.provider is not msgspec.UNSET:
            self._check_provider(patch.provider)
        for field in ("purpose", "temperature", "provider", "model", "welcome_message"):
            value = getattr(patch, field)
            if value is not msgspec.UNSET:
                setattr(props, field, value)
        if patch.allowed_origins is not msgspec.UNSET:
            props.allowed_origins = allowed_origins(patch.allowed_origins)
        if patch.widget_theme is not msgspec.UNSET:
            props.widget_theme = msgspec.to_builtins(patch.widget_theme)
        if patch.system_prompt is not msgspec.UNSET and patch.system_prompt.strip():
            props.system_prompt = patch.system_prompt.strip()
        else:
            # The generated prompt follows the name and purpose; an edited one stays as is.
            group_name, profile = await self._creator(group)
            old_defaults = {
                default_system_prompt(group_name, clone.name, old_purpose, profile),
                default_system_prompt(group_name, clone.name, old_purpose),
            }
            if patch.system_prompt is not msgspec.UNSET or props.system_prompt in old_defaults:
                props.system_prompt = default_system_prompt(
                    group_name, name, props.purpose, profile
                )
        clean = sdk.validate_object(CloneProps, msgspec.to_builtins(props), "properties")
        changed = sorted(k for k in set(clean) | set(before) if clean.get(k) != before.get(k))
        if name != clone.name:
            changed.insert(0, "name")
        if not changed:
            return await self.view(group.stores, clone)
        async with self._transaction(group) as o:
            clone = await o.things.update(
                clone_id, name=name, properties=clean, replace_properties=True,
                expected_version=expected_version,
            )  # fmt: skip
            await o.events.emit(
                "clone_updated", {"clone_id": str(clone_id), "changed": changed},
                target_id=clone_id,
            )  # fmt: skip
        return await self.view(group.stores, clone)

    async def delete_clone(
        self, group: sdk.GroupContext, clone_id: UUID, expected_version: int | None = None
    ) -> None:
        """Delete a clone with its own sources (and their knowledge) and its
        conversations. Website pages it learned from stay as they are."""
        group.require("clone.manage")
        await self.get_clone_thing(group.stores, clone_id)
        async with self._transaction(group) as o:
            for link in await source_links(o, clone_id):
                await self._drop_source(o, link)
            for thread_id in await self._ids(o, "ai_thread", {"clone_id": str(clone_id)}):
                for message_id in await self._ids(o, "ai_message", {"thread_id": str(thread_id)}):
                    await o.things.delete(message_id)
                await o.things.delete(thread_id)
            await o.things.delete(clone_id, expected_version=expected_version)
            await o.events.emit(
                "clone_updated", {"clone_id": str(clone_id), "changed": ["deleted"]},
                target_id=clone_id,
            )  # fmt: skip

    @staticmethod
    async def _ids(o: sdk.ScopedOntology, type: str, where: dict[str, Any]) -> list[UUID]:
        return [t.id for t in await sdk.every_item(o.things.list, type=type, where=where)]

    # -- sources --------------------------------------------------------------------------

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
            return await self.add_page_source(group, clone_id, _uuid(data.thing_id, "thing_id"))
        if data.thing_id is not None:
            raise sdk.ValidationFailed(
                f"a {data.kind} source takes text, not a thing_id", field="thing_id"
            )
        title = " ".join(data.title.split())
        if not title:
            raise sdk.ValidationFailed("give the source a title", field="title")
        if not data.text.strip():
            raise sdk.ValidationFailed("the text is empty", field="text")
        text = extract.extract(data.kind, data.text)
        if not text:
            raise sdk.ValidationFailed(f"the {data.kind} has no text to learn from", field="text")
        return await self._create_source(group, clone_id, title, data.kind, text, "")

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
        if kind == "pdf":
            text = await asyncio.to_thread(extract.from_file, kind, data)
        else:
            text = extract.from_file(kind, data)
        if not text:
            raise sdk.ValidationFailed("the file has no text to learn from", field="file")
        title = " ".join(title.split())[:200]
        if not title:
            stem = name.rsplit(".", 1)[0] if "." in name else name
            title = stem[:200] or "Upload"
        return await self._create_source(group, clone_id, title, kind, text, name)

    async def _create_source(
        self, group: sdk.GroupContext, clone_id: UUID, title: str, kind: str, text: str,
        filename: str,
    ) -> SourceView:  # fmt: skip
        props = SourceProps(
            kind=kind,  # type: ignore[arg-type]
            filename=filename, text=text, content_hash=training_hash(title, text),
        )  # fmt: skip
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
        if patch.title is not msgspec.UNSET:
            title = " ".join(patch.title.split())
            if not title:
                raise sdk.ValidationFailed("give the source a title", field="title")
        if patch.text is not msgspec.UNSET:
            kind = props.kind if props.kind in ("text", "markdown", "html") else "text"
            text = extract.extract(kind, patch.text)
            if not text:
                raise sdk.ValidationFailed("the text is empty", field="text")
            props.text = text
        props.content_hash = training_hash(title, props.text)
        async with self._transaction(group) as o:
            source = await o.things.update(
                source_id, name=title, properties=msgspec.to_builtins(props),
                replace_properties=True,
            )  # fmt: skip
        return await self.source_view(group.stores, link, source)

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
            await self._drop_source(o, await self._link(o, clone_id, source_id))

    @staticmethod
    async def _drop_source(o: sdk.ScopedOntology, link: sdk.Connection) -> None:
        await o.connections.delete(link.id)
        try:
            thing = await o.things.get(link.to_id)
        except sdk.NotFound:
            return
        if thing.type == "clone_source":
            await o.knowledge.delete_for_thing(thing.id)
            await o.things.delete(thing.id)

    # -- training -------------------------------------------------------------------------

    async def train(self, group: sdk.GroupContext, clone_id: UUID) -> TrainStarted:
        """Queue ``clone.train`` (status ``training``). While a training of the clone is
        queued or running, asking again answers that job."""
        group.require("clone.manage")
        clone = await self.get_clone_thing(group.stores, clone_id)
        running = await self._running_job(group, clone)
        if running is not None:
            return TrainStarted(job_id=running, clone=await self.view(group.stores, clone))
        if not await source_links(group.stores, clone_id):
            raise sdk.ValidationFailed(
                "the clone has no sources yet: add text, a file or a page first", field="sources"
            )
        job_id = uuid.uuid4().hex
        try:
            clone = await group.stores.things.update(
                clone_id, status="training",
                properties={"training_job": job_id, "training_error": None},
                expected_version=clone.version,
            )  # fmt: skip
        except sdk.PreconditionFailed:
            # Changed meanwhile, maybe by another request starting a training.
            clone = await self.get_clone_thing(group.stores, clone_id)
            running = await self._running_job(group, clone)
            if running is not None:
                return TrainStarted(job_id=running, clone=await self.view(group.stores, clone))
            raise
        try:
            await self.platform.jobs.enqueue(
                TRAIN_JOB, str(clone_id), group_id=group.group_id, job_id=job_id
            )
        except Exception as exc:
            await group.stores.things.update(
                clone_id, status="failed",
                properties={"training_error": f"training could not be queued: {exc}"[:1000]},
            )  # fmt: skip
            raise
        return TrainStarted(job_id=job_id, clone=await self.view(group.stores, clone))

    async def _running_job(self, group: sdk.GroupContext, clone: sdk.Thing) -> str | None:
        job_id = clone.properties.get("training_job")
        if clone.status != "training" or not job_id:
            return None
        info = await self.platform.jobs.status(job_id, group_id=group.group_id)
        if info is not None and info.status in ("queued", "in_progress"):
            return str(job_id)
        return None

    # -- threads and messages -------------------------------------------------------------

    def _sees_all(self, group: sdk.GroupContext, clone: sdk.Thing) -> bool:
        """Members who may read clones see every conversation; a customer sees theirs."""
        resource = group.resource("ai_clone", clone.id, clone.status)
        return group.permissions.can(group.scope, "clone.read", resource)

    async def _chat_clone(self, group: sdk.GroupContext, clone_id: UUID) -> sdk.Thing:
        group.require("clone.chat")
        clone = await self.get_clone_thing(group.stores, clone_id)
        if not answers(clone) and not self._sees_all(group, clone):
            raise sdk.NotFound(f"clone {clone_id} not found")
        status = "active" if answers(clone) else clone.status
        group.require("clone.chat", group.resource("ai_clone", clone.id, status))
        return clone

    def _visitor(self, group: sdk.GroupContext) -> str:
        """Who is talking: an anonymous widget visitor's id, else the person's."""
        visitor = getattr(group, "visitor", None)
        return str(visitor or group.scope.person_id or "")

    async def start_thread(
        self, group: sdk.GroupContext, clone_id: UUID, data: ThreadIn
    ) -> ThreadView:
        clone = await self._chat_clone(group, clone_id)
        title = " ".join(data.title.split())
        async with self._transaction(group) as o:
            thing = await o.things.create(
                "ai_thread", name=title or f"Conversation with {clone.name}"[:200],
                properties={"clone_id": str(clone_id), "visitor": self._visitor(group),
                            "title": title},
            )  # fmt: skip
        return self.thread_view(thing)

    async def list_threads(
        self, group: sdk.GroupContext, clone_id: UUID, cursor: str | None, limit: int
    ) -> sdk.Page[ThreadView]:
        clone = await self._chat_clone(group, clone_id)
        where = {"clone_id": str(clone_id)}
        if not self._sees_all(group, clone):
            where["visitor"] = self._visitor(group)
        page = await group.stores.things.list(
            type="ai_thread", where=where, cursor=cursor, limit=limit
        )
        return sdk.Page(
            items=[self.thread_view(t) for t in page.items], next_cursor=page.next_cursor
        )

    async def _thread(
        self, group: sdk.GroupContext, clone: sdk.Thing, thread_id: UUID
    ) -> sdk.Thing:
        try:
            thread = await group.stores.things.get(thread_id, type="ai_thread")
        except sdk.NotFound:
            thread = None
        if (
            thread is None
            or thread.properties.get("clone_id") != str(clone.id)
            or (
                not self._sees_all(group, clone)
                and thread.properties.get("visitor") != self._visitor(group)
            )
        ):
            raise sdk.NotFound(f"thread {thread_id} not found in clone {clone.id}")
        return thread

    async def get_thread(
        self, group: sdk.GroupContext, clone_id: UUID, thread_id: UUID
    ) -> ThreadView:
        clone = await self._chat_clone(group, clone_id)
        return self.thread_view(await self._thread(group, clone, thread_id))

    async def list_messages(
        self, group: sdk.GroupContext, clone_id: UUID, thread_id: UUID, cursor: str | None,
        limit: int,
    ) -> sdk.Page[MessageView]:  # fmt: skip
        """The thread's messages, newest first."""
        clone = await self._chat_clone(group, clone_id)
        await self._thread(group, clone, thread_id)
        page = await group.stores.things.list(
            type="ai_message", where={"thread_id": str(thread_id)}, cursor=cursor, limit=limit
        )
        return sdk.Page(
            items=[self.message_view(t) for t in page.items], next_cursor=page.next_cursor
        )

    def provider_for(self, clone: sdk.Thing) -> LLMProvider:
        name = clone.properties.get("provider") or self.settings.llm_provider
        provider = self.providers.get(name)
        if provider is None:
            raise LLMUnavailable(
                f"the clone's LLM provider {name!r} is not available here; choose one of "
                f"{', '.join(sorted(self.providers))} in the clone's settings",
                provider=name,
            )
        return provider

    async def ask(
        self, group: sdk.GroupContext, clone_id: UUID, thread_id: UUID, data: MessageIn
    ) -> Turn:
        """Store the question, find the passages that answer it, and prepare the request
        for the clone's provider (none when nothing relevant was found). The answer comes
        from :meth:`answer`."""
        started = time.perf_counter()
        clone = await self._chat_clone(group, clone_id)
        thread = await self._thread(group, clone, thread_id)
        content = data.content.strip()
        if not content:
            raise sdk.ValidationFailed("the message is empty", field="content")
        earlier = await group.stores.things.list(
            type="ai_message", where={"thread_id": str(thread_id)}, limit=HISTORY_MESSAGES
        )
        async with self._transaction(group) as o:
            question = await o.things.create(
                "ai_message", name=quote(content, 80),
                properties={"thread_id": str(thread_id), "clone_id": str(clone_id),
                            "role": "user", "content": content,
                            "question_key": question_key(content)},
            )  # fmt: skip
            if not thread.properties.get("title"):
                thread = await o.things.update(
                    thread_id, name=quote(content, 80), properties={"title": quote(content, 80)}
                )
        props = msgspec.convert(clone.properties, CloneProps)
        source_ids = [link.to_id for link in await source_links(group.stores, clone_id)]
        passages: list[Passage] = []
        if source_ids:  # no sources must never mean "search everything"
            found = await retrieval.retrieve(
                self.platform, group.scope, content, source_ids,
                limit=self.settings.retrieval_limit,
            )  # fmt: skip
            passages = retrieval.relevant(content, found)
        if passages:
            provider: LLMProvider | None = self.provider_for(clone)
        else:  # only tools might answer: without a usable provider, "I don't know"
            provider = self.providers.get(props.provider or self.settings.llm_provider)
        tools = self.tools if getattr(provider, "supports_tools", False) else {}
        visitor = self._visitor(group)
        if not passages and not tools:
            return Turn(clone, thread, question, [], None, None, started, {}, group.scope, visitor)
        assert provider is not None
        closeness: sentences.Closeness = {}
        if passages and getattr(provider, "reads_closeness", False):
            closeness = await sentences.closeness(
                self.platform, group.scope, content, [p.knowledge_id for p in passages]
            )
        request = AnswerRequest(
            system_prompt=props.system_prompt,
            history=bounded_history(earlier.items, self.settings.history_tokens),
            question=content,
            passages=passages,
            model=props.model,
            temperature=props.temperature,
            tools=[tool.spec() for tool in tools.values()],
            closeness=closeness,
        )
        return Turn(
            clone, thread, question, passages, provider, request, started, tools, group.scope,
            visitor,
        )  # fmt: skip

    async def answer(self, group: sdk.GroupContext, turn: Turn) -> AsyncIterator[str | MessageView]:
        """The answer to ``turn``: its text in pieces as the provider writes them, then
        the stored assistant message (with its citations). Raises :class:`LLMUnavailable`
        if the provider fails (the question stays stored)."""
        if turn.provider is None or turn.request is None:
            yield I_DONT_KNOW
            yield await self._store_answer(group, turn, I_DONT_KNOW, [], "", unanswered=True)
            return
        provider = turn.provider
        request = turn.request
        pieces: list[str] = []
        calls: list[ToolCall] = []
        finished = Finished()
        for round_ in range(MAX_TOOL_ROUNDS + 1):
            asked: list[ToolRequest] = []
            said: list[str] = []
            async for item in self._provider_stream(provider, request):
                if isinstance(item, TextDelta):
                    if item.text:
                        said.append(item.text)
                        pieces.append(item.text)
                        yield item.text
                elif isinstance(item, ToolRequest):
                    asked.append(item)
                else:
                    finished = item
            if not asked:
                break
            if not turn.tools or round_ == MAX_TOOL_ROUNDS:
                why = (
                    "kept asking for tools instead of answering"
                    if turn.tools
                    else ("asked for a tool, but none was offered")
                )
                raise LLMUnavailable(
                    f"the clone's language model ({provider.name}) {why}; your message was "
                    "kept, try again",
                    provider=provider.name,
                )
            results = [await self._run_tool(group, turn, call) for call in asked]
            calls.extend(results)
            request = dataclasses.replace(
                request,
                history=[
                    *request.history,
                    ChatMessage(
                        "assistant", "".join(said),
                        tool_calls=[{"id": c.id, "name": c.name, "arguments": c.arguments}
                                    for c in asked],
                    ),
                    *(ChatMessage("tool", result_for_model(r), tool_call_id=c.id)
                      for c, r in zip(asked, results, strict=True)),
                ],
            )  # fmt: skip
        text = "".join(pieces).strip()
        if not text:
            raise LLMUnavailable(
                f"the clone's language model ({provider.name}) returned an empty answer; "
                "your message was kept, try again",
                provider=provider.name,
            )
        by_index = {p.index: p for p in turn.passages}
        citations = [
            Citation(p.source_id, p.knowledge_id, p.title, quote(p.text), float(p.score))
            for p in (by_index[i] for i in dict.fromkeys(finished.cited) if i in by_index)
        ]
        model = finished.model or turn.request.model
        # The passages were relevant enough to ask, but the offline provider found no
        # sentence that answers: a content gap too. With no passages (the model was asked
        # for its tools), only a tool that answered makes it answered.
        answered_by_tool = any(answered(c) for c in calls)
        unanswered = (
            not citations
            and not answered_by_tool
            and (text == OFFLINE_DONT_KNOW or not turn.passages)
        )
        yield await self._store_answer(
            group, turn, text, citations, model, unanswered=unanswered, provider=provider.name,
            tool_calls=calls,
        )  # fmt: skip

    async def _provider_stream(
        self, provider: LLMProvider, request: AnswerRequest
    ) -> AsyncIterator[TextDelta | ToolRequest | Finished]:
        """``provider``'s answer to ``request``; a failure becomes :class:`LLMUnavailable`
        (the message says what went wrong, without secrets)."""
        try:
            async for item in provider.stream(request):
                yield item
                if isinstance(item, Finished):
                    return
        except Exception as exc:
            log.warning("LLM provider %s failed: %r", provider.name, exc)
            # A ProviderError says what went wrong without secrets; anything else is a bug
            # of the provider, named by its type.
            reason = str(exc) if isinstance(exc, ProviderError) else f"{type(exc).__name__}: {exc}"
            reason = reason[:500]
            raise LLMUnavailable(
                f"the clone's language model ({provider.name}) could not answer: {reason}. "
                "Your message was kept; try again in a moment.",
                provider=provider.name,
            ) from exc

    async def _run_tool(self, group: sdk.GroupContext, turn: Turn, call: ToolRequest) -> ToolCall:
        """Run a tool the model asked for with the asker's scope (never the creator's)."""
        scope = turn.scope or group.scope
        ctx = ToolContext(
            platform=self.platform, scope=scope, stores=self.platform.ontology.scoped(scope),
            clone=turn.clone, thread=turn.thread, visitor=turn.visitor,
        )  # fmt: skip
        return await run_tool(turn.tools.get(call.name), call.name, call.arguments, ctx)

    async def _store_answer(
        self, group: sdk.GroupContext, turn: Turn, text: str, citations: list[Citation],
        model: str, *, unanswered: bool = False, provider: str = "",
        tool_calls: list[ToolCall] | None = None,
    ) -> MessageView:  # fmt: skip
        latency = round((time.perf_counter() - turn.started) * 1000, 1)
        props: dict[str, Any] = {
            "thread_id": str(turn.thread.id), "clone_id": str(turn.clone.id),
            "role": "assistant", "content": text,
            "citations": msgspec.to_builtins(citations), "latency_ms": latency,
            "unanswered": unanswered, "provider": provider, "model": model,
            "tool_calls": msgspec.to_builtins([kept(c) for c in tool_calls or ()]),
        }  # fmt: skip
        event: dict[str, Any] = {
            "clone_id": str(turn.clone.id), "thread_id": str(turn.thread.id),
            "latency_ms": latency, "citations": len(citations), "unanswered": unanswered,
        }  # fmt: skip
        if unanswered:  # a content gap: what visitors ask that the clone cannot answer
            event["question"] = turn.text[:2000]
            event["question_key"] = question_key(turn.text)
        async with self._transaction(group) as o:
            message = await o.things.create("ai_message", name=quote(text, 80), properties=props)
            event["message_id"] = str(message.id)
            await o.events.emit("message_answered", event, target_id=message.id)
            for call in tool_calls or ():
                await o.events.emit(
                    "ai_tool_called",
                    {"clone_id": str(turn.clone.id), "thread_id": str(turn.thread.id),
                     "message_id": str(message.id), "tool": call.name, "ok": call.error is None,
                     **({"error": call.error[:1000]} if call.error else {})},
                    target_id=message.id,
                )  # fmt: skip
        return self.message_view(message)

    async def exchange(self, group: sdk.GroupContext, turn: Turn) -> Exchange:
        """The whole answer at once."""
        answer: MessageView | None = None
        async for item in self.answer(group, turn):
            if isinstance(item, MessageView):
                answer = item
        assert answer is not None
        return Exchange(question=self.message_view(turn.question), answer=answer)

    async def give_feedback(
        self, group: sdk.GroupContext, clone_id: UUID, thread_id: UUID, message_id: UUID,
        feedback: str,
    ) -> MessageView:  # fmt: skip
        clone = await self._chat_clone(group, clone_id)
        await self._thread(group, clone, thread_id)
        try:
            message = await group.stores.things.get(message_id, type="ai_message")
        except sdk.NotFound:
            message = None
        if message is None or message.properties.get("thread_id") != str(thread_id):
            raise sdk.NotFound(f"message {message_id} not found in thread {thread_id}")
        if message.properties.get("role") != "assistant":
            raise sdk.ValidationFailed(
                "feedback is about the clone's answers, not questions", field="message_id"
            )
        async with self._transaction(group) as o:
            message = await o.things.update(message_id, properties={"feedback": feedback})
            await o.events.emit(
                "feedback_given",
                {"clone_id": str(clone_id), "message_id": str(message_id), "feedback": feedback},
                target_id=message_id,
            )
        return self.message_view(message)

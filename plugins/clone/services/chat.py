"""Conversations with a clone: threads, questions and their answers, feedback.

A conversation is an ``ai_thread`` thing with ``ai_message`` things. An answer is grounded
in passages retrieved from the clone's sources only; when none is relevant the clone says
it does not know without asking a model, and the question is recorded as a content gap
(``message_answered`` with ``unanswered``).

Tools (:mod:`plugins.clone.tools`) are offered to providers that can call them
(``supports_tools``); each call runs with the asker's scope, its outcome is kept on the
answer and logged as ``ai_tool_called``. With tools on offer, a question whose answer is
not in the sources still goes to the model (a tool may answer it), told to say it does
not know otherwise; it counts as a content gap unless a tool answered.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import AsyncIterator
from typing import Any
from uuid import UUID

import msgspec

import sdk
from plugins.clone import citing, retrieval, sentences
from plugins.clone.allowed import ModelPolicy
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
from plugins.clone.services.base import CloneService, answers, iso, log, quote
from plugins.clone.services.turns import (
    HISTORY_MESSAGES,
    I_DONT_KNOW,
    MAX_TOOL_ROUNDS,
    LLMUnavailable,
    Turn,
    bounded_history,
    for_outsiders,
)
from plugins.clone.settings import CloneSettings
from plugins.clone.tools import (
    CloneTool,
    ToolContext,
    answered,
    kept,
    result_for_model,
    run_tool,
)
from plugins.clone.training import source_links
from plugins.clone.types import (
    Citation,
    CloneProps,
    Exchange,
    MessageIn,
    MessageView,
    ThreadIn,
    ThreadView,
    ToolCall,
)


class Chat(CloneService):
    """Conversations with a group's clones, and the answers to the questions asked in them."""

    def __init__(
        self,
        platform: sdk.Platform,
        settings: CloneSettings,
        providers: dict[str, LLMProvider],
        tools: dict[str, CloneTool] | None = None,
    ) -> None:
        super().__init__(platform)
        self.settings = settings
        self.providers = providers
        self.policy = ModelPolicy(settings, providers)
        #: Tools of the enabled plugins (``register_clone_tools``) whose thing types exist.
        self.tools = tools or {}

    def thread_view(self, thing: sdk.Thing) -> ThreadView:
        p = thing.properties
        return ThreadView(
            id=str(thing.id),
            clone_id=p["clone_id"],
            title=p.get("title", ""),
            visitor=p.get("visitor", ""),
            created_at=iso(thing.created_at),
        )

    def message_view(self, thing: sdk.Thing) -> MessageView:
        p = thing.properties
        return MessageView(
            id=str(thing.id),
            thread_id=p["thread_id"],
            clone_id=p["clone_id"],
            role=p["role"],
            content=p["content"],
            citations=msgspec.convert(p.get("citations", []), list[Citation]),
            unanswered=bool(p.get("unanswered", False)),
            feedback=p.get("feedback"),
            latency_ms=p.get("latency_ms"),
            provider=p.get("provider", ""),
            model=p.get("model", ""),
            created_at=iso(thing.created_at),
            tool_calls=msgspec.convert(p.get("tool_calls", []), list[ToolCall]),
        )

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
                "ai_thread",
                name=title or f"Conversation with {clone.name}"[:200],
                properties={
                    "clone_id": str(clone_id),
                    "visitor": self._visitor(group),
                    "title": title,
                },
            )
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
        self,
        group: sdk.GroupContext,
        clone_id: UUID,
        thread_id: UUID,
        cursor: str | None,
        limit: int,
    ) -> sdk.Page[MessageView]:
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
        name, _ = self.model_for(clone)
        provider = self.providers.get(name)
        if provider is None:
            raise LLMUnavailable(
                f"the clone's LLM provider {name!r} is not available here; choose one of "
                f"{', '.join(sorted(self.providers))} in the clone's settings",
                provider=name,
            )
        return provider

    def model_for(self, clone: sdk.Thing) -> tuple[str, str]:
        """The provider and model the clone answers with: its own while the operator's
        allow-list allows them, else the allowed defaults (:mod:`plugins.clone.allowed`)."""
        props = clone.properties
        return self.policy.resolve(props.get("provider") or "", props.get("model") or "")

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
                "ai_message",
                name=quote(content, 80),
                properties={
                    "thread_id": str(thread_id),
                    "clone_id": str(clone_id),
                    "role": "user",
                    "content": content,
                    "question_key": question_key(content),
                },
            )
            if not thread.properties.get("title"):
                thread = await o.things.update(
                    thread_id, name=quote(content, 80), properties={"title": quote(content, 80)}
                )
        props = msgspec.convert(clone.properties, CloneProps)
        source_ids = [link.to_id for link in await source_links(group.stores, clone_id)]
        passages: list[Passage] = []
        if source_ids:  # no sources must never mean "search everything"
            found = await retrieval.retrieve(
                self.platform,
                group.scope,
                content,
                source_ids,
                limit=self.settings.retrieval_limit,
            )
            passages = retrieval.relevant(content, found)
        if passages:
            try:
                provider: LLMProvider | None = self.provider_for(clone)
            except LLMUnavailable as exc:
                if not self._sees_details(group, clone):
                    raise for_outsiders(exc) from exc
                raise
        else:  # only tools might answer: without a usable provider, "I don't know"
            provider = self.providers.get(self.model_for(clone)[0])
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
            model=self.model_for(clone)[1],
            temperature=props.temperature,
            group_id=group.group_id,
            tools=[tool.spec() for tool in tools.values()],
            closeness=closeness,
        )
        return Turn(
            clone,
            thread,
            question,
            passages,
            provider,
            request,
            started,
            tools,
            group.scope,
            visitor,
        )

    def _sees_details(self, group: sdk.GroupContext, clone: sdk.Thing) -> bool:
        """Who may see what a failing provider said: those who manage the clone (and so
        its provider); customers and visitors get :func:`for_outsiders`."""
        resource = group.resource("ai_clone", clone.id, clone.status)
        return group.permissions.can(group.scope, "clone.manage", resource)

    async def answer(self, group: sdk.GroupContext, turn: Turn) -> AsyncIterator[str | MessageView]:
        """The answer to ``turn``: its text in pieces as the provider writes them, then
        the stored assistant message (with its citations). Raises :class:`LLMUnavailable`
        if the provider fails (the question stays stored): with the provider's words for
        those who manage the clone, a generic one with a reference for anyone else."""
        detailed = self._sees_details(group, turn.clone)
        try:
            async for item in self._answer(group, turn):
                yield item
        except LLMUnavailable as exc:
            if detailed:
                raise
            raise for_outsiders(exc) from exc

    async def _answer(
        self, group: sdk.GroupContext, turn: Turn
    ) -> AsyncIterator[str | MessageView]:
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
                        "assistant",
                        "".join(said),
                        tool_calls=[
                            {"id": c.id, "name": c.name, "arguments": c.arguments} for c in asked
                        ],
                    ),
                    *(
                        ChatMessage("tool", result_for_model(r), tool_call_id=c.id)
                        for c, r in zip(asked, results, strict=True)
                    ),
                ],
            )
        text = "".join(pieces).strip()
        if not text:
            raise LLMUnavailable(
                f"the clone's language model ({provider.name}) returned an empty answer; "
                "your message was kept, try again",
                provider=provider.name,
            )
        citations = await self._citations(group, turn, text, finished)
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
            group,
            turn,
            text,
            citations,
            model,
            unanswered=unanswered,
            provider=provider.name,
            tool_calls=calls,
        )

    async def _citations(
        self, group: sdk.GroupContext, turn: Turn, answer: str, finished: Finished
    ) -> list[Citation]:
        """The passages ``answer`` cites, each as the sentences of it that answered, the
        question's words in them, and a link to the source where it is public."""
        by_index = {p.index: p for p in turn.passages}
        cited = [by_index[i] for i in dict.fromkeys(finished.cited) if i in by_index]
        sources = {
            source_id: await citing.cited_source(self.platform, group.stores, source_id)
            for source_id in dict.fromkeys(p.source_id for p in cited)
        }
        citations = []
        for passage in cited:
            used = citing.answering_quote(
                passage.text, turn.text, answer, finished.quotes.get(passage.index, ())
            )
            kind, page = sources[passage.source_id]
            citations.append(
                Citation(
                    passage.source_id,
                    passage.knowledge_id,
                    passage.title,
                    used,
                    float(passage.score),
                    marks=citing.marks(used, turn.text),
                    url=page + citing.text_fragment(used) if page else "",
                    kind=kind,
                )
            )
        return citations

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
        except sdk.PlatformError:
            raise  # says itself what went wrong (the month's budget is spent: 402)
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
            platform=self.platform,
            scope=scope,
            stores=self.platform.ontology.scoped(scope),
            clone=turn.clone,
            thread=turn.thread,
            visitor=turn.visitor,
        )
        return await run_tool(turn.tools.get(call.name), call.name, call.arguments, ctx)

    async def _store_answer(
        self,
        group: sdk.GroupContext,
        turn: Turn,
        text: str,
        citations: list[Citation],
        model: str,
        *,
        unanswered: bool = False,
        provider: str = "",
        tool_calls: list[ToolCall] | None = None,
    ) -> MessageView:
        latency = round((time.perf_counter() - turn.started) * 1000, 1)
        props: dict[str, Any] = {
            "thread_id": str(turn.thread.id),
            "clone_id": str(turn.clone.id),
            "role": "assistant",
            "content": text,
            "citations": msgspec.to_builtins(citations),
            "latency_ms": latency,
            "unanswered": unanswered,
            "provider": provider,
            "model": model,
            "tool_calls": msgspec.to_builtins([kept(c) for c in tool_calls or ()]),
        }
        event: dict[str, Any] = {
            "clone_id": str(turn.clone.id),
            "thread_id": str(turn.thread.id),
            "latency_ms": latency,
            "citations": len(citations),
            "unanswered": unanswered,
        }
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
                    {
                        "clone_id": str(turn.clone.id),
                        "thread_id": str(turn.thread.id),
                        "message_id": str(message.id),
                        "tool": call.name,
                        "ok": call.error is None,
                        **({"error": call.error[:1000]} if call.error else {}),
                    },
                    target_id=message.id,
                )
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
        self,
        group: sdk.GroupContext,
        clone_id: UUID,
        thread_id: UUID,
        message_id: UUID,
        feedback: str,
    ) -> MessageView:
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

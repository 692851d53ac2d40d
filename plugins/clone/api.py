"""The clone API: thin handlers over the services of :mod:`plugins.clone.services`, which
Litestar injects by name (``clones``, ``sources``, ``training``, ``chat``).

Everything lives under ``/api/v1/clone/groups/{group_id}``. Managing clones and their
sources needs ``clone.manage`` (owners and org users), reading them ``clone.read``;
chatting needs ``clone.chat`` (every member, customers included, on active clones; a
customer sees only their own conversations).

Asking a question answers JSON (the question and the answer) or, with ``?stream=true``
or ``Accept: text/event-stream``, server-sent events: ``question`` (the stored question),
``delta`` ``{"text": ...}`` per piece of the answer, then ``done`` (the stored answer with
its citations) — or ``error`` (a problem) if the model fails midway.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency, Provide
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, FromQuery, HeaderParameter, JSONBody
from litestar.response import ServerSentEvent, ServerSentEventMessage

import sdk
from plugins.clone.services import Chat, Clones, CloneServices, Sources, Training, Turn
from plugins.clone.types import (
    CloneIn,
    ClonePatch,
    CloneView,
    Exchange,
    FeedbackIn,
    MessageIn,
    MessageView,
    ProviderView,
    SourceIn,
    SourcePatch,
    SourceView,
    ThreadIn,
    ThreadView,
    TrainStarted,
)

IfMatch = Annotated[str | None, HeaderParameter(name="If-Match")]
#: What a multipart body may add around the file: boundaries, part headers, the title.
MULTIPART_SLACK = 64 * 1024
#: The upload route's fixed body limit (``max_upload_bytes`` is enforced per request).
UPLOAD_BODY_CEILING = 64 * 1024 * 1024 + MULTIPART_SLACK
_encode = msgspec.json.Encoder().encode


def service_dependencies(*names: str, after_group: bool = False) -> dict[str, Provide]:
    """The clone services a router's handlers take as parameters, by name (``clones``,
    ``sources``, ``training``, ``chat``): ``app.state.clone.<name>``. ``after_group``
    for group-scoped routes (see ``sdk.from_app_state``)."""
    return {name: sdk.from_app_state(f"clone.{name}", after_group=after_group) for name in names}


def _clone(view: CloneView, status: int = 200) -> Response[CloneView]:
    return Response(view, status_code=status, headers={"ETag": f'"{view.version}"'})


async def _refuse_large_bodies(request: Request[Any, Any, Any]) -> None:
    """Refuse an announced body larger than the upload limit before reading any of it."""
    length = request.headers.get("content-length", "")
    services: CloneServices = request.app.state.clone  # before_request: no injection
    limit = services.settings.max_upload_bytes
    if length.isascii() and length.isdigit() and int(length) > limit + MULTIPART_SLACK:
        raise sdk.PayloadTooLarge(
            f"the request is larger than the {limit} bytes a source file may have", limit=limit
        )


async def _read_upload(request: Request[Any, Any, Any]) -> tuple[UploadFile, str]:
    """The ``file`` and optional ``title`` of a multipart body, or a 4xx naming the
    problem."""
    file, texts = await sdk.read_upload(request, text_fields=("title",), max_text_chars=200)
    return file, texts.get("title", "")


def wants_stream(request: Request[Any, Any, Any], stream: bool) -> bool:
    return stream or "text/event-stream" in request.headers.get("accept", "")


async def _events(
    question: MessageView, first: str | MessageView, rest: AsyncIterator[str | MessageView]
) -> AsyncIterator[ServerSentEventMessage]:
    yield ServerSentEventMessage(event="question", data=_encode(question).decode())
    item = first
    while True:
        if isinstance(item, MessageView):
            yield ServerSentEventMessage(event="done", data=_encode(item).decode())
            return
        yield ServerSentEventMessage(event="delta", data=_encode({"text": item}).decode())
        try:
            item = await anext(rest)
        except StopAsyncIteration:
            return
        except sdk.PlatformError as exc:
            body = sdk.problem_body(exc.status, exc.code, exc.title, exc.detail, extra=exc.extra)
            yield ServerSentEventMessage(event="error", data=_encode(body).decode())
            return


async def _stream(service: Chat, group: sdk.GroupContext, turn: Turn) -> ServerSentEvent:
    answer = service.answer(group, turn)
    # The first piece before the response starts: a model that cannot answer at all is a
    # 502 problem, not a stream that breaks.
    first = await anext(answer)
    question = service.message_view(turn.question)
    return ServerSentEvent(
        _events(question, first, answer),
        status_code=200,
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def respond(
    request: Request[Any, Any, Any],
    service: Chat,
    group: sdk.GroupContext,
    turn: Turn,
    stream: bool,
) -> Response[Any]:
    """The answer to an asked question: server-sent events if the caller wants a stream,
    else 201 with the question and the answer."""
    if wants_stream(request, stream):
        return await _stream(service, group, turn)
    exchange: Exchange = await service.exchange(group, turn)
    return Response(exchange, status_code=201)


CLONE = "/clones/{clone_id:uuid}"
SOURCE = CLONE + "/sources/{source_id:uuid}"
THREAD = CLONE + "/threads/{thread_id:uuid}"


class CloneController(Controller):
    path = "/groups/{group_id:uuid}"

    @get("/providers", summary="LLM providers a clone can use")
    async def list_providers(
        self, clones: NamedDependency[Clones], group: NamedDependency[sdk.GroupContext]
    ) -> list[ProviderView]:
        group.require("clone.read")
        return clones.provider_views()

    # -- clones ---------------------------------------------------------------------------

    @get("/clones", summary="List clones")
    async def list_clones(
        self,
        clones: NamedDependency[Clones],
        group: NamedDependency[sdk.GroupContext],
        cursor: sdk.PageCursor = None,
        limit: sdk.PageLimit = 50,
    ) -> sdk.Page[CloneView]:
        return await clones.list_clones(group, cursor, limit)

    @post("/clones", summary="Create a clone")
    async def create_clone(
        self,
        clones: NamedDependency[Clones],
        group: NamedDependency[sdk.GroupContext],
        data: JSONBody[CloneIn],
    ) -> Response[CloneView]:
        return _clone(await clones.create_clone(group, data), 201)

    @get(CLONE, summary="Get a clone")
    async def get_clone(
        self,
        clones: NamedDependency[Clones],
        group: NamedDependency[sdk.GroupContext],
        clone_id: FromPath[UUID],
    ) -> Response[CloneView]:
        return _clone(await clones.get_clone(group, clone_id))

    @patch(CLONE, summary="Change a clone (prompt, purpose, model, ...)")
    async def update_clone(
        self,
        clones: NamedDependency[Clones],
        group: NamedDependency[sdk.GroupContext],
        clone_id: FromPath[UUID],
        data: JSONBody[ClonePatch],
        if_match: IfMatch = None,
    ) -> Response[CloneView]:
        view = await clones.update_clone(group, clone_id, data, sdk.parse_if_match(if_match))
        return _clone(view)

    @delete(CLONE, summary="Delete a clone, its own sources and its conversations")
    async def delete_clone(
        self,
        clones: NamedDependency[Clones],
        group: NamedDependency[sdk.GroupContext],
        clone_id: FromPath[UUID],
        if_match: IfMatch = None,
    ) -> None:
        await clones.delete_clone(group, clone_id, sdk.parse_if_match(if_match))

    @post(CLONE + "/train", summary="Train the clone on its sources (a job)", status_code=202)
    async def train(
        self,
        training: NamedDependency[Training],
        group: NamedDependency[sdk.GroupContext],
        clone_id: FromPath[UUID],
    ) -> TrainStarted:
        """Answers 202 with the job id; follow it at ``/api/v1/groups/{group_id}/jobs/{id}``.
        Only sources that changed since the last training are embedded again."""
        return await training.train(group, clone_id)

    # -- sources --------------------------------------------------------------------------

    @get(CLONE + "/sources", summary="List a clone's sources")
    async def list_sources(
        self,
        sources: NamedDependency[Sources],
        group: NamedDependency[sdk.GroupContext],
        clone_id: FromPath[UUID],
        cursor: sdk.PageCursor = None,
        limit: sdk.PageLimit = 50,
    ) -> sdk.Page[SourceView]:
        return await sources.list_sources(group, clone_id, cursor, limit)

    @post(
        CLONE + "/sources",
        summary="Add pasted text, Markdown, HTML or a website page",
        opt=sdk.pasted_text("text"),
    )
    async def add_source(
        self,
        sources: NamedDependency[Sources],
        group: NamedDependency[sdk.GroupContext],
        clone_id: FromPath[UUID],
        data: JSONBody[SourceIn],
    ) -> Response[SourceView]:
        return Response(await sources.add_source(group, clone_id, data), status_code=201)

    @post(
        CLONE + "/sources/file",
        summary="Upload a source file (.txt, .md, .html or .pdf)",
        before_request=_refuse_large_bodies,
        request_max_body_size=UPLOAD_BODY_CEILING,
    )
    async def upload_source(
        self,
        request: Request[Any, Any, Any],
        sources: NamedDependency[Sources],
        group: NamedDependency[sdk.GroupContext],
        clone_id: FromPath[UUID],
    ) -> Response[SourceView]:
        """A ``multipart/form-data`` body with the ``file`` and an optional ``title``
        (default: the file's name). The body is read only once the caller may manage
        this group's clones."""
        group.require("clone.manage")
        await sources.get_clone_thing(group.stores, clone_id)
        upload, title = await _read_upload(request)
        try:
            content = await upload.read(sources.settings.max_upload_bytes + 1)
        finally:
            await upload.close()
        view = await sources.add_file_source(group, clone_id, upload.filename or "", content, title)
        return Response(view, status_code=201)

    @get(SOURCE, summary="Get one of a clone's sources")
    async def get_source(
        self,
        sources: NamedDependency[Sources],
        group: NamedDependency[sdk.GroupContext],
        clone_id: FromPath[UUID],
        source_id: FromPath[UUID],
    ) -> SourceView:
        return await sources.get_source(group, clone_id, source_id)

    @patch(
        SOURCE,
        summary="Change a source's title or text (retrain to use it)",
        opt=sdk.pasted_text("text"),
    )
    async def update_source(
        self,
        sources: NamedDependency[Sources],
        group: NamedDependency[sdk.GroupContext],
        clone_id: FromPath[UUID],
        source_id: FromPath[UUID],
        data: JSONBody[SourcePatch],
    ) -> SourceView:
        return await sources.update_source(group, clone_id, source_id, data)

    @delete(SOURCE, summary="Stop learning from a source (its own text is deleted)")
    async def remove_source(
        self,
        sources: NamedDependency[Sources],
        group: NamedDependency[sdk.GroupContext],
        clone_id: FromPath[UUID],
        source_id: FromPath[UUID],
    ) -> None:
        await sources.remove_source(group, clone_id, source_id)

    # -- conversations --------------------------------------------------------------------

    @get(CLONE + "/threads", summary="List conversations with a clone, newest first")
    async def list_threads(
        self,
        chat: NamedDependency[Chat],
        group: NamedDependency[sdk.GroupContext],
        clone_id: FromPath[UUID],
        cursor: sdk.PageCursor = None,
        limit: sdk.PageLimit = 50,
    ) -> sdk.Page[ThreadView]:
        return await chat.list_threads(group, clone_id, cursor, limit)

    @post(CLONE + "/threads", summary="Start a conversation with a clone")
    async def start_thread(
        self,
        chat: NamedDependency[Chat],
        group: NamedDependency[sdk.GroupContext],
        clone_id: FromPath[UUID],
        data: JSONBody[ThreadIn | None] = None,
    ) -> Response[ThreadView]:
        view = await chat.start_thread(group, clone_id, data or ThreadIn())
        return Response(view, status_code=201)

    @get(THREAD, summary="Get a conversation")
    async def get_thread(
        self,
        chat: NamedDependency[Chat],
        group: NamedDependency[sdk.GroupContext],
        clone_id: FromPath[UUID],
        thread_id: FromPath[UUID],
    ) -> ThreadView:
        return await chat.get_thread(group, clone_id, thread_id)

    @get(THREAD + "/messages", summary="A conversation's messages, newest first")
    async def list_messages(
        self,
        chat: NamedDependency[Chat],
        group: NamedDependency[sdk.GroupContext],
        clone_id: FromPath[UUID],
        thread_id: FromPath[UUID],
        cursor: sdk.PageCursor = None,
        limit: sdk.PageLimit = 50,
    ) -> sdk.Page[MessageView]:
        return await chat.list_messages(group, clone_id, thread_id, cursor, limit)

    @post(
        THREAD + "/messages",
        summary="Ask the clone (JSON, or streamed as server-sent events)",
        responses={
            200: ResponseSpec(
                data_container=str,
                media_type="text/event-stream",
                description="With ?stream=true: the answer as server-sent events",
                generate_examples=False,
            )
        },
    )
    async def ask(
        self,
        request: Request[Any, Any, Any],
        chat: NamedDependency[Chat],
        group: NamedDependency[sdk.GroupContext],
        clone_id: FromPath[UUID],
        thread_id: FromPath[UUID],
        data: JSONBody[MessageIn],
        stream: FromQuery[bool] = False,
    ) -> Response[Any]:
        """``?stream=true`` (or ``Accept: text/event-stream``) streams the answer as
        server-sent events; otherwise 201 with ``{"question", "answer"}``. 502
        ``llm_unavailable`` if the model cannot answer (the question is kept)."""
        turn = await chat.ask(group, clone_id, thread_id, data)
        return await respond(request, chat, group, turn, stream)

    @post(
        THREAD + "/messages/{message_id:uuid}/feedback",
        summary="Rate an answer (up or down)",
        status_code=200,
    )
    async def feedback(
        self,
        chat: NamedDependency[Chat],
        group: NamedDependency[sdk.GroupContext],
        clone_id: FromPath[UUID],
        thread_id: FromPath[UUID],
        message_id: FromPath[UUID],
        data: JSONBody[FeedbackIn],
    ) -> MessageView:
        return await chat.give_feedback(group, clone_id, thread_id, message_id, data.feedback)


ROUTES = [
    sdk.api_router(
        "clone",
        [CloneController],
        dependencies=service_dependencies(
            "clones", "sources", "training", "chat", after_group=True
        ),
    )
]

"""The clone plugin's types: thing properties, connection metadata, event payloads and API
bodies. Every payload is a msgspec struct."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

Name = Annotated[str, Meta(min_length=1, max_length=200)]
Purpose = Literal["sales", "support", "teaching", "general"]
CloneStatus = Literal["draft", "training", "active", "failed"]
SourceKind = Literal["text", "markdown", "html", "pdf", "page"]
Role = Literal["user", "assistant"]

#: Most characters of pasted text or an extracted document kept for training.
MAX_SOURCE_CHARS = 2_000_000


# -- thing properties ---------------------------------------------------------------------


class CloneProps(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """Properties of an ``ai_clone`` thing."""

    purpose: Purpose = "general"
    system_prompt: Annotated[str, Meta(max_length=8000)] = ""
    temperature: Annotated[float, Meta(ge=0.0, le=2.0)] = 0.3
    #: The LLM provider (``register_llm_providers``) and its model; empty: the defaults.
    provider: Annotated[str, Meta(max_length=100)] = ""
    model: Annotated[str, Meta(max_length=200)] = ""
    welcome_message: Annotated[str, Meta(max_length=1000)] = "Hi! Ask me anything."
    voice_id: Annotated[str, Meta(max_length=200)] = ""
    appearance_id: Annotated[str, Meta(max_length=200)] = ""
    #: Readiness of the voice and the appearance (``plugins/clone/voice/``): the provider
    #: holding each id, ``none``, ``processing``, ``ready`` or ``failed``, the last failure.
    voice_provider: Annotated[str, Meta(max_length=100)] = ""
    voice_state: Literal["none", "processing", "ready", "failed"] = "none"
    voice_error: Annotated[str, Meta(max_length=1000)] = ""
    appearance_provider: Annotated[str, Meta(max_length=100)] = ""
    appearance_state: Literal["none", "processing", "ready", "failed"] = "none"
    appearance_error: Annotated[str, Meta(max_length=1000)] = ""
    widget_theme: dict[str, str] = msgspec.field(default_factory=dict)
    #: Origins allowed to embed the chat widget (``https://example.com``).
    allowed_origins: list[Annotated[str, Meta(max_length=300)]] = msgspec.field(
        default_factory=list
    )
    #: Filled in by training.
    trained_at: str | None = None
    training_error: str | None = None
    training_job: str | None = None


class SourceProps(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """Properties of a ``clone_source`` thing: a document or pasted text a clone learns
    from (the extracted text is what is embedded)."""

    kind: SourceKind = "text"
    filename: Annotated[str, Meta(max_length=255)] = ""
    text: Annotated[str, Meta(max_length=MAX_SOURCE_CHARS)] = ""
    content_hash: str = ""


class ThreadProps(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """Properties of an ``ai_thread`` thing: one conversation with a clone."""

    clone_id: str
    #: Who is talking: a person's id, or an anonymous visitor's session id.
    visitor: Annotated[str, Meta(max_length=200)] = ""
    title: Annotated[str, Meta(max_length=200)] = ""


class Citation(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """A passage an answer used: its source thing, the sentences of it that answered
    (``quote``), the spans of ``quote`` that are the question's words (``marks``,
    ``[start, end)`` in characters), and ``url``: the source's public page opened at the
    quote (a website page; empty for text only the clone's members may read)."""

    source_id: str
    knowledge_id: str
    title: str = ""
    quote: Annotated[str, Meta(max_length=2000)] = ""
    score: float = 0.0
    marks: list[tuple[int, int]] = msgspec.field(default_factory=list)
    url: Annotated[str, Meta(max_length=4000)] = ""
    #: ``page`` (a website page) or the kind of a pasted or uploaded source.
    kind: str = ""


class ToolCall(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    name: str
    arguments: dict[str, Any] = msgspec.field(default_factory=dict)
    result: Any = None
    error: str | None = None


class MessageProps(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """Properties of an ``ai_message`` thing."""

    thread_id: str
    clone_id: str
    role: Role
    content: Annotated[str, Meta(max_length=100_000)]
    citations: list[Citation] = msgspec.field(default_factory=list)
    tool_calls: list[ToolCall] = msgspec.field(default_factory=list)
    latency_ms: float | None = None
    #: ``up`` or ``down`` from the visitor; ``None`` until given.
    feedback: Literal["up", "down"] | None = None
    #: The knowledge base had nothing relevant: the clone said it did not know.
    unanswered: bool = False
    #: A visitor's question's key (``plugins.clone.questions``): analytics groups by it.
    question_key: Annotated[str, Meta(max_length=500)] = ""
    provider: str = ""
    model: str = ""


class LeadProps(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """Properties of a ``lead`` thing: a visitor who asked a clone to have the creator get
    in touch (recorded by the ``create_lead`` tool)."""

    email: Annotated[str, Meta(max_length=254)]
    interest: Annotated[str, Meta(max_length=1000)] = ""
    clone_id: str = ""
    thread_id: str = ""
    visitor: Annotated[str, Meta(max_length=200)] = ""


# -- connection metadata ------------------------------------------------------------------


class TrainedOnMeta(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    chunk_count: int = 0
    weight: Annotated[float, Meta(ge=0.0, le=10.0)] = 1.0
    content_hash: str = ""


class PowersMeta(msgspec.Struct, forbid_unknown_fields=True):
    """What a clone does for the thing it ``powers``: ``widget`` (its chat bubble is on
    that page)."""

    service: Literal["widget", "support_inbox"] = "widget"


class CloneOfMeta(msgspec.Struct, forbid_unknown_fields=True):
    """What a clone's ``clone_of`` connection to its creator (a member of the group)
    records: ``version`` counts its successful trainings (0: never trained) and
    ``training_size`` is how many chunks it knew after the last one. Each training
    replaces the connection, so the ended ones are the clone's training history."""

    version: Annotated[int, Meta(ge=0)] = 0
    training_size: Annotated[int, Meta(ge=0)] = 0


# -- event payloads ------------------------------------------------------------------------


class CloneEvent(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    clone_id: str
    changed: list[str] = msgspec.field(default_factory=list)


class CloneTrained(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    clone_id: str
    sources: int
    chunks: int
    embedded: int
    seconds: float
    #: sentences given a vector (for a clone whose provider reads them; 0 otherwise)
    sentences_embedded: int = 0


class MessageAnswered(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    clone_id: str
    thread_id: str
    message_id: str
    latency_ms: float
    citations: int
    unanswered: bool = False
    question: Annotated[str, Meta(max_length=2000)] = ""
    question_key: Annotated[str, Meta(max_length=500)] = ""


class ToolCalled(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """A clone's model called a tool while answering (its arguments stay on the message:
    they may hold what a visitor typed)."""

    clone_id: str
    thread_id: str
    message_id: str
    tool: str
    ok: bool
    error: Annotated[str, Meta(max_length=1000)] = ""


class FeedbackGiven(msgspec.Struct, forbid_unknown_fields=True):
    clone_id: str
    message_id: str
    feedback: Literal["up", "down"]


# -- API bodies ----------------------------------------------------------------------------

SystemPrompt = Annotated[str, Meta(max_length=8000)]
Temperature = Annotated[float, Meta(ge=0.0, le=2.0)]
ProviderName = Annotated[str, Meta(max_length=100)]
ModelName = Annotated[str, Meta(max_length=200)]
Welcome = Annotated[str, Meta(max_length=1000)]
Title = Annotated[str, Meta(max_length=200)]
#: The id of a person or a thing (a UUID, as the API writes them).
Id = Annotated[
    str,
    Meta(
        max_length=36,
        pattern=r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$",
    ),
]
#: Longest question a visitor may ask.
MAX_QUESTION_CHARS = 4000


class CloneIn(msgspec.Struct, forbid_unknown_fields=True):
    """A new clone. An empty ``system_prompt`` is written for you from the creator's name
    and the clone's purpose (and can be edited later). ``creator_id``: the member of the
    group the clone is a clone of (default: you)."""

    name: Name
    purpose: Purpose = "general"
    system_prompt: SystemPrompt = ""
    temperature: Temperature = 0.3
    provider: ProviderName = ""
    model: ModelName = ""
    welcome_message: Welcome = "Hi! Ask me anything."
    creator_id: Id | None = None


Color = Annotated[str, Meta(pattern=r"^#[0-9a-fA-F]{6}$", max_length=7)]


class WidgetTheme(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """How the chat widget looks: its accent colour (the bubble, the visitor's messages)
    and an avatar picture (an ``https`` URL)."""

    accent: Color = "#4f46e5"
    avatar_url: Annotated[str, Meta(max_length=2000, pattern=r"^(https://\S+)?$")] = ""


#: An origin a widget may be embedded on: ``http(s)://host[:port]`` (the service checks
#: the host's labels and the port's range, and writes it in lower case).
Origin = Annotated[
    str,
    Meta(
        min_length=1,
        max_length=300,
        pattern=r"^\s*[Hh][Tt][Tt][Pp][Ss]?://[A-Za-z0-9.-]+(:[0-9]{1,5})?/?\s*$",
    ),
]


class ClonePatch(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """Fields to change. ``system_prompt: ""`` writes the default prompt again.
    ``allowed_origins``: the sites (``https://example.com``) that may embed the chat
    widget, besides the platform's own pages."""

    name: Name | msgspec.UnsetType = msgspec.UNSET
    purpose: Purpose | msgspec.UnsetType = msgspec.UNSET
    system_prompt: SystemPrompt | msgspec.UnsetType = msgspec.UNSET
    temperature: Temperature | msgspec.UnsetType = msgspec.UNSET
    provider: ProviderName | msgspec.UnsetType = msgspec.UNSET
    model: ModelName | msgspec.UnsetType = msgspec.UNSET
    welcome_message: Welcome | msgspec.UnsetType = msgspec.UNSET
    allowed_origins: Annotated[list[Origin], Meta(max_length=20)] | msgspec.UnsetType = (
        msgspec.UNSET
    )
    widget_theme: WidgetTheme | msgspec.UnsetType = msgspec.UNSET


class CloneView(msgspec.Struct):
    id: str
    name: str
    status: str
    purpose: str
    system_prompt: str
    temperature: float
    #: The provider answering (the clone's own, else the platform's default).
    provider: str
    model: str
    welcome_message: str
    trained_at: str | None
    training_error: str | None
    training_job: str | None
    version: int
    created_at: str
    updated_at: str
    allowed_origins: list[str] = msgspec.field(default_factory=list)
    widget_theme: dict[str, str] = msgspec.field(default_factory=dict)
    #: The member it is a clone of (its ``clone_of`` connection), its trainings so far
    #: and the chunks it knew after the last one; ``None``, 0, 0 without a creator.
    creator_id: str | None = None
    training_version: int = 0
    training_size: int = 0


class SourceIn(msgspec.Struct, forbid_unknown_fields=True):
    """A source by value (``kind`` ``text``, ``markdown`` or ``html``: a ``title`` and the
    ``text``) or by reference (``kind: "page"`` and the ``thing_id`` of a website page)."""

    kind: Literal["text", "markdown", "html", "page"]
    title: Title = ""
    text: Annotated[str, Meta(max_length=MAX_SOURCE_CHARS)] = ""
    thing_id: Id | None = None


class SourcePatch(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """Change a source's title or text (read as the source's kind; an uploaded PDF's text
    as plain text). Website pages change in the website."""

    title: Annotated[str, Meta(min_length=1, max_length=200, pattern=r"\S")] | msgspec.UnsetType = (
        msgspec.UNSET
    )
    text: Annotated[str, Meta(min_length=1, max_length=MAX_SOURCE_CHARS, pattern=r"\S")] | (
        msgspec.UnsetType
    ) = msgspec.UNSET


class SourceView(msgspec.Struct):
    """A source of a clone: a ``clone_source`` thing or a website ``page``."""

    id: str
    clone_id: str
    kind: str
    title: str
    filename: str
    #: Characters of text it has now (what training embeds).
    chars: int
    preview: str
    #: Chunks embedded the last time the clone trained on it.
    chunk_count: int
    #: ``new`` (never trained), ``trained`` (up to date), ``changed`` (retrain to update).
    state: Literal["new", "trained", "changed"]
    created_at: str
    #: What was changed in pasted text to store it (characters PostgreSQL cannot hold).
    warnings: list[str] = msgspec.field(default_factory=list)


class TrainStarted(msgspec.Struct):
    """Training was queued: follow ``GET /api/v1/groups/{group_id}/jobs/{job_id}``."""

    job_id: str
    clone: CloneView


class ThreadIn(msgspec.Struct, forbid_unknown_fields=True):
    title: Title = ""


class ThreadView(msgspec.Struct):
    id: str
    clone_id: str
    title: str
    visitor: str
    created_at: str


class MessageIn(msgspec.Struct, forbid_unknown_fields=True):
    content: Annotated[str, Meta(min_length=1, max_length=MAX_QUESTION_CHARS, pattern=r"\S")]


class MessageView(msgspec.Struct):
    id: str
    thread_id: str
    clone_id: str
    role: str
    content: str
    citations: list[Citation]
    unanswered: bool
    feedback: str | None
    latency_ms: float | None
    provider: str
    model: str
    created_at: str
    #: Tools the model called for this answer, with their results or errors.
    tool_calls: list[ToolCall] = msgspec.field(default_factory=list)


class Exchange(msgspec.Struct):
    """A question and its answer."""

    question: MessageView
    answer: MessageView


class FeedbackIn(msgspec.Struct, forbid_unknown_fields=True):
    feedback: Literal["up", "down"]


class ProviderView(msgspec.Struct):
    name: str
    default: bool
    #: The models a clone may name for it (``None``: any; the first is its default).
    models: list[str] | None = None

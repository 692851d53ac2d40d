"""Analytics of a clone for its creator: conversations, questions and answers, thumbs up
and down, response times, the most common questions and the content gaps (questions the
clone could not answer) with a suggestion of what content to add.

Everything is aggregated in PostgreSQL through core's aggregate reads
(``stores.things.aggregate``, ``stores.events.aggregate``), so a clone with many messages
is never read into Python: counts, latency percentiles and the grouping of questions
happen in the database, under the caller's group, and only groups come back (the
:data:`MAX_GROUPS` most asked: the most common questions and the content-gap pages are
taken from them). The figures are read from what chat records:

* ``ai_message`` things (role, latency, feedback, ``unanswered``) of the clone, created in
  the window: a message's *current* feedback counts, so a changed rating counts once;
* ``ai_message`` questions, grouped by their ``question_key``, for the most common
  questions;
* ``message_answered`` events with ``unanswered`` (they carry the question and its key)
  for the gaps.

The summary, the questions and the gaps are separate reads, so a message stored while
they run may count in one and not yet in another.

Questions are grouped by their key (see ``plugins.clone.questions``): their content
words, in any order, plus the question words and negations that change a question. So
"What is your refund policy?", "what's your REFUND policy" and "What are your refund
policies" count as one question, and "When are coaching calls?" and "Where are coaching
calls?" as two. Each group shows its most frequent wording.

Chat stores the key with each question. Questions stored before it did have none: for
those the distinct texts are counted in the database and keyed here, the
:data:`MAX_GROUPS` most asked of them, and merged with the keyed groups. No job rewrites
old messages (a ``message_answered`` event cannot be rewritten anyway); since a window is
at most a year, keyless questions leave every window within one.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import FromPath, Parameter

import sdk
from plugins.clone.questions import question_key
from plugins.clone.retrieval import content_words
from plugins.clone.services import quote
from plugins.clone.text import STOP_WORDS
from plugins.clone.training import source_links
from plugins.clone.types import MAX_QUESTION_CHARS

Days = Annotated[int, Parameter(ge=1, le=365)]
Limit = Annotated[int, Parameter(ge=1, le=200)]
#: A content-gaps cursor carries the last question's key (up to ``MAX_QUESTION_CHARS``,
#: JSON-escaped at worst six bytes a character) in URL-safe base64: ASCII only, so the
#: limit bounds the request line as well.
GapsCursor = Annotated[
    str | None,
    Parameter(max_length=4 * (6 * MAX_QUESTION_CHARS + 64) // 3 + 4, pattern=r"^[A-Za-z0-9_-]*$"),
]
#: Most common questions and content gaps in the summary.
TOP = 10
#: Characters of a question shown (a group's wording) and quoted in a suggestion.
SHOWN_CHARS = 500
QUOTED_CHARS = 120
#: Key terms of a question a suggestion names, and the passages it looks at.
MAX_TERMS = 4
SUGGESTION_PASSAGES = 5

# -- figures -------------------------------------------------------------------------------

#: Question groups read per listing (most asked first), keyed and keyless each.
MAX_GROUPS = 1000

ASKED = {"role": "user"}
ANSWERED = {"role": "assistant"}
#: Counts, feedback and latency percentiles of a clone's messages.
SUMMARY = [
    sdk.Metric.count_distinct("properties.thread_id", where=ASKED, name="conversations"),
    sdk.Metric.count(where=ASKED, name="questions"),
    sdk.Metric.count(where=ANSWERED, name="answers"),
    sdk.Metric.count(where={**ANSWERED, "unanswered": True}, name="unanswered"),
    sdk.Metric.count(where={**ANSWERED, "feedback": "up"}, name="up"),
    sdk.Metric.count(where={**ANSWERED, "feedback": "down"}, name="down"),
    sdk.Metric.percentile("properties.latency_ms", 0.5, where=ANSWERED, name="p50"),
    sdk.Metric.percentile("properties.latency_ms", 0.95, where=ANSWERED, name="p95"),
]


@dataclass
class QuestionGroup:
    """Questions with one key: how often and when last asked, and the wording shown
    (``shown`` times asked in that wording, or the group's count for a keyed group)."""

    key: str
    count: int
    last_asked: datetime
    question: str
    shown: int

    @property
    def order(self) -> tuple[int, datetime, str]:
        """Most asked first, then most recently asked (descending)."""
        return self.count, self.last_asked, self.key

    def add(self, count: int, last_asked: datetime, question: str) -> None:
        if count > self.shown:
            self.question, self.shown = question, count
        self.count += count
        self.last_asked = max(self.last_asked, last_asked)


async def question_groups(
    aggregate: Callable[..., Awaitable[list[sdk.AggregateRow]]],
    fields: str,
    text: str,
    at: str,
    **filters: Any,
) -> list[QuestionGroup]:
    """The questions ``aggregate`` (``things.aggregate`` or ``events.aggregate``) finds
    with ``filters``, grouped by ``<fields>.question_key``, most asked first: ``text``
    is the question's field and ``at`` its time."""
    metrics = [
        sdk.Metric.count(),
        sdk.Metric.max(at, name="last_asked"),
        sdk.Metric.most_common(text, name="question"),
    ]
    order = ["-count", "-last_asked"]
    rows = await aggregate(
        metrics, group_by=[f"{fields}.question_key"], order_by=order, limit=MAX_GROUPS, **filters
    )
    groups: dict[str, QuestionGroup] = {}
    keyless = False
    for row in rows:
        [key], values = row.key, row.values
        if key is None:
            keyless = True
            continue
        count = int(values["count"])
        groups[key] = QuestionGroup(key, count, values["last_asked"], values["question"], count)
    if keyless:  # stored before chat kept keys: count each text there, key it here
        texts = await aggregate(
            metrics[:2],
            group_by=[text],
            missing=["question_key"],
            order_by=order,
            limit=MAX_GROUPS,
            **filters,
        )
        for row in texts:
            [question], values = row.key, row.values
            if not isinstance(question, str) or not question.strip():
                continue
            count, at_ = int(values["count"]), values["last_asked"]
            key = question_key(question)
            if key in groups:
                groups[key].add(count, at_, question)
            else:
                groups[key] = QuestionGroup(key, count, at_, question, count)
    return sorted(groups.values(), key=lambda g: g.order, reverse=True)


# -- payloads ------------------------------------------------------------------------------


class Feedback(msgspec.Struct):
    up: int
    down: int
    #: ``up / (up + down)``; ``None`` when no answer was rated.
    up_rate: float | None


class Latency(msgspec.Struct):
    """Milliseconds from a question to its stored answer."""

    p50: float | None
    p95: float | None


class QuestionCount(msgspec.Struct):
    question: str
    count: int


class ContentGap(msgspec.Struct):
    """A question the clone could not answer, how often it was asked, and what to add."""

    question: str
    count: int
    last_asked: str
    suggestion: str


class CloneAnalytics(msgspec.Struct):
    """A clone's figures over the last ``days`` days, ``[since, until)``."""

    clone_id: str
    since: str
    until: str
    days: int
    #: Conversations in which a question was asked in the window.
    conversations: int
    questions: int
    answers: int
    feedback: Feedback
    latency_ms: Latency
    #: Answers that said the clone did not know (content gaps), and their share of answers.
    unanswered: int
    unanswered_rate: float | None
    top_questions: list[QuestionCount]
    content_gaps: list[ContentGap]


# -- service -------------------------------------------------------------------------------


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _ms(value: float | None) -> float | None:
    return None if value is None else round(float(value), 1)


def _window(days: int) -> tuple[datetime, datetime]:
    if not 1 <= days <= 365:
        raise sdk.ValidationFailed("days must be between 1 and 365", field="days")
    until = datetime.now(UTC)
    return until - timedelta(days=days), until


def _encode_cursor(count: int, last_asked: datetime, key: str) -> str:
    raw = msgspec.json.encode((count, last_asked, key))
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[int, datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        count, at, key = msgspec.json.decode(raw, type=tuple[int, datetime, str])
    except (ValueError, binascii.Error, msgspec.DecodeError):
        raise sdk.ValidationFailed("cursor is not one this API returned", field="cursor") from None
    if at.tzinfo is None:
        raise sdk.ValidationFailed("cursor is not one this API returned", field="cursor")
    return count, at, key


async def _clone(group: sdk.GroupContext, clone_id: UUID) -> sdk.Thing:
    group.require("clone.read")
    try:
        return await group.stores.things.get(clone_id, type="ai_clone")
    except sdk.NotFound:
        raise sdk.NotFound(f"clone {clone_id} not found") from None


async def _asked(
    group: sdk.GroupContext, clone_id: UUID, since: datetime, until: datetime
) -> list[QuestionGroup]:
    """The clone's questions in ``[since, until)``, grouped, most asked first."""
    return await question_groups(
        group.stores.things.aggregate,
        "properties",
        "properties.content",
        "created_at",
        type="ai_message",
        where={"clone_id": str(clone_id), **ASKED},
        since=since,
        until=until,
    )


async def _unanswered(
    group: sdk.GroupContext, clone_id: UUID, since: datetime, until: datetime
) -> list[QuestionGroup]:
    """The clone's unanswered questions in ``[since, until)``, grouped, most asked first."""
    return await question_groups(
        group.stores.events.aggregate,
        "payload",
        "payload.question",
        "occurred_at",
        type="message_answered",
        where={"clone_id": str(clone_id), "unanswered": True},
        since=since,
        until=until,
    )


async def analytics(group: sdk.GroupContext, clone_id: UUID, days: int = 30) -> CloneAnalytics:
    """The clone's figures over the last ``days`` days."""
    since, until = _window(days)
    await _clone(group, clone_id)
    [summary] = await group.stores.things.aggregate(
        SUMMARY, type="ai_message", where={"clone_id": str(clone_id)}, since=since, until=until
    )
    row = summary.values
    top = (await _asked(group, clone_id, since, until))[:TOP]
    gaps = (await _unanswered(group, clone_id, since, until))[:TOP]
    up, down, answers = int(row["up"]), int(row["down"]), int(row["answers"])
    return CloneAnalytics(
        clone_id=str(clone_id),
        since=since.isoformat(),
        until=until.isoformat(),
        days=days,
        conversations=int(row["conversations"]),
        questions=int(row["questions"]),
        answers=answers,
        feedback=Feedback(up=up, down=down, up_rate=_rate(up, up + down)),
        latency_ms=Latency(p50=_ms(row["p50"]), p95=_ms(row["p95"])),
        unanswered=int(row["unanswered"]),
        unanswered_rate=_rate(int(row["unanswered"]), answers),
        top_questions=[
            QuestionCount(question=quote(g.question, SHOWN_CHARS), count=g.count) for g in top
        ],
        content_gaps=await _gaps(group, clone_id, gaps),
    )


async def content_gaps(
    group: sdk.GroupContext,
    clone_id: UUID,
    *,
    days: int = 30,
    cursor: str | None = None,
    limit: int = 50,
) -> sdk.Page[ContentGap]:
    """The questions the clone could not answer in the last ``days`` days, most asked
    first (then most recently asked)."""
    since, until = _window(days)
    if not 1 <= limit <= 200:
        raise sdk.ValidationFailed("limit must be between 1 and 200", field="limit")
    after = _decode_cursor(cursor) if cursor else None
    await _clone(group, clone_id)
    groups = await _unanswered(group, clone_id, since, until)
    if after is not None:
        groups = [g for g in groups if g.order < after]
    next_cursor = None
    if len(groups) > limit:
        groups = groups[:limit]
        next_cursor = _encode_cursor(*groups[-1].order)
    return sdk.Page(items=await _gaps(group, clone_id, groups), next_cursor=next_cursor)


async def _gaps(
    group: sdk.GroupContext, clone_id: UUID, groups: list[QuestionGroup]
) -> list[ContentGap]:
    if not groups:
        return []
    source_ids = [link.to_id for link in await source_links(group.stores, clone_id)]
    return [
        ContentGap(
            question=quote(g.question, SHOWN_CHARS),
            count=g.count,
            last_asked=g.last_asked.isoformat(),
            suggestion=await suggest(group, source_ids, g.question),
        )
        for g in groups
    ]


# -- suggestions ---------------------------------------------------------------------------

_WORD = re.compile(r"\w+", re.UNICODE)


def key_terms(question: str, most: int = MAX_TERMS) -> list[str]:
    """The words of ``question`` that say what it is about (no stop words), as written,
    one per stem, in order."""
    terms: list[str] = []
    seen: set[str] = set()
    for number, word in enumerate(_WORD.findall(question.replace("\u2019", "'"))):
        stems = content_words(word)
        if len(word) < 2 or word.lower() in STOP_WORDS or not stems or stems & seen:
            continue
        seen |= stems
        # As written (names, acronyms), but a question's first word is capitalised anyway.
        terms.append(word.lower() if number == 0 and not word.isupper() else word)
        if len(terms) == most:
            break
    return terms


def mentioned(terms: list[str], text: str) -> list[str]:
    """The ``terms`` that ``text`` mentions: the same light stem, or one stem the start of
    the other (at least 4 letters: "polic" and "policy", "ship" and "shipp")."""
    stems = content_words(text)
    found = []
    for term in terms:
        (stem,) = content_words(term) or {term.lower()}
        if stem in stems or any(
            min(len(stem), len(s)) >= 4 and (s.startswith(stem) or stem.startswith(s))
            for s in stems
        ):
            found.append(term)
    return found


def _and(words: list[str], joiner: str = "and") -> str:
    if len(words) < 2:
        return "".join(words)
    return f"{', '.join(words[:-1])} {joiner} {words[-1]}"


async def suggest(group: sdk.GroupContext, source_ids: list[UUID], question: str) -> str:
    """What content would answer ``question``: if a source the clone learned from mentions
    its key terms, that source is named (it mentions them without answering); otherwise a
    new page or document about them. Deterministic: full-text search, no model."""
    asked = quote(question, QUOTED_CHARS)
    terms = key_terms(question)
    if not terms:
        return (
            f'Add a page or document that answers "{asked}" to this clone\'s sources, '
            "then retrain it."
        )
    about = _and(terms)
    if not source_ids:
        return (
            f"This clone has no sources yet: add a page or document about {about} that "
            f'answers "{asked}", then train it.'
        )
    hits = await group.platform.knowledge.search(
        group.scope,
        " or ".join(terms),
        mode="fulltext",
        limit=SUGGESTION_PASSAGES,
        thing_ids=source_ids,
    )
    best: tuple[list[str], str] | None = None
    for hit in hits:
        found = mentioned(terms, hit.text)
        if found and (best is None or len(found) > len(best[0])):
            title = hit.metadata.get("title") if isinstance(hit.metadata, dict) else None
            best = (found, title if isinstance(title, str) and title else "untitled")
    if best is None:
        return (
            f"Nothing this clone has learned mentions {_and(terms, 'or')}: add a page or "
            f'document about {about} that answers "{asked}", then retrain the clone.'
        )
    found, title = best
    missing = [t for t in terms if t not in found]
    if missing:
        return (
            f'Your source "{title}" mentions {_and(found)} but not {_and(missing, "or")}, '
            f'and does not answer "{asked}": add the answer there (or a new page or document '
            f"about {about}), then retrain the clone."
        )
    return (
        f'Your source "{title}" mentions {_and(found)} but does not answer "{asked}": add '
        "the answer there (a short FAQ entry will do), then retrain the clone."
    )


# -- API -----------------------------------------------------------------------------------

CLONE = "/clones/{clone_id:uuid}"


class CloneAnalyticsController(Controller):
    """A clone's analytics for its creator (``clone.read``: owners and org users)."""

    path = "/groups/{group_id:uuid}"

    @get(CLONE + "/analytics", summary="A clone's analytics over the last days")
    async def get_analytics(
        self,
        group: NamedDependency[sdk.GroupContext],
        clone_id: FromPath[UUID],
        days: Days = 30,
    ) -> CloneAnalytics:
        """Conversations, questions, answers, thumbs up and down, p50/p95 response time,
        the most common questions and the top content gaps with suggestions."""
        return await analytics(group, clone_id, days)

    @get(CLONE + "/content-gaps", summary="Questions a clone could not answer, most asked first")
    async def list_content_gaps(
        self,
        group: NamedDependency[sdk.GroupContext],
        clone_id: FromPath[UUID],
        cursor: GapsCursor = None,
        limit: Limit = 50,
        days: Days = 30,
    ) -> sdk.Page[ContentGap]:
        return await content_gaps(group, clone_id, days=days, cursor=cursor, limit=limit)


ROUTES = [sdk.api_router("clone", [CloneAnalyticsController])]

"""Analytics of a clone for its creator: conversations, questions and answers, thumbs up
and down, response times, the most common questions and the content gaps (questions the
clone could not answer) with a suggestion of what content to add.

Everything is aggregated in PostgreSQL, so a clone with many messages is never read into
Python: counts, ``percentile_cont`` latencies and the grouping of questions happen in SQL,
and only the rows shown come back. The figures are read from what chat records:

* ``ai_message`` things (role, latency, feedback, ``unanswered``) of the clone, created in
  the window: a message's *current* feedback counts, so a changed rating counts once;
* ``ai_message`` questions, grouped as below, for the most common questions;
* ``message_answered`` events with ``unanswered`` (they carry the question) for the gaps.

Core's stores have no aggregate reads, so these queries run on the request's own scoped
connection (``stores.session.reading()``): row-level security there shows only the
caller's group, whatever a statement says, and each statement filters ``group_id`` too.

Questions are grouped by their *content words*: PostgreSQL's English stems with the stop
words dropped, in any order, plus the question words and negations (what, how, not, ...)
that English full-text search drops but that change a question. So "What is your refund
policy?", "what's your REFUND policy" and "What are your refund policies" count as one
question, and "When are coaching calls?" and "Where are coaching calls?" (or "Do you offer
refunds?" and "Don't you offer refunds?") as two. A question of stop words
only is grouped by its text (case, spaces and punctuation ignored). Each group shows its
most frequent wording.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import FromPath, Parameter

import sdk
from plugins.clone.retrieval import STOP_WORDS, content_words
from plugins.clone.services import quote
from plugins.clone.training import source_links
from plugins.clone.types import MAX_QUESTION_CHARS

Days = Annotated[int, Parameter(ge=1, le=365)]
Limit = Annotated[int, Parameter(ge=1, le=200)]
#: A content-gaps cursor carries the last question's key (up to ``MAX_QUESTION_CHARS``,
#: JSON-escaped at worst six bytes a character) in base64.
GapsCursor = Annotated[str | None, Parameter(max_length=4 * (6 * MAX_QUESTION_CHARS + 64) // 3 + 4)]
#: Most common questions and content gaps in the summary.
TOP = 10
#: Characters of a question shown (a group's wording) and quoted in a suggestion.
SHOWN_CHARS = 500
QUOTED_CHARS = 120
#: Key terms of a question a suggestion names, and the passages it looks at.
MAX_TERMS = 4
SUGGESTION_PASSAGES = 5

# -- SQL -----------------------------------------------------------------------------------

#: Words English full-text search drops that change what a question asks.
KEPT_WORDS = (
    "what", "when", "where", "who", "whom", "whose", "why", "how", "which",
    "not", "no", "nor", "never", "t",
)  # fmt: skip


def _kept_words(words: str) -> str:
    """SQL: the :data:`KEPT_WORDS` in the ``simple`` tsvector ``words`` (cheap lookups in a
    sorted vector; a regular expression over the text costs as much as stemming it)."""
    present = " || ".join(f"CASE WHEN {words} @@ '{w}'::tsquery THEN ' {w}' ELSE '' END"
                          for w in KEPT_WORDS)  # fmt: skip
    return f"CASE WHEN {words} @@ '{' | '.join(KEPT_WORDS)}'::tsquery THEN {present} ELSE '' END"


def _grouped(rows: str, having: str = "TRUE") -> str:
    """SQL: the questions of ``rows`` (columns ``text``, ``at``) grouped (see the module's
    docstring), most asked first, then most recently; ``$5`` groups. Each distinct text is
    stemmed once, so repeated questions cost a hash lookup."""
    return f"""
WITH asked AS ({rows}),
exact AS (
    SELECT text, count(*) AS n, max(at) AS at FROM asked WHERE text <> '' GROUP BY text
),
keyed AS (
    SELECT e.text, e.n, e.at, CASE
        WHEN length(v.stems) = 0
        THEN btrim(regexp_replace(lower(e.text), '[^[:alnum:]]+', ' ', 'g'))
        ELSE v.stems::text || {_kept_words("v.words")}
    END AS key
    FROM exact e CROSS JOIN LATERAL (
        SELECT strip(to_tsvector('english', e.text)) AS stems,
            to_tsvector('simple', e.text) AS words
        OFFSET 0  -- computed once per text, not once per use
    ) v
)
SELECT key, sum(n)::bigint AS count, max(at) AS last_asked,
    (array_agg(text ORDER BY n DESC, at DESC))[1] AS question
FROM keyed
GROUP BY key
HAVING {having}
ORDER BY count DESC, last_asked DESC, key DESC
LIMIT $5
"""


#: Counts, feedback and latency percentiles of the clone's messages in [$3, $4).
SUMMARY_SQL = """
SELECT
    count(DISTINCT thread_id) FILTER (WHERE role = 'user') AS conversations,
    count(*) FILTER (WHERE role = 'user') AS questions,
    count(*) FILTER (WHERE role = 'assistant') AS answers,
    count(*) FILTER (WHERE role = 'assistant' AND unanswered) AS unanswered,
    count(*) FILTER (WHERE role = 'assistant' AND feedback = 'up') AS up,
    count(*) FILTER (WHERE role = 'assistant' AND feedback = 'down') AS down,
    percentile_cont(0.5) WITHIN GROUP (ORDER BY latency_ms)
        FILTER (WHERE role = 'assistant') AS p50,
    percentile_cont(0.95) WITHIN GROUP (ORDER BY latency_ms)
        FILTER (WHERE role = 'assistant') AS p95
FROM (
    SELECT properties->>'role' AS role, properties->>'thread_id' AS thread_id,
        properties->>'feedback' AS feedback, (properties->>'latency_ms')::float8 AS latency_ms,
        coalesce((properties->>'unanswered')::boolean, false) AS unanswered
    FROM things
    WHERE group_id = $1 AND type = 'ai_message' AND deleted_at IS NULL
        AND properties @> $2 AND created_at >= $3 AND created_at < $4
    OFFSET 0  -- each property read once per message
) messages
"""

#: The clone's questions ($2: its id and role user) in [$3, $4), grouped; $5 groups.
TOP_QUESTIONS_SQL = _grouped(
    "SELECT properties->>'content' AS text, created_at AS at FROM things "
    "WHERE group_id = $1 AND type = 'ai_message' AND deleted_at IS NULL "
    "AND properties @> $2 AND created_at >= $3 AND created_at < $4"
)

#: The clone's unanswered questions ($2) in [$3, $4), grouped, after the keyset
#: ($6, $7, $8) = (count, last asked, key) when $6 is given; $5 groups.
GAPS_SQL = _grouped(
    "SELECT payload->>'question' AS text, occurred_at AS at FROM events "
    "WHERE group_id = $1 AND type = 'message_answered' AND payload @> $2 "
    "AND occurred_at >= $3 AND occurred_at < $4",
    having="$6::bigint IS NULL OR (sum(n)::bigint, max(at), key) < ($6, $7::timestamptz, $8::text)",
)

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


@asynccontextmanager
async def _reading(group: sdk.GroupContext) -> AsyncIterator[Any]:
    """A read-only snapshot on the request's scoped connection (see the module's
    docstring): the figures of one answer agree with each other."""
    async with group.stores.session.reading() as conn:
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            yield conn


async def _clone(group: sdk.GroupContext, clone_id: UUID) -> sdk.Thing:
    group.require("clone.read")
    try:
        return await group.stores.things.get(clone_id, type="ai_clone")
    except sdk.NotFound:
        raise sdk.NotFound(f"clone {clone_id} not found") from None


async def analytics(group: sdk.GroupContext, clone_id: UUID, days: int = 30) -> CloneAnalytics:
    """The clone's figures over the last ``days`` days."""
    since, until = _window(days)
    await _clone(group, clone_id)
    messages = {"clone_id": str(clone_id)}
    questions = {"clone_id": str(clone_id), "role": "user"}
    window = (group.group_id, messages, since, until)
    async with _reading(group) as conn:
        row = await conn.fetchrow(SUMMARY_SQL, *window)
        top = await conn.fetch(TOP_QUESTIONS_SQL, group.group_id, questions, since, until, TOP)
        gaps = await conn.fetch(GAPS_SQL, *_gap_args(group, clone_id, since, until, TOP, None))
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
            QuestionCount(question=quote(r["question"], SHOWN_CHARS), count=int(r["count"]))
            for r in top
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
    async with _reading(group) as conn:
        rows = await conn.fetch(
            GAPS_SQL, *_gap_args(group, clone_id, since, until, limit + 1, after)
        )
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        next_cursor = _encode_cursor(int(last["count"]), last["last_asked"], last["key"])
    return sdk.Page(items=await _gaps(group, clone_id, rows), next_cursor=next_cursor)


def _gap_args(
    group: sdk.GroupContext,
    clone_id: UUID,
    since: datetime,
    until: datetime,
    limit: int,
    after: tuple[int, datetime, str] | None,
) -> tuple[Any, ...]:
    unanswered = {"clone_id": str(clone_id), "unanswered": True}
    keyset = after if after is not None else (None, None, None)
    return (group.group_id, unanswered, since, until, limit, *keyset)


async def _gaps(group: sdk.GroupContext, clone_id: UUID, rows: list[Any]) -> list[ContentGap]:
    if not rows:
        return []
    source_ids = [link.to_id for link in await source_links(group.stores, clone_id)]
    gaps = []
    for row in rows:
        question = row["question"]
        gaps.append(
            ContentGap(
                question=quote(question, SHOWN_CHARS),
                count=int(row["count"]),
                last_asked=row["last_asked"].isoformat(),
                suggestion=await suggest(group, source_ids, question),
            )
        )
    return gaps


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
        group.scope, " or ".join(terms), mode="fulltext", limit=SUGGESTION_PASSAGES,
        thing_ids=source_ids,
    )  # fmt: skip
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

"""Analytics of a clone: the figures of scripted conversations through the chat API,
percentiles and the time window on arranged messages, content gaps with suggestions and
their pages, an empty clone, tenancy, bad input and roles."""

from __future__ import annotations

import itertools
import math
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import pytest

from sdk.testing import Tenant, assert_problem

pytestmark = pytest.mark.creator_plugins("clone")

REFUND_QUESTION = "How many days do I have to ask for a refund?"
COACHING_QUESTION = "On which days are coaching calls?"
MONGOLIA = "What is the capital of Mongolia?"
SHAPE = {
    "clone_id",
    "since",
    "until",
    "days",
    "conversations",
    "questions",
    "answers",
    "feedback",
    "latency_ms",
    "unanswered",
    "unanswered_rate",
    "top_questions",
    "content_gaps",
}


def percentile(values: list[float], fraction: float) -> float:
    """PostgreSQL's ``percentile_cont``: linear interpolation between the closest ranks."""
    ordered = sorted(values)
    rank = (len(ordered) - 1) * fraction
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


async def read(api: Any, clone_id: str, **params: Any) -> dict[str, Any]:
    r = await api.client.get(api.url(clone_id, "/analytics"), params=params)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    assert set(body) == SHAPE, body
    return body


async def gaps_page(api: Any, clone_id: str, **params: Any) -> dict[str, Any]:
    r = await api.client.get(api.url(clone_id, "/content-gaps"), params=params)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def trained_clone(api: Any, docs: dict[str, str]) -> dict[str, Any]:
    clone = await api.clone("Ada")
    await api.text(clone["id"], "Refunds", docs["refunds"])
    await api.text(clone["id"], "Coaching", docs["coaching"])
    assert (await api.train(clone["id"]))["clone"]["status"] == "active"
    clone_: dict[str, Any] = clone
    return clone_


async def rate(api: Any, clone_id: str, thread_id: str, message_id: str, value: str) -> None:
    r = await api.client.post(
        api.thread_url(clone_id, thread_id, f"/messages/{message_id}/feedback"),
        json={"feedback": value},
    )
    assert r.status_code == 200, r.text


class Arrange:
    """Conversations written straight into the ontology, in the shape chat stores them,
    for figures that real timing cannot script (latencies, old messages)."""

    def __init__(self, clone_platform: Any, tenant: Tenant, clone_id: str) -> None:
        self.platform = clone_platform.platform
        self.scope = tenant.scope
        self.clone_id = clone_id
        self.ids: list[UUID] = []

    async def thread(self) -> str:
        async with self.platform.ontology.transaction(self.scope) as o:
            thing = await o.things.create(
                "ai_thread", name="t", properties={"clone_id": self.clone_id}
            )
        self.ids.append(thing.id)
        return str(thing.id)

    async def exchange(
        self,
        thread_id: str,
        question: str,
        *,
        latency_ms: float = 10.0,
        unanswered: bool = False,
        feedback: str | None = None,
    ) -> None:
        base = {"thread_id": thread_id, "clone_id": self.clone_id}
        async with self.platform.ontology.transaction(self.scope) as o:
            asked = await o.things.create(
                "ai_message", name="q", properties={**base, "role": "user", "content": question}
            )
            answer_props: dict[str, Any] = {
                **base,
                "role": "assistant",
                "content": "an answer",
                "latency_ms": latency_ms,
                "unanswered": unanswered,
            }
            if feedback is not None:
                answer_props["feedback"] = feedback
            answer = await o.things.create("ai_message", name="a", properties=answer_props)
            payload: dict[str, Any] = {
                **base,
                "message_id": str(answer.id),
                "latency_ms": latency_ms,
                "citations": 0,
                "unanswered": unanswered,
            }
            if unanswered:
                payload["question"] = question
            event = await o.events.emit("message_answered", payload, target_id=answer.id)
        self.ids += [asked.id, answer.id, event.id]

    async def age(self, days: int) -> None:
        """Move everything arranged so far ``days`` days into the past."""
        async with self.platform.db.system() as conn:
            for table, column in (("things", "created_at"), ("events", "occurred_at")):
                await conn.execute(
                    f"UPDATE {table} SET {column} = {column} - make_interval(days => $2) "
                    "WHERE id = ANY($1::uuid[])",
                    self.ids,
                    days,
                )
        self.ids = []


@pytest.fixture
def arrange(clone_platform: Any) -> Any:
    """``arrange(tenant, clone_id)``: an :class:`Arrange` for that clone."""
    return lambda tenant, clone_id: Arrange(clone_platform, tenant, clone_id)


async def test_scripted_conversations(api, docs) -> None:
    clone = await trained_clone(api, docs)
    cid = clone["id"]
    first, second, third = [await api.thread(cid) for _ in range(3)]
    await api.thread(cid)  # a conversation without a question does not count
    script = [
        (first, REFUND_QUESTION, False),
        (first, MONGOLIA, True),
        (second, "how many days do I have to ask for a REFUND", False),
        (second, COACHING_QUESTION, False),
        (third, "What's the capital of  Mongolia??", True),
    ]
    answers = []
    for thread, question, unanswered in script:
        answer = (await api.ask(cid, thread["id"], question))["answer"]
        assert answer["unanswered"] is unanswered, (question, answer)
        answers.append(answer)
    ratings = [(0, "up"), (2, "down"), (2, "up"), (3, "down"), (1, "down")]
    for index, value in ratings:  # the third answer's rating changes: it counts once
        await rate(api, cid, script[index][0]["id"], answers[index]["id"], value)

    body = await read(api, cid)
    assert body["clone_id"] == cid and body["days"] == 30
    since, until = datetime.fromisoformat(body["since"]), datetime.fromisoformat(body["until"])
    assert until - since == timedelta(days=30)
    assert (body["conversations"], body["questions"], body["answers"]) == (3, 5, 5)
    assert body["feedback"] == {"up": 2, "down": 2, "up_rate": 0.5}
    assert body["unanswered"] == 2 and body["unanswered_rate"] == pytest.approx(0.4)
    latencies = [a["latency_ms"] for a in answers]
    assert body["latency_ms"]["p50"] == pytest.approx(percentile(latencies, 0.5), abs=0.051)
    assert body["latency_ms"]["p95"] == pytest.approx(percentile(latencies, 0.95), abs=0.051)

    # Wording, case, spaces and punctuation aside, the same question counts together;
    # the most recently asked comes first among equally frequent ones.
    top = body["top_questions"]
    assert [q["count"] for q in top] == [2, 2, 1]
    assert top[0]["question"] in (MONGOLIA, "What's the capital of Mongolia??")
    assert top[1]["question"] in (REFUND_QUESTION, "how many days do I have to ask for a REFUND")
    assert top[2] == {"question": COACHING_QUESTION, "count": 1}

    [gap] = body["content_gaps"]
    assert gap["question"] in (MONGOLIA, "What's the capital of Mongolia??")
    assert gap["count"] == 2
    assert datetime.fromisoformat(gap["last_asked"]) >= datetime.fromisoformat(
        answers[4]["created_at"]
    )
    assert gap["suggestion"].startswith(
        "Nothing this clone has learned mentions capital or Mongolia: add a page or document "
        "about capital and Mongolia that answers "
    )
    page = await gaps_page(api, cid)
    assert page == {"items": [gap], "next_cursor": None}


async def test_percentiles_and_the_window(api, owner, arrange) -> None:
    clone = await api.clone("Ada")
    cid = clone["id"]
    now = arrange(owner, cid)
    thread = await now.thread()
    for ms in range(1, 101):  # latencies 1..100 ms
        feedback = "up" if ms <= 30 else "down" if ms <= 40 else None
        await now.exchange(thread, f"Question {ms % 4}", latency_ms=float(ms), feedback=feedback)
    old = arrange(owner, cid)
    old_thread = await old.thread()
    for ms in (5000.0, 6000.0):
        await old.exchange(old_thread, "Do you ship to Canada?", latency_ms=ms, unanswered=True)
    await old.age(40)

    recent = await read(api, cid, days=30)
    assert (recent["conversations"], recent["questions"], recent["answers"]) == (1, 100, 100)
    assert recent["latency_ms"]["p50"] == 50.5
    assert recent["latency_ms"]["p95"] == pytest.approx(95.05, abs=0.051)  # to 0.1 ms
    assert recent["feedback"] == {"up": 30, "down": 10, "up_rate": 0.75}
    assert recent["unanswered"] == 0 and recent["unanswered_rate"] == 0.0
    assert recent["content_gaps"] == []
    assert [q["count"] for q in recent["top_questions"]] == [25, 25, 25, 25]

    wider = await read(api, cid, days=60)
    assert (wider["conversations"], wider["questions"], wider["answers"]) == (2, 102, 102)
    assert wider["unanswered"] == 2 and wider["unanswered_rate"] == pytest.approx(2 / 102, 1e-3)
    expected = [float(ms) for ms in range(1, 101)] + [5000.0, 6000.0]
    assert wider["latency_ms"]["p95"] == pytest.approx(percentile(expected, 0.95), abs=0.051)
    assert [(g["question"], g["count"]) for g in wider["content_gaps"]] == [
        ("Do you ship to Canada?", 2)
    ]
    assert (await gaps_page(api, cid))["items"] == []
    assert len((await gaps_page(api, cid, days=60))["items"]) == 1


async def test_near_duplicate_questions_count_together(api, owner, arrange) -> None:
    clone = await api.clone("Ada")
    arranged = arrange(owner, clone["id"])
    thread = await arranged.thread()
    groups = [
        [
            "What is your refund policy?",
            "what's your REFUND  policy",
            "What are your refund policies",
        ],
        ["Who are you?", "who are YOU", "Who are you!!"],
        ["Do you offer refunds?", "do you offer a refund"],
        ["Don't you offer refunds?"],
        ["When are coaching calls?"],
        ["Where are coaching calls?"],
    ]
    for group in groups:
        for question in group:
            await arranged.exchange(thread, question)
    top = (await read(api, clone["id"]))["top_questions"]
    assert sorted(q["count"] for q in top) == sorted(len(group) for group in groups)
    for question in top:
        [group] = [g for g in groups if question["question"] in {" ".join(q.split()) for q in g}]
        assert question["count"] == len(group)


async def test_questions_stored_without_a_key_count_with_keyed_ones(
    clone_platform, api, owner, docs, arrange
) -> None:
    """Chat stores each question's key; questions stored before it did (arranged here
    without one) are keyed when counted, and count with the keyed ones."""
    clone = await trained_clone(api, docs)
    cid = clone["id"]
    thread = await api.thread(cid)
    asked = await api.ask(cid, thread["id"], MONGOLIA)
    assert asked["answer"]["unanswered"] is True
    stores = clone_platform.platform.ontology.scoped(owner.scope)
    question = await stores.things.get(UUID(asked["question"]["id"]))
    assert question.properties["question_key"] == "capital mongolia | what"
    [answered] = (await stores.events.list(type="message_answered")).items
    assert answered.payload["question_key"] == "capital mongolia | what"

    arranged = arrange(owner, cid)
    old_thread = await arranged.thread()
    for wording in ("what's the capital of MONGOLIA", "What is the capital of Mongolia?"):
        await arranged.exchange(old_thread, wording, unanswered=True)
    await arranged.exchange(old_thread, REFUND_QUESTION)

    body = await read(api, cid)
    assert [(q["question"], q["count"]) for q in body["top_questions"]] == [
        (MONGOLIA, 3),
        (REFUND_QUESTION, 1),
    ]
    assert [(g["question"], g["count"]) for g in body["content_gaps"]] == [(MONGOLIA, 3)]


async def test_an_empty_clone(api) -> None:
    clone = await api.clone("Ada")
    body = await read(api, clone["id"], days=7)
    assert body["days"] == 7
    assert {k: v for k, v in body.items() if k not in ("clone_id", "since", "until", "days")} == {
        "conversations": 0,
        "questions": 0,
        "answers": 0,
        "feedback": {"up": 0, "down": 0, "up_rate": None},
        "latency_ms": {"p50": None, "p95": None},
        "unanswered": 0,
        "unanswered_rate": None,
        "top_questions": [],
        "content_gaps": [],
    }
    assert await gaps_page(api, clone["id"]) == {"items": [], "next_cursor": None}


async def test_suggestions_name_the_source_that_mentions_the_question(
    api, owner, docs, arrange
) -> None:
    clone = await trained_clone(api, docs)
    cid = clone["id"]
    arranged = arrange(owner, cid)
    thread = await arranged.thread()
    await arranged.exchange(thread, "Do you accept bitcoin for refunds?", unanswered=True)
    await arranged.exchange(thread, "Are coaching calls recorded?", unanswered=True)
    await arranged.exchange(thread, "Hello?", unanswered=True)
    suggestions = {g["question"]: g["suggestion"] for g in (await read(api, cid))["content_gaps"]}
    assert suggestions == {
        "Do you accept bitcoin for refunds?": (
            'Your source "Refunds" mentions refunds but not accept or bitcoin, and does not '
            'answer "Do you accept bitcoin for refunds?": add the answer there (or a new page '
            "or document about accept, bitcoin and refunds), then retrain the clone."
        ),
        "Are coaching calls recorded?": (
            'Your source "Coaching" mentions coaching and calls but not recorded, and does not '
            'answer "Are coaching calls recorded?": add the answer there (or a new page or '
            "document about coaching, calls and recorded), then retrain the clone."
        ),
        "Hello?": (
            'Add a page or document that answers "Hello?" to this clone\'s sources, then '
            "retrain it."
        ),
    }
    # without sources
    bare = await api.clone("Bea")
    lonely = arrange(owner, bare["id"])
    await lonely.exchange(await lonely.thread(), "Do you ship to Canada?", unanswered=True)
    [gap] = (await read(api, bare["id"]))["content_gaps"]
    assert gap["suggestion"] == (
        "This clone has no sources yet: add a page or document about ship and Canada that "
        'answers "Do you ship to Canada?", then train it.'
    )


async def test_content_gap_pages(api, owner, arrange) -> None:
    clone = await api.clone("Ada")
    cid = clone["id"]
    arranged = arrange(owner, cid)
    thread = await arranged.thread()
    asked = {f"Do you sell item {n}?": 1 + n % 3 for n in range(12)}
    for question, times in asked.items():
        for _ in range(times):
            await arranged.exchange(thread, question, unanswered=True)
    await arranged.exchange(thread, "Do you sell item 0?")  # answered: not a gap

    seen: list[dict[str, Any]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 5}
        if cursor is not None:
            params["cursor"] = cursor
        page = await gaps_page(api, cid, **params)
        assert len(page["items"]) <= 5
        seen += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 12
    assert {g["question"]: g["count"] for g in seen} == asked
    order = [(-g["count"], datetime.fromisoformat(g["last_asked"])) for g in seen]
    assert [c for c, _ in order] == sorted(c for c, _ in order)  # most asked first
    for (count, at), (next_count, next_at) in itertools.pairwise(order):
        if count == next_count:
            assert at >= next_at  # then the most recently asked
    summary = await read(api, cid)
    assert summary["content_gaps"] == seen[:10]
    assert summary["unanswered"] == sum(asked.values())


async def test_tenancy(clone_platform, owner, api, api_for, arrange) -> None:
    ours, sibling = await api.clone("Ada"), await api.clone("Bea")
    other_owner = await clone_platform.tenant(name="Other Studio")
    other = api_for(other_owner)
    theirs = await other.clone("Ada")
    for tenant, clone, times in ((owner, ours, 2), (other_owner, theirs, 3)):
        arranged = arrange(tenant, clone["id"])
        thread = await arranged.thread()
        for _ in range(times):
            await arranged.exchange(thread, MONGOLIA, unanswered=True, feedback="down")

    mine = await read(api, ours["id"])
    assert (mine["questions"], mine["unanswered"], mine["feedback"]["down"]) == (2, 2, 2)
    assert mine["content_gaps"][0]["count"] == 2
    assert (await read(other, theirs["id"]))["questions"] == 3
    untouched = await read(api, sibling["id"])  # another clone of the same group
    assert (untouched["questions"], untouched["content_gaps"]) == (0, [])

    # another group's clone through our group, and our group by another creator: 404
    for path in ("/analytics", "/content-gaps"):
        assert_problem(await api.client.get(api.url(theirs["id"], path)), 404)
        assert_problem(await other.client.get(api.url(ours["id"], path)), 404)


async def test_bad_input(api) -> None:
    clone = await api.clone("Ada")
    for days in ("0", "366", "999", "-1", "x"):
        r = await api.client.get(api.url(clone["id"], "/analytics"), params={"days": days})
        assert 400 <= r.status_code < 500, (days, r.status_code)
        assert_problem(r)
        r = await api.client.get(api.url(clone["id"], "/content-gaps"), params={"days": days})
        assert_problem(r)
        assert 400 <= r.status_code < 500
    for params in ({"limit": 0}, {"limit": 201}, {"cursor": "garbage"}, {"cursor": "W10"}):
        r = await api.client.get(api.url(clone["id"], "/content-gaps"), params=params)
        assert_problem(r, 400 if r.status_code == 400 else 422)
    for path in ("/analytics", "/content-gaps"):
        r = await api.client.get(api.base + f"/clones/not-a-uuid{path}")
        assert r.status_code in (400, 404)
        assert_problem(r)
        assert_problem(await api.client.get(api.url(str(UUID(int=7)), path)), 404)
    assert_problem(
        await api.client.get(f"/api/v1/clone/groups/nope/clones/{clone['id']}/analytics")
    )


async def test_roles(clone_platform, owner, api, api_for) -> None:
    clone = await api.clone("Ada")
    colleague = api_for(await clone_platform.member(owner, "org_user"))
    assert (await read(colleague, clone["id"]))["clone_id"] == clone["id"]
    customer = api_for(await clone_platform.member(owner, "customer"))
    for path in ("/analytics", "/content-gaps"):
        assert_problem(await customer.client.get(customer.url(clone["id"], path)), 403, "forbidden")
        assert_problem(await clone_platform.client.get(api.url(clone["id"], path)), 401)


async def test_the_routes_are_in_the_openapi_schema(clone_platform) -> None:
    r = await clone_platform.client.get("/schema/openapi.json")
    assert r.status_code == 200, r.text[:500]
    paths = r.json()["paths"]
    base = "/api/v1/clone/groups/{group_id}/clones/{clone_id}"
    assert {"get"} <= set(paths[base + "/analytics"])
    assert {"get"} <= set(paths[base + "/content-gaps"])

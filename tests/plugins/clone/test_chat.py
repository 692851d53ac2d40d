"""Chat: threads and messages; answers grounded in the clone's own sources with citations,
as JSON or server-sent events; "I don't know" without a model when nothing is relevant;
bounded history; provider failures; feedback; customers; other groups and other clones."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from plugins.clone.providers import Finished, TextDelta
from sdk import hookimpl
from sdk.testing import assert_problem

pytestmark = pytest.mark.creator_plugins("clone")

REFUND_QUESTION = "How many days do I have to ask for a refund?"
UNRELATED_QUESTION = "What is the capital of Mongolia?"


class SpyProvider:
    """An LLM provider that records its requests and answers, or fails, as told."""

    name = "spy"

    def __init__(self) -> None:
        self.requests: list[Any] = []
        self.fail: str | None = None

    async def stream(self, request: Any) -> AsyncIterator[Any]:
        self.requests.append(request)
        if self.fail == "start":
            raise ConnectionError("the model server is unreachable")
        yield TextDelta("The answer ")
        if self.fail == "midway":
            raise TimeoutError("the model timed out")
        index = request.passages[0].index
        yield TextDelta(f"is in [{index}].")
        yield Finished(cited=[index], model=request.model or "spy-1")


class SpyPlugin:
    def __init__(self) -> None:
        self.provider = SpyProvider()

    @hookimpl
    def register_llm_providers(self) -> list[object]:
        return [self.provider]


SPY = SpyPlugin()


@pytest.fixture
def spy() -> SpyProvider:
    SPY.provider.requests.clear()
    SPY.provider.fail = None
    return SPY.provider


async def trained_clone(api, docs, **body: Any) -> tuple[dict, dict, dict]:
    """A trained clone learning from the refunds and coaching documents."""
    clone = await api.clone("Ada", **body)
    refunds = await api.text(clone["id"], "Refunds", docs["refunds"])
    coaching = await api.text(clone["id"], "Coaching", docs["coaching"])
    assert (await api.train(clone["id"]))["clone"]["status"] == "active"
    return clone, refunds, coaching


async def test_an_answer_cites_the_right_source(api, owner, docs, events) -> None:
    clone, refunds, coaching = await trained_clone(api, docs)
    thread = await api.thread(clone["id"])
    assert thread["clone_id"] == clone["id"] and thread["visitor"] == str(owner.person.id)

    exchange = await api.ask(clone["id"], thread["id"], REFUND_QUESTION)
    question, answer = exchange["question"], exchange["answer"]
    assert question["role"] == "user" and question["content"] == REFUND_QUESTION
    assert answer["role"] == "assistant" and answer["content"]
    assert answer["unanswered"] is False and answer["provider"] == "offline"
    assert answer["latency_ms"] > 0 and answer["feedback"] is None
    assert answer["citations"] and answer["citations"][0]["source_id"] == refunds["id"]
    cited = answer["citations"][0]
    assert cited["title"] == "Refunds" and cited["knowledge_id"]
    assert len(cited["quote"]) <= 300 and cited["quote"] in docs["refunds"].replace("\n", " ")
    assert coaching["id"] not in {c["source_id"] for c in answer["citations"][:1]}

    coached = await api.ask(clone["id"], thread["id"], "On which days are coaching calls?")
    assert coached["answer"]["citations"][0]["source_id"] == coaching["id"]

    listed = await api.messages(clone["id"], thread["id"])
    assert [m["role"] for m in listed["items"]] == ["assistant", "user", "assistant", "user"]
    assert listed["items"][3] == question and listed["items"][2] == answer
    r = await api.client.get(api.thread_url(clone["id"], thread["id"]))
    assert r.json()["title"] == REFUND_QUESTION  # the first question names the thread
    answered = await events(owner, "message_answered")
    # (unanswered: false is the default, so it is left out)
    assert answered[-1]["payload"] == {
        "clone_id": clone["id"],
        "thread_id": thread["id"],
        "message_id": answer["id"],
        "latency_ms": answer["latency_ms"],
        "citations": len(answer["citations"]),
    }


SHOP = """Orders and delivery

Shipping: we ship every order within 3 working days by tracked post, and you get a \
tracking number by email.
Pickup is possible on Fridays between 2pm and 6pm at the workshop.
Returns are accepted within 14 days if the item is unused.
"""


async def test_a_citation_shows_the_sentences_that_answered(api) -> None:
    """The review's case: the pickup sentence answers "When can I pick up my order?" (not
    the shipping one that shares its words), and the citation quotes that sentence, not
    the passage's start, with the question's words marked."""
    clone = await api.clone("Ada")
    source = await api.text(clone["id"], "Orders", SHOP)
    assert (await api.train(clone["id"]))["clone"]["status"] == "active"
    thread = await api.thread(clone["id"])
    answer = (await api.ask(clone["id"], thread["id"], "When can I pick up my order?"))["answer"]
    assert answer["content"].startswith("Pickup is possible on Fridays between 2pm and 6pm")
    assert "tracked post" not in answer["content"]
    cited = answer["citations"][0]
    assert cited["source_id"] == source["id"] and cited["kind"] == "text"
    assert cited["quote"] == "Pickup is possible on Fridays between 2pm and 6pm at the workshop."
    assert [cited["quote"][a:b] for a, b in cited["marks"]] == ["Pickup"]
    assert "url" not in cited  # pasted text: only members see it, on the clone's pages


async def test_a_streamed_answer(api, docs, sse) -> None:
    clone, refunds, _ = await trained_clone(api, docs)
    thread = await api.thread(clone["id"], title="Questions")
    for kwargs in ({"params": {"stream": "true"}}, {"headers": {"Accept": "text/event-stream"}}):
        r = await api.client.post(
            api.thread_url(clone["id"], thread["id"], "/messages"),
            json={"content": REFUND_QUESTION},
            **kwargs,
        )
        assert r.status_code == 200, r.text
        assert r.headers["content-type"].startswith("text/event-stream")
        events = sse(r.text)
        names = [name for name, _ in events]
        assert names[0] == "question" and names[-1] == "done"
        assert set(names[1:-1]) == {"delta"} and len(names) >= 3
        assert events[0][1]["content"] == REFUND_QUESTION and events[0][1]["role"] == "user"
        done = events[-1][1]
        deltas = "".join(data["text"] for name, data in events if name == "delta")
        assert deltas.strip() == done["content"]
        assert done["role"] == "assistant" and done["citations"][0]["source_id"] == refunds["id"]
    listed = await api.messages(clone["id"], thread["id"])
    assert [m["role"] for m in listed["items"]] == ["assistant", "user"] * 2
    assert listed["items"][0]["id"] == done["id"]
    assert (await api.client.get(api.thread_url(clone["id"], thread["id"]))).json()[
        "title"
    ] == "Questions"


@pytest.mark.creator_plugins("clone", extra={"spy": SPY})
async def test_unrelated_questions_are_content_gaps(api, owner, docs, spy, events, sse) -> None:
    clone, _, _ = await trained_clone(api, docs, provider="spy")
    thread = await api.thread(clone["id"])
    answer = (await api.ask(clone["id"], thread["id"], UNRELATED_QUESTION))["answer"]
    assert answer["content"].startswith("I don't know")
    assert answer["unanswered"] is True and answer["citations"] == []
    assert spy.requests == []  # no model was asked
    gap = (await events(owner, "message_answered"))[0]["payload"]
    assert gap["unanswered"] is True and gap["question"] == UNRELATED_QUESTION
    assert gap["citations"] == 0 and gap["message_id"] == answer["id"]

    r = await api.client.post(
        api.thread_url(clone["id"], thread["id"], "/messages"),
        json={"content": UNRELATED_QUESTION},
        params={"stream": "true"},
    )
    streamed = sse(r.text)
    assert [name for name, _ in streamed] == ["question", "delta", "done"]
    assert streamed[-1][1]["unanswered"] is True and spy.requests == []

    related = (await api.ask(clone["id"], thread["id"], REFUND_QUESTION))["answer"]
    assert related["unanswered"] is False and related["provider"] == "spy"
    assert related["content"] == "The answer is in [1]." and len(spy.requests) == 1


@pytest.mark.creator_plugins("clone", extra={"spy": SPY})
@pytest.mark.clone_settings(plugin_settings={"clone": {"history_tokens": 40}})
async def test_hook_register_llm_providers(api, docs, spy) -> None:
    clone, _, _ = await trained_clone(
        api,
        docs,
        provider="spy",
        model="spy-large",
        temperature=0.9,
        system_prompt="Answer like a patient teacher.",
    )
    thread = await api.thread(clone["id"])
    asked = [
        "Can I get a refund for a course I bought?",
        "Is the refund for all my money?",
        "Where do I write for a refund?",
        "Do I need my order number for the refund?",
    ]
    for question in asked:
        answer = (await api.ask(clone["id"], thread["id"], question))["answer"]
        assert answer["model"] == "spy-large"
    first, last = spy.requests[0], spy.requests[-1]
    assert first.history == [] and first.question == asked[0]
    assert last.system_prompt == "Answer like a patient teacher."
    assert last.model == "spy-large" and last.temperature == 0.9
    assert last.tools == () or list(last.tools) == []  # tools come later
    assert last.passages and last.passages[0].title == "Refunds"
    history = [(m.role, m.content) for m in last.history]
    # newest turns only, oldest first, within ~40 tokens (1.3 per word)
    assert history[-2:] == [("user", asked[2]), ("assistant", "The answer is in [1].")]
    assert ("user", asked[0]) not in history
    assert sum(len(content.split()) * 1.3 for _, content in history) <= 40


@pytest.mark.creator_plugins("clone", extra={"spy": SPY})
async def test_a_failing_model_is_a_502_and_the_question_stays(api, docs, spy, sse):
    clone, _, _ = await trained_clone(api, docs, provider="spy")
    thread = await api.thread(clone["id"])
    url = api.thread_url(clone["id"], thread["id"], "/messages")
    spy.fail = "start"
    body = assert_problem(await api.client.post(url, json={"content": REFUND_QUESTION}), 502)
    assert body["code"] == "llm_unavailable" and body["provider"] == "spy"
    assert "spy" in body["detail"] and "kept" in body["detail"]
    assert "unreachable" in body["detail"]
    r = await api.client.post(url, json={"content": REFUND_QUESTION}, params={"stream": "true"})
    assert_problem(r, 502, "llm_unavailable")  # before the stream starts: a plain problem
    listed = await api.messages(clone["id"], thread["id"])
    assert [m["role"] for m in listed["items"]] == ["user", "user"]

    spy.fail = "midway"
    assert_problem(await api.client.post(url, json={"content": REFUND_QUESTION}), 502)
    r = await api.client.post(url, json={"content": REFUND_QUESTION}, params={"stream": "true"})
    assert r.status_code == 200
    streamed = sse(r.text)
    assert [name for name, _ in streamed] == ["question", "delta", "error"]
    assert streamed[-1][1]["code"] == "llm_unavailable" and streamed[-1][1]["status"] == 502
    listed = await api.messages(clone["id"], thread["id"])
    assert [m["role"] for m in listed["items"]] == ["user"] * 4

    spy.fail = None
    assert (await api.ask(clone["id"], thread["id"], REFUND_QUESTION))["answer"]["content"]


async def test_feedback(api, owner, docs, events) -> None:
    clone, _, _ = await trained_clone(api, docs)
    thread = await api.thread(clone["id"])
    exchange = await api.ask(clone["id"], thread["id"], REFUND_QUESTION)
    answer_id = exchange["answer"]["id"]
    url = api.thread_url(clone["id"], thread["id"], f"/messages/{answer_id}/feedback")
    r = await api.client.post(url, json={"feedback": "up"})
    assert r.status_code == 200 and r.json()["feedback"] == "up"
    r = await api.client.post(url, json={"feedback": "down"})
    assert r.json()["feedback"] == "down"
    given = await events(owner, "feedback_given", answer_id)
    assert [e["payload"]["feedback"] for e in given] == ["down", "up"]
    assert given[0]["payload"] == {
        "clone_id": clone["id"],
        "message_id": answer_id,
        "feedback": "down",
    }
    for body in ({"feedback": "meh"}, {}, {"feedback": "up", "x": 1}):
        assert_problem(await api.client.post(url, json=body), 422)
    question_url = api.thread_url(
        clone["id"], thread["id"], f"/messages/{exchange['question']['id']}/feedback"
    )
    assert_problem(await api.client.post(question_url, json={"feedback": "up"}), 422)
    other = await api.thread(clone["id"])
    r = await api.client.post(
        api.thread_url(clone["id"], other["id"], f"/messages/{answer_id}/feedback"),
        json={"feedback": "up"},
    )
    assert_problem(r, 404)
    r = await api.client.post(
        api.thread_url(clone["id"], thread["id"], f"/messages/{thread['id']}/feedback"),
        json={"feedback": "up"},
    )
    assert_problem(r, 404)


async def test_bad_messages(api, docs) -> None:
    clone, _, _ = await trained_clone(api, docs)
    thread = await api.thread(clone["id"])
    url = api.thread_url(clone["id"], thread["id"], "/messages")
    for body in (
        {},
        {"content": ""},
        {"content": "   "},
        {"content": "x" * 4001},
        {"content": 1},
        {"content": "hi", "role": "assistant"},
    ):
        assert_problem(await api.client.post(url, json=body), 422)
    assert_problem(await api.client.post(url, json={"content": "hi"}, params={"stream": "maybe"}))
    assert_problem(
        await api.client.post(api.url(clone["id"], "/threads"), json={"title": "x" * 201})
    )
    other = await api.clone("Bea")
    r = await api.client.post(
        api.thread_url(other["id"], thread["id"], "/messages"), json={"content": "hi"}
    )
    assert_problem(r, 404)  # a thread of another clone
    assert (await api.messages(clone["id"], thread["id"]))["items"] == []
    r = await api.client.get(
        api.thread_url(clone["id"], thread["id"], "/messages"), params={"cursor": "nonsense"}
    )
    assert_problem(r, 422)


async def test_message_pages(api, docs) -> None:
    clone, _, _ = await trained_clone(api, docs)
    thread = await api.thread(clone["id"])
    for question in (REFUND_QUESTION, "When are coaching calls?", UNRELATED_QUESTION):
        await api.ask(clone["id"], thread["id"], question)
    first = await api.messages(clone["id"], thread["id"], limit=4)
    assert len(first["items"]) == 4 and first["next_cursor"]
    rest = await api.messages(clone["id"], thread["id"], limit=4, cursor=first["next_cursor"])
    assert len(rest["items"]) == 2 and rest.get("next_cursor") is None
    ids = [m["id"] for m in first["items"] + rest["items"]]
    assert len(set(ids)) == 6 and rest["items"][-1]["content"] == REFUND_QUESTION
    threads = (await api.client.get(api.url(clone["id"], "/threads"))).json()
    assert [t["id"] for t in threads["items"]] == [thread["id"]]
    r = await api.client.post(api.url(clone["id"], "/threads"))  # no body at all
    assert r.status_code == 201 and r.json()["title"] == ""


async def test_each_clone_knows_only_its_own_sources(api, docs) -> None:
    refunds_clone = await api.clone("Refunds desk")
    refunds = await api.text(refunds_clone["id"], "Refunds", docs["refunds"])
    coaching_clone = await api.clone("Coach")
    coaching = await api.text(coaching_clone["id"], "Coaching", docs["coaching"])
    empty_clone = await api.clone("Empty")
    for clone in (refunds_clone, coaching_clone):
        await api.train(clone["id"])

    thread = await api.thread(coaching_clone["id"])
    answer = (await api.ask(coaching_clone["id"], thread["id"], REFUND_QUESTION))["answer"]
    assert refunds["id"] not in {c["source_id"] for c in answer["citations"]}
    assert answer["unanswered"] is True
    coached = await api.ask(coaching_clone["id"], thread["id"], "When are coaching calls?")
    assert {c["source_id"] for c in coached["answer"]["citations"]} == {coaching["id"]}

    # a clone with no sources never searches the group's other knowledge
    thread = await api.thread(empty_clone["id"])
    answer = (await api.ask(empty_clone["id"], thread["id"], REFUND_QUESTION))["answer"]
    assert answer["unanswered"] is True and answer["citations"] == []


async def test_another_creator_never_reaches_this_knowledge(clone_platform, api, api_for) -> None:
    other = api_for(await clone_platform.tenant())
    ours, theirs = await api.clone("Ada"), await other.clone("Ada")
    our_price = await api.text(
        ours["id"], "Pricing", "The pottery course costs 100 euros, paid once."
    )
    their_price = await other.text(
        theirs["id"], "Pricing", "The pottery course costs 250 dollars a month."
    )
    await api.train(ours["id"])
    await other.train(theirs["id"])

    thread = await other.thread(theirs["id"])
    answer = await other.ask(theirs["id"], thread["id"], "How much does the pottery course cost?")
    cited = {c["source_id"] for c in answer["answer"]["citations"]}
    assert cited == {their_price["id"]}
    assert "100 euros" not in answer["answer"]["content"]
    assert our_price["id"] not in answer["answer"]["content"]

    our_thread = await api.thread(ours["id"])
    await api.ask(ours["id"], our_thread["id"], "How much does the pottery course cost?")
    for base_clone in (other.url(ours["id"]), api.url(ours["id"]), other.url(theirs["id"])):
        for method, path, body in (
            ("GET", f"/threads/{our_thread['id']}", None),
            ("GET", f"/threads/{our_thread['id']}/messages", None),
            ("POST", f"/threads/{our_thread['id']}/messages", {"content": "Prices?"}),
        ):
            r = await other.client.request(method, base_clone + path, json=body)
            assert_problem(r, 404, "not_found")
            assert "100 euros" not in r.text
    assert len((await api.messages(ours["id"], our_thread["id"]))["items"]) == 2


async def test_customers_chat_with_active_clones(clone_platform, owner, api, api_for, docs) -> None:
    clone, refunds, _ = await trained_clone(api, docs)
    draft = await api.clone("Draft")
    owners_thread = await api.thread(clone["id"])
    customer = api_for(await clone_platform.member(owner, "customer"))
    thread = await customer.thread(clone["id"])
    assert thread["visitor"] == str(customer.tenant.person.id)
    answer = (await customer.ask(clone["id"], thread["id"], REFUND_QUESTION))["answer"]
    assert answer["citations"][0]["source_id"] == refunds["id"]
    mine = (await customer.client.get(customer.url(clone["id"], "/threads"))).json()["items"]
    assert [t["id"] for t in mine] == [thread["id"]]
    for path in (f"/threads/{owners_thread['id']}", f"/threads/{owners_thread['id']}/messages"):
        assert_problem(await customer.client.get(customer.url(clone["id"], path)), 404)
    assert_problem(await customer.client.post(customer.url(draft["id"], "/threads"), json={}), 404)
    assert_problem(await customer.client.get(customer.url(clone["id"], "/sources")), 403)
    # the creator sees every conversation
    everyone = (await api.client.get(api.url(clone["id"], "/threads"))).json()["items"]
    assert {t["id"] for t in everyone} == {thread["id"], owners_thread["id"]}
    assert len((await api.messages(clone["id"], thread["id"]))["items"]) == 2


OPENAI = {"openai_base_url": "http://127.0.0.1:9/v1", "openai_model": "m1", "openai_max_retries": 0}


@pytest.mark.clone_settings(plugin_settings={"clone": OPENAI})
async def test_an_unreachable_openai_server_is_a_clear_502(clone_platform, api, docs) -> None:
    openai = clone_platform.app.state.clone.providers["openai"]
    assert openai.base_url == "http://127.0.0.1:9/v1" and openai.default_model == "m1"
    assert openai.max_retries == 0 and openai.timeout == 60
    clone, _, _ = await trained_clone(api, docs, provider="openai")
    thread = await api.thread(clone["id"])
    r = await api.client.post(
        api.thread_url(clone["id"], thread["id"], "/messages"), json={"content": REFUND_QUESTION}
    )
    body = assert_problem(r, 502, "llm_unavailable")
    assert "could not reach the LLM API at http://127.0.0.1:9/v1" in body["detail"]
    assert body["provider"] == "openai"
    listed = await api.messages(clone["id"], thread["id"])
    assert [m["content"] for m in listed["items"]] == [REFUND_QUESTION]


@pytest.mark.clone_settings(plugin_settings={"clone": {"allowed_providers": ["offline"]}})
async def test_a_clone_whose_provider_is_no_longer_allowed_answers_with_the_default(
    api, owner, docs, clone_platform
) -> None:
    """Saved before the operator narrowed the list (here: written straight to the store),
    the clone keeps answering, with the operator's default provider and model."""
    clone, _, _ = await trained_clone(api, docs)
    stores = clone_platform.ontology(owner)
    await stores.things.update(
        uuid.UUID(clone["id"]), properties={"provider": "openai", "model": "gpt-5-max"}
    )
    thread = await api.thread(clone["id"])
    answer = (await api.ask(clone["id"], thread["id"], REFUND_QUESTION))["answer"]
    assert answer["provider"] == "offline" and "30 days" in answer["content"]

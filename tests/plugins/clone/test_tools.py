"""Tools: offered to providers that call them, validated against their schema, run with
the asker's scope (never the creator's), kept on the answer and logged as events; absent
plugins mean absent tools."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any
from uuid import UUID

import msgspec
import pytest

from plugins.clone.providers import Finished, TextDelta, ToolRequest
from plugins.clone.tools import BUILTIN_TOOLS, CloneTool, ToolContext, run_tool
from sdk import ThingType, hookimpl
from sdk.testing import assert_problem

REFUND_QUESTION = "How many days do I have to ask for a refund?"


class ScriptedProvider:
    """A tool-calling LLM provider: asks for the calls in ``script`` (one round each),
    then answers with what the tools returned."""

    name = "scripted"
    supports_tools = True

    def __init__(self) -> None:
        self.requests: list[Any] = []
        self.script: list[list[tuple[str, str]]] = []

    async def stream(self, request: Any) -> AsyncIterator[Any]:
        self.requests.append(request)
        rounds = sum(1 for m in request.history if m.role == "assistant" and m.tool_calls)
        if rounds < len(self.script):
            yield TextDelta("Let me check. ")
            for number, (name, arguments) in enumerate(self.script[rounds]):
                yield ToolRequest(id=f"call_{rounds}_{number}", name=name, arguments=arguments)
            yield Finished(model="scripted-1")
            return
        results = [m.content for m in request.history if m.role == "tool"]
        cited = [request.passages[0].index] if request.passages else []
        yield TextDelta(f"Tools said: {' | '.join(results)}")
        yield Finished(cited=cited, model="scripted-1")


class ProductProps(msgspec.Struct, forbid_unknown_fields=True):
    price: str = ""
    description: str = ""


class Shop:
    """Stands in for the business plugin: it registers products."""

    @hookimpl
    def register_thing_types(self) -> list[ThingType]:
        return [ThingType("product", ProductProps, "A product", statuses=("draft", "published"))]


class SourceCountArgs(msgspec.Struct, forbid_unknown_fields=True):
    prefix: str = ""


async def count_threads(ctx: ToolContext, args: SourceCountArgs) -> dict[str, Any]:
    found = await ctx.stores.things.list(type="ai_thread", limit=50)
    if args.prefix == "huge":
        return {"blob": "x" * 50_000}
    return {
        "threads": len(found.items),
        "prefix": args.prefix,
        "visitor": ctx.visitor,
        "role": ctx.scope.role,
    }


class Extra:
    """A third party's tool."""

    def __init__(self) -> None:
        self.provider = ScriptedProvider()

    @hookimpl
    def register_llm_providers(self) -> list[object]:
        return [self.provider]

    @hookimpl
    def register_clone_tools(self) -> list[CloneTool]:
        return [
            CloneTool("count_threads", "How many conversations", SourceCountArgs, count_threads)
        ]


EXTRA = Extra()


@pytest.fixture
def scripted() -> ScriptedProvider:
    EXTRA.provider.requests.clear()
    EXTRA.provider.script = []
    return EXTRA.provider


async def trained(api, docs) -> dict:
    clone = await api.clone("Ada", provider="scripted")
    await api.text(clone["id"], "Refunds", docs["refunds"])
    assert (await api.train(clone["id"]))["clone"]["status"] == "active"
    return clone


@pytest.mark.creator_plugins("clone", extra={"extra": EXTRA})
async def test_hook_register_clone_tools(api, owner, docs, scripted, events) -> None:
    clone = await trained(api, docs)
    scripted.script = [[("count_threads", json.dumps({"prefix": "x"}))]]
    thread = await api.thread(clone["id"])
    answer = (await api.ask(clone["id"], thread["id"], REFUND_QUESTION))["answer"]

    offered = {tool.name for tool in scripted.requests[0].tools}
    # the clone plugin's own lead tool, the third party's; no product/course/schedule
    # tools, since no plugin registers those types here
    assert offered == {"create_lead", "count_threads"}
    schema = next(t for t in scripted.requests[0].tools if t.name == "count_threads").parameters
    assert schema["type"] == "object" and "prefix" in schema["properties"]
    assert "$ref" not in schema

    (call,) = answer["tool_calls"]
    assert call["name"] == "count_threads" and call["arguments"] == {"prefix": "x"}
    assert call["result"] == {
        "threads": 1,
        "prefix": "x",
        "visitor": str(owner.person.id),
        "role": "org_owner",
    }
    assert answer["content"].startswith('Let me check. Tools said: {"result"')
    assert answer["unanswered"] is False and answer["citations"]
    second = scripted.requests[1]
    assert [m.role for m in second.history[-2:]] == ["assistant", "tool"]
    assert second.history[-2].tool_calls[0]["name"] == "count_threads"

    (logged,) = await events(owner, "ai_tool_called")
    assert logged["payload"] == {
        "clone_id": clone["id"],
        "thread_id": thread["id"],
        "message_id": answer["id"],
        "tool": "count_threads",
        "ok": True,
    }
    listed = await api.messages(clone["id"], thread["id"])
    assert listed["items"][0]["tool_calls"] == answer["tool_calls"]


@pytest.mark.creator_plugins("clone", extra={"extra": EXTRA})
async def test_bad_calls_come_back_to_the_model_as_errors(api, owner, docs, scripted, events):
    clone = await trained(api, docs)
    scripted.script = [
        [
            ("count_threads", json.dumps({"prefix": 3})),
            ("count_threads", "{not json"),
            ("no_such_tool", "{}"),
            ("create_lead", json.dumps({"name": "Bo", "email": "not-an-email"})),
        ]
    ]
    thread = await api.thread(clone["id"])
    answer = (await api.ask(clone["id"], thread["id"], REFUND_QUESTION))["answer"]
    errors = [c["error"] for c in answer["tool_calls"]]
    assert errors[0].startswith("invalid arguments: Expected `str`, got `int`")
    assert errors[1] == "the arguments must be a JSON object"
    assert errors[2] == "there is no tool named 'no_such_tool'"
    assert "not an email address" in errors[3]
    assert all("result" not in c for c in answer["tool_calls"])
    told = [json.loads(m.content) for m in scripted.requests[1].history if m.role == "tool"]
    assert [t["error"] for t in told] == errors
    logged = await events(owner, "ai_tool_called")
    assert len(logged) == 4 and not any(e["payload"]["ok"] for e in logged)
    r = await owner.client.get(owner.url("/things"), params={"type": "lead"})
    assert r.json()["items"] == []


@pytest.mark.creator_plugins("clone", extra={"extra": EXTRA})
async def test_a_huge_result_is_cut_for_the_model_and_not_kept(api, docs, scripted) -> None:
    clone = await trained(api, docs)
    scripted.script = [[("count_threads", json.dumps({"prefix": "huge"}))]]
    thread = await api.thread(clone["id"])
    answer = (await api.ask(clone["id"], thread["id"], REFUND_QUESTION))["answer"]
    told = next(m.content for m in scripted.requests[1].history if m.role == "tool")
    assert 3900 < len(told) <= 4000 and told.endswith("(the result was cut here)")
    assert answer["tool_calls"][0]["result"] == {"too_large_to_keep": 50_011}


@pytest.mark.creator_plugins("clone", extra={"extra": EXTRA})
async def test_a_model_that_only_calls_tools_is_stopped(api, docs, scripted):
    clone = await trained(api, docs)
    scripted.script = [[("count_threads", "{}")]] * 10
    thread = await api.thread(clone["id"])
    url = api.thread_url(clone["id"], thread["id"], "/messages")
    body = assert_problem(await api.client.post(url, json={"content": REFUND_QUESTION}), 502)
    assert body["code"] == "llm_unavailable" and "kept asking for tools" in body["detail"]
    assert len(scripted.requests) == 4  # the question and three rounds of tools


@pytest.mark.creator_plugins("clone", extra={"extra": EXTRA})
async def test_create_lead_records_the_visitor_once(
    clone_platform, api, api_for, owner, docs, scripted, events
):
    clone = await trained(api, docs)
    customer = api_for(await clone_platform.member(owner, "customer"))
    lead = {"name": "Bo Diaz", "email": "Bo@Example.com", "interest": "private lessons"}
    scripted.script = [[("create_lead", json.dumps(lead))], [("create_lead", json.dumps(lead))]]
    thread = await customer.thread(clone["id"])
    answer = (await customer.ask(clone["id"], thread["id"], "Please contact me"))["answer"]
    first, again = answer["tool_calls"]
    assert first["result"]["status"] == "recorded"
    assert again["result"] == {"lead_id": first["result"]["lead_id"], "status": "already recorded"}

    r = await owner.client.get(owner.url("/things"), params={"type": "lead"})
    (stored,) = r.json()["items"]
    assert stored["name"] == "Bo Diaz" and stored["properties"] == {
        "email": "bo@example.com",
        "interest": "private lessons",
        "clone_id": clone["id"],
        "thread_id": thread["id"],
        "visitor": str(customer.tenant.person.id),
    }
    # no passages were relevant ("contact me"), but a tool answered: not a content gap
    assert answer["unanswered"] is False and answer["citations"] == []


@pytest.mark.creator_plugins("clone", extra={"extra": EXTRA, "shop": Shop()})
async def test_product_tool_reads_with_the_askers_scope(
    clone_platform, api, api_for, owner, docs, scripted
):
    clone = await trained(api, docs)
    for name, status in (("Glaze kit", "published"), ("Secret kiln", "draft")):
        r = await owner.client.post(
            owner.url("/things"),
            json={
                "type": "product",
                "name": name,
                "status": status,
                "properties": {"price": "40 EUR", "description": f"{name} for clay"},
            },
        )
        assert r.status_code == 201, r.text
    scripted.script = [[("get_product_info", json.dumps({"query": "kiln glaze kit"}))]]

    customer = api_for(await clone_platform.member(owner, "customer"))
    thread = await customer.thread(clone["id"])
    answer = (await customer.ask(clone["id"], thread["id"], REFUND_QUESTION))["answer"]
    assert "get_product_info" in {t.name for t in scripted.requests[0].tools}
    (call,) = answer["tool_calls"]
    assert [p["name"] for p in call["result"]["products"]] == ["Glaze kit"]  # no draft
    assert call["result"]["products"][0]["price"] == "40 EUR"

    scripted.requests.clear()
    thread = await api.thread(clone["id"])
    answer = (await api.ask(clone["id"], thread["id"], REFUND_QUESTION))["answer"]
    names = {p["name"] for p in answer["tool_calls"][0]["result"]["products"]}
    assert names == {"Glaze kit", "Secret kiln"}  # the owner may read drafts


@pytest.mark.creator_plugins("clone", extra={"extra": EXTRA})
async def test_tools_of_another_group_are_never_reached(
    clone_platform, api, api_for, docs, scripted
):
    clone = await trained(api, docs)
    other = api_for(await clone_platform.tenant(name="Other"))
    other_clone = await other.clone("Bea", provider="scripted")
    await other.text(other_clone["id"], "Refunds", "Refunds within 10 days of buying.")
    await other.train(other_clone["id"])
    await other.thread(other_clone["id"])
    await other.thread(other_clone["id"])
    scripted.script = [[("count_threads", "{}")]]
    thread = await api.thread(clone["id"])
    answer = (await api.ask(clone["id"], thread["id"], REFUND_QUESTION))["answer"]
    assert answer["tool_calls"][0]["result"]["threads"] == 1  # only this group's


async def test_the_offline_provider_records_a_lead_without_a_model(
    clone_platform, api, api_for, owner, docs, events
) -> None:
    clone = await api.clone("Ada")  # the default provider: offline
    await api.text(clone["id"], "Refunds", docs["refunds"])
    await api.train(clone["id"])
    customer = api_for(await clone_platform.member(owner, "customer"))
    thread = await customer.thread(clone["id"])
    asked = "I'm Bo Diaz, please contact me at bo@example.com about private lessons"
    answer = (await customer.ask(clone["id"], thread["id"], asked))["answer"]
    (call,) = answer["tool_calls"]
    assert call["name"] == "create_lead" and call["result"]["status"] == "recorded"
    assert call["arguments"]["name"] == "Bo Diaz"
    assert "passed your details on" in answer["content"]
    assert answer["unanswered"] is False and answer["provider"] == "offline"
    r = await owner.client.get(owner.url("/things"), params={"type": "lead"})
    assert [lead["properties"]["email"] for lead in r.json()["items"]] == ["bo@example.com"]
    assert [e["payload"]["tool"] for e in await events(owner, "ai_tool_called")] == ["create_lead"]

    # no cue for a tool and nothing relevant: still "I don't know", a content gap
    answer = (await customer.ask(clone["id"], thread["id"], "What is the capital of Mongolia?"))[
        "answer"
    ]
    assert answer["content"].startswith("I don't know") and answer["unanswered"] is True
    assert answer["tool_calls"] == []


async def test_concurrent_create_lead_calls_record_one_lead(
    clone_platform, api, api_for, owner, docs
) -> None:
    """Two tabs of one conversation (or a model repeating itself) asking at once: the
    check and the create run under one lock, so exactly one lead is recorded."""
    clone = await api.clone("Ada")
    await api.text(clone["id"], "Refunds", docs["refunds"])
    await api.train(clone["id"])
    customer = await clone_platform.member(owner, "customer")
    thread = await api_for(customer).thread(clone["id"])
    scope = customer.scope
    stores = clone_platform.ontology(scope)
    clone_thing = await stores.things.get(UUID(clone["id"]))
    thread_thing = await stores.things.get(UUID(thread["id"]))
    tool = next(t for t in BUILTIN_TOOLS if t.name == "create_lead")

    def ctx() -> ToolContext:  # each call its own stores, as each answer has
        return ToolContext(
            platform=clone_platform.platform,
            scope=scope,
            stores=clone_platform.ontology(scope),
            clone=clone_thing,
            thread=thread_thing,
            visitor=str(customer.person.id),
        )

    emails = ["bo@example.com", "BO@example.com", " bo@Example.com"] * 4
    calls = await asyncio.gather(
        *(
            run_tool(tool, "create_lead", json.dumps({"name": "Bo", "email": e}), ctx())
            for e in emails
        )
    )
    assert all(c.error is None for c in calls), [c.error for c in calls]
    statuses = sorted(c.result["status"] for c in calls)
    assert statuses == ["already recorded"] * (len(emails) - 1) + ["recorded"]
    assert len({c.result["lead_id"] for c in calls}) == 1

    # another address, at the same time as a repeat of the first: a second lead only
    more = await asyncio.gather(
        *(
            run_tool(tool, "create_lead", json.dumps({"name": "Cy", "email": e}), ctx())
            for e in ["cy@example.com", "cy@example.com", "bo@example.com"]
        )
    )
    assert [c.result["status"] for c in more].count("recorded") == 1
    r = await owner.client.get(owner.url("/things"), params={"type": "lead"})
    assert sorted(lead["properties"]["email"] for lead in r.json()["items"]) == [
        "bo@example.com",
        "cy@example.com",
    ]

"""The offline provider's tool use: intent from plain cues, results in words."""

from __future__ import annotations

import json

from plugins.clone.offline_tools import describe, tool_calls
from plugins.clone.providers import ChatMessage, ToolSpec

TOOLS = [
    ToolSpec(n, "", {})
    for n in ("create_lead", "get_product_info", "get_course_info", "get_schedule")
]


def calls(question: str, tools: list[ToolSpec] = TOOLS) -> dict[str, dict]:
    return {c.name: json.loads(c.arguments) for c in tool_calls(question, tools)}


def test_a_lead_needs_an_address_and_a_wish_to_be_contacted() -> None:
    found = calls("Hi, my name is Bo Diaz. Please contact me at bo@example.com about lessons")
    assert found["create_lead"] == {
        "name": "Bo Diaz",
        "email": "bo@example.com",
        "interest": "Hi, my name is Bo Diaz. Please contact me at about lessons",
    }
    assert calls("I'm Ana, email me: ana.r@mail.example")["create_lead"]["name"] == "Ana"
    assert calls("get in touch: kim@x.example")["create_lead"]["name"] == "kim"
    assert "create_lead" not in calls("Is bo@example.com your address?")
    assert "create_lead" not in calls("Please contact me")  # no address
    assert calls("contact me at bo@example.com", TOOLS[1:]) == {}  # not offered


def test_catalogue_tools_follow_the_question() -> None:
    assert calls("What kits do you sell?")["get_product_info"] == {"query": "kits sell", "limit": 5}
    assert set(calls("Which workshops and courses are there?")) == {"get_course_info"}
    assert set(calls("What is on the schedule next month?")) == {"get_schedule"}
    assert calls("How many days do I have for a refund?") == {}
    assert calls("What kits do you sell?", [TOOLS[0]]) == {}


def _round(name: str, content: dict) -> list[ChatMessage]:
    call = {"id": "c1", "name": name, "arguments": "{}"}
    return [
        ChatMessage("assistant", "", tool_calls=[call]),
        ChatMessage("tool", json.dumps(content), tool_call_id="c1"),
    ]


def test_results_in_words() -> None:
    products = {
        "result": {
            "products": [
                {"id": "1", "name": "Glaze kit", "price": "40 EUR", "description": "Six glazes"},
                {"id": "2", "name": "Clay", "secret": "x"},
            ],
            "count": 2,
        }
    }
    said = describe(_round("get_product_info", products))
    assert said == (
        "Here are the products I found:\n- Glaze kit — price: 40 EUR; description: Six glazes"
        "\n- Clay"
    )
    assert describe(_round("get_product_info", {"result": {"products": [], "count": 0}})) == ""
    assert "passed your details on" in describe(
        _round("create_lead", {"result": {"lead_id": "x", "status": "recorded"}})
    )
    assert describe(_round("create_lead", {"error": "not an email"})) == (
        "I couldn't look that up (not an email)."
    )
    assert describe([ChatMessage("user", "hi")]) == ""


def test_what_counts_as_answered_and_what_is_kept() -> None:
    from plugins.clone.tools import answered, kept
    from plugins.clone.types import ToolCall

    assert answered(ToolCall("t", result={"lead_id": "x", "status": "recorded"}))
    assert not answered(ToolCall("t", result={"products": [], "count": 0}))
    assert not answered(ToolCall("t", result={"x": 1}, error="boom"))
    assert not answered(ToolCall("t", result=None))
    big = kept(ToolCall("t", arguments={"q": "x" * 20_000}, result=[1]))
    assert big.arguments == {"too_large_to_keep": 20_008} and big.result == [1]

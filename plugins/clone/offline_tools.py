"""Tool use with no model: how the ``offline`` provider decides to call a clone's tools
and how it words their results.

It reads intent from plain cues of English questions, deterministically:

* ``create_lead``: the message holds an email address and asks to be contacted ("contact
  me", "get in touch", "call me back", "sign me up", ...). The name comes from "my name
  is …", "I'm …" or "this is …", else from the address; the interest is the message.
* ``get_product_info`` / ``get_course_info`` / ``get_schedule``: the question names what
  they cover (products, prices, buying; courses, classes, workshops; dates, schedule,
  upcoming events), searched with the question's own words.

A tool is called only when offered. What the tools return is worded as a short list
("Glaze kit — price: 40 EUR"), or a confirmation for a recorded lead; an error is said
plainly; an empty list says nothing (the passages, or "I don't know", answer instead).
A model does this better; this keeps every tool working offline.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from typing import Any

from plugins.clone.providers import ChatMessage, ToolRequest, ToolSpec

_EMAIL = re.compile(r"[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9.-]{1,190}\.[A-Za-z]{2,24}")
_CONTACT = re.compile(
    r"\b(contact|reach|get in touch|touch base|call me|email me|e-mail me|write to me|"
    r"write me|follow up|get back to me|sign me up|book me|reserve|interested|notify me|"
    r"let me know|send me)\b",
    re.IGNORECASE,
)
_NAME = re.compile(
    r"\b(?i:my name is|my name's|i am|i'm|this is|name:)\s+([A-Z][\w'-]+(?:\s+[A-Z][\w'-]+){0,2})"
)
_WORD = re.compile(r"[a-z0-9]+")
#: Words that say which catalogue a question is about (any one is enough).
CUES: dict[str, frozenset[str]] = {
    "get_product_info": frozenset(
        "product products sell sells selling buy buying purchase price prices shop store "
        "kit kits stock".split()
    ),
    "get_course_info": frozenset(
        "course courses class classes workshop workshops lesson lessons program programme "
        "curriculum enroll enrol enrolment enrollment module modules cohort".split()
    ),
    "get_schedule": frozenset(
        "schedule schedules upcoming calendar event events dates timetable".split()
    ),
}
_QUERY_STOP = frozenset(
    "a an the is are do does did you your i me my we our what which when where who how "
    "can could would will there any have has of for to in on at about with and or please "
    "tell know want like".split()
)
#: Items of one tool result worded in an answer.
MAX_ITEMS = 5
#: Properties worth saying about an item, in this order.
SAID = ("price", "starts_at", "ends_at", "location", "duration", "level", "description", "summary")


def tool_calls(question: str, tools: Sequence[ToolSpec]) -> list[ToolRequest]:
    """The calls the offline provider makes for ``question`` (empty: none fits)."""
    offered = {tool.name for tool in tools}
    calls: list[ToolRequest] = []
    email = _EMAIL.search(question)
    if "create_lead" in offered and email and _CONTACT.search(question):
        name_match = _NAME.search(question)
        name = name_match.group(1) if name_match else email.group(0).split("@")[0]
        interest = " ".join(question.replace(email.group(0), "").split())[:1000]
        arguments = {"name": name[:200], "email": email.group(0), "interest": interest}
        calls.append(ToolRequest(f"offline_{len(calls)}", "create_lead", json.dumps(arguments)))
    words = set(_WORD.findall(question.lower()))
    query = " ".join(w for w in _WORD.findall(question.lower()) if w not in _QUERY_STOP)
    for name, cues in CUES.items():
        if name in offered and words & cues:
            arguments = {"query": query[:200], "limit": MAX_ITEMS}
            calls.append(ToolRequest(f"offline_{len(calls)}", name, json.dumps(arguments)))
    return calls


def last_tool_round(history: Iterable[ChatMessage]) -> list[ChatMessage]:
    """The tool results at the end of ``history`` (the round the provider asked for)."""
    messages = list(history)
    results: list[ChatMessage] = []
    while messages and messages[-1].role == "tool":
        results.insert(0, messages.pop())
    return results


def _item(item: Any) -> str:
    if not isinstance(item, dict):
        return str(item)[:200]
    facts = []
    for key in SAID:
        value = item.get(key)
        if isinstance(value, str | int | float) and str(value).strip():
            text = " ".join(str(value).split())
            facts.append(f"{key.replace('_', ' ')}: {text[:160]}")
    name = str(item.get("name") or "").strip() or "(unnamed)"
    return name + (" — " + "; ".join(facts[:3]) if facts else "")


def words_for(call_name: str, content: str) -> str:
    """One tool result (``content``: ``{"result": ...}`` or ``{"error": ...}``) as a
    sentence or a short list."""
    try:
        body = json.loads(content)
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    if "error" in body:
        return f"I couldn't look that up ({body['error']})."
    result = body.get("result")
    if call_name == "create_lead" and isinstance(result, dict):
        return "Thank you, I've passed your details on: you'll be contacted soon."
    if isinstance(result, dict):
        for key in ("products", "courses", "events"):
            items = result.get(key)
            if isinstance(items, list):
                if not items:
                    return ""  # nothing matched: the passages (or "I don't know") answer
                listed = "\n".join(f"- {_item(i)}" for i in items[:MAX_ITEMS])
                return f"Here are the {key} I found:\n{listed}"
    return ""


def describe(history: Sequence[ChatMessage]) -> str:
    """What the last round of tool results says, in words (empty: nothing to say)."""
    results = last_tool_round(history)
    if not results:
        return ""
    names: dict[str, str] = {}
    for message in history:
        for call in message.tool_calls or ():
            function = call.get("function")
            fn = function if isinstance(function, dict) else call
            names[str(call.get("id", ""))] = str(fn.get("name", ""))
    parts = [words_for(names.get(m.tool_call_id or "", ""), m.content) for m in results]
    return "\n\n".join(p for p in parts if p)

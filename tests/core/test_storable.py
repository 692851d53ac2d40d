"""Text PostgreSQL cannot store (NUL, lone surrogates) is refused once, in core, for every
route: query and path parameters, headers and bodies answer 422 ``invalid_text`` naming
the field; a pasted document's field (``sdk.pasted_text``) is stripped instead, and the
answer says so."""

from __future__ import annotations

from typing import Any

import pytest
from litestar import get, post
from litestar.params import FromPath, JSONBody

import sdk
from core.storable import first_unstorable, strip_unstorable
from sdk.testing import CreatorPlatform, PlatformFactory, Tenant, assert_problem

PLUGIN = "storabletest"


class EchoPlugin:
    """Routes whose input reaches no check of their own: only the middleware stands
    between them and the database."""

    @sdk.hookimpl
    def register_routes(self) -> list[Any]:
        @get("/words/{word:str}", sync_to_thread=False)
        def word(word: FromPath[str]) -> dict[str, str]:
            return {"word": word}

        @post("/paste", opt=sdk.pasted_text("document"), sync_to_thread=False)
        def paste(data: JSONBody[dict[str, Any]]) -> dict[str, Any]:
            document, removed = sdk.strip_unstorable(data["document"])
            warnings = [sdk.stripped_warning(removed, "document")] if removed else []
            return {"document": document, "warnings": warnings}

        @get("/grouped", sync_to_thread=False)
        def grouped() -> None:
            # What a task group raises when one of its tasks refuses the input.
            raise ExceptionGroup("legs", [sdk.ValidationFailed("no", field="q")])

        return [sdk.api_router(PLUGIN, [word, paste, grouped])]


@pytest.fixture
async def echo_platform(creator_platform_factory: PlatformFactory) -> CreatorPlatform:
    return await creator_platform_factory(plugins=[PLUGIN], extra_plugins={PLUGIN: EchoPlugin()})


@pytest.fixture
async def echo_owner(echo_platform: CreatorPlatform) -> Tenant:
    return await echo_platform.tenant()


@pytest.mark.creator_plugins()
async def test_a_nul_in_the_search_question_is_refused_in_every_mode(
    creator_platform: CreatorPlatform,
) -> None:
    """The fuzz run's finding: ``?q=a%00b`` answered 500 (the hybrid search's full-text
    leg raised inside a task group)."""
    owner = await creator_platform.tenant()
    r = await owner.client.post(owner.url("/knowledge"), json={"text": "about refunds"})
    assert r.status_code == 201, r.text
    for mode in ("hybrid", "fulltext", "vector"):
        r = await owner.client.get(
            owner.url("/knowledge/search"), params={"q": "a\x00b", "mode": mode}
        )
        assert_problem(r, 422, "invalid_text", field="q")
    raw = await owner.client.get(owner.url("/knowledge/search?q=a%00b"))
    assert_problem(raw, 422, "invalid_text", field="q")


async def test_bodies_headers_and_parameters(echo_owner: Tenant) -> None:
    client = echo_owner.client
    r = await client.post(
        echo_owner.url("/things"),
        json={"type": "note", "name": "x", "properties": {"a": ["ok", "b\x00"]}},
    )
    assert_problem(r, 422, "invalid_text", field="properties.a[1]")
    r = await client.post(echo_owner.url("/things"), json={"type": "note", "name": "x\x00"})
    assert_problem(r, 422, "invalid_text", field="name")
    r = await client.get(echo_owner.url("/things"), headers={"X-Note": "a\x00b"})
    assert_problem(r, 422, "invalid_text", field="x-note")
    r = await client.get(echo_owner.url("/things"), params={"type": "note", "where.k": "\x00"})
    assert_problem(r, 422, "invalid_text", field="where.k")
    r = await client.get(f"/api/v1/{PLUGIN}/words/a%00b")
    assert_problem(r, 422, "invalid_text", field="word")
    assert (await client.get(f"/api/v1/{PLUGIN}/words/fine")).json() == {"word": "fine"}
    r = await client.post(
        "/api/v1/groups",
        content=b"slug=x&name=a%00b",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert_problem(r, 422, "invalid_text", field="name")
    # The text "\u0000" (an escaped backslash in JSON) is storable: not refused.
    r = await client.post("/api/v1/groups", json={"slug": "literal", "name": "\\u0000"})
    assert r.status_code == 201 and r.json()["name"] == "\\u0000", r.text


async def test_a_pasted_document_is_stripped_and_the_answer_says_so(
    echo_owner: Tenant,
) -> None:
    client = echo_owner.client
    r = await client.post(f"/api/v1/{PLUGIN}/paste", json={"document": "a\x00b\x00c"})
    assert r.status_code == 201, r.text
    assert r.json()["document"] == "abc"
    assert r.json()["warnings"] == [
        "2 characters that cannot be stored (NUL or lone surrogate) removed from document"
    ]
    # Only the named field: the others are still refused.
    r = await client.post(f"/api/v1/{PLUGIN}/paste", json={"document": "a", "title": "\x00"})
    assert_problem(r, 422, "invalid_text", field="title")


@pytest.mark.creator_plugins()
async def test_knowledge_ingest_strips_its_text_and_checks_the_rest(
    creator_platform: CreatorPlatform,
) -> None:
    owner = await creator_platform.tenant()
    r = await owner.client.post(owner.url("/knowledge"), json={"text": "refunds\x00 in 30 days"})
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["warnings"] == [
        "1 character that cannot be stored (NUL or lone surrogate) removed from text"
    ]
    assert body["items"][0]["text"] == "refunds in 30 days"
    r = await owner.client.post(owner.url("/knowledge"), json={"text": "x", "labels": ["\x00"]})
    assert_problem(r, 422, "invalid_text", field="labels[0]")
    r = await owner.client.post(owner.url("/knowledge"), json={"text": "\x00\x00"})
    assert_problem(r, 422, "validation_failed", field="text")


async def test_an_error_inside_a_task_group_keeps_its_answer(echo_owner: Tenant) -> None:
    r = await echo_owner.client.get(f"/api/v1/{PLUGIN}/grouped")
    assert_problem(r, 422, "validation_failed", field="q")


def test_strip_and_find() -> None:
    assert strip_unstorable("plain") == ("plain", 0)
    assert strip_unstorable("a\x00b\ud800c\udfffé") == ("abcé", 3)
    assert first_unstorable({"a": [{"b": "ok"}, {"c": "\ud83d"}]}) == "a[1].c"
    assert first_unstorable({"\x00": 1}) == "\x00"
    assert first_unstorable({"doc": "\x00", "n": 1}, allowed=("doc",)) is None
    assert first_unstorable({"doc": {"x": "\x00"}}, allowed=("doc",)) is None
    assert first_unstorable(["😀", 1, None, 2.5]) is None

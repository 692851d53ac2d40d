"""``/api/v1/groups/{group}/knowledge``: ingest, list, search, get, delete, who may do what,
and bad input answered as problem+json naming the field."""

from __future__ import annotations

import uuid

from sdk.testing import CreatorPlatform, Tenant, assert_problem

TEXT = (
    "Refund policy: email us within 30 days of purchase and we return your money in full."
    "\n\nHoodies and mugs ship from our warehouse in Lisbon within three business days."
)


async def test_ingest_list_search_get_delete(kplatform: CreatorPlatform, kowner: Tenant) -> None:
    thing = await kplatform.ontology(kowner).things.create("doc", name="FAQ")
    r = await kowner.client.post(
        kowner.url("/knowledge"),
        json={"text": TEXT, "thing_id": str(thing.id), "labels": ["faq"], "metadata": {"a": 1}},
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["thing_id"] == str(thing.id)
    assert body["created"] == body["embedded"] == len(body["items"]) == 1
    item = body["items"][0]
    assert item["embedding_model"] == "multilingual-e5-small-q4" and item["embedding_dim"] == 384
    assert item["metadata"]["labels"] == ["faq"] and item["metadata"]["a"] == 1
    assert "embedding" not in item

    other = await kowner.client.post(kowner.url("/knowledge"), json={"text": "Mugs are blue."})
    assert other.status_code == 201 and other.json()["thing_id"] is None

    listed = await kowner.client.get(kowner.url("/knowledge"), params={"limit": 1})
    assert listed.status_code == 200
    page = listed.json()
    assert [i["text"] for i in page["items"]] == ["Mugs are blue."]  # newest first
    nxt = await kowner.client.get(
        kowner.url("/knowledge"), params={"limit": 1, "cursor": page["next_cursor"]}
    )
    assert [i["id"] for i in nxt.json()["items"]] == [item["id"]]
    by_thing = await kowner.client.get(kowner.url("/knowledge"), params={"thing_id": thing.id})
    assert [i["id"] for i in by_thing.json()["items"]] == [item["id"]]

    for mode in ("hybrid", "vector", "fulltext"):
        r = await kowner.client.get(
            kowner.url("/knowledge/search"), params={"q": "refund money", "mode": mode}
        )
        assert r.status_code == 200, r.text
        found = r.json()
        assert found["mode"] == mode and found["query"] == "refund money"
        top = found["items"][0]
        assert top["knowledge_id"] == item["id"] and top["thing_id"] == str(thing.id)
        assert top["text"] == item["text"] and top["metadata"]["labels"] == ["faq"]
        assert isinstance(top["score"], float)
    r = await kowner.client.get(
        kowner.url("/knowledge/search"),
        params=[("q", "mugs"), ("label", "faq"), ("thing_id", str(thing.id)), ("limit", "5")],
    )
    assert [h["knowledge_id"] for h in r.json()["items"]] == [item["id"]]

    got = await kowner.client.get(kowner.url(f"/knowledge/{item['id']}"))
    assert got.status_code == 200 and got.json()["id"] == item["id"]
    gone = await kowner.client.delete(kowner.url(f"/knowledge/{item['id']}"))
    assert gone.status_code == 204
    again = await kowner.client.delete(kowner.url(f"/knowledge/{item['id']}"))
    assert again.status_code == 404


async def test_bad_input_names_the_field(kplatform: CreatorPlatform, kowner: Tenant) -> None:
    post_cases = [
        ({}, "text"),
        ({"text": ""}, "text"),
        ({"text": "  "}, "text"),
        ({"text": 5}, "text"),
        ({"text": "x", "thing_id": "nope"}, "thing_id"),
        ({"text": "x", "labels": "faq"}, "labels"),
        ({"text": "x", "labels": [""]}, "labels[0]"),
        ({"text": "x", "metadata": []}, "metadata"),
        ({"text": "x", "metadata": {"content_hash": "x"}}, "metadata.content_hash"),
        ({"text": "x", "colour": "red"}, "colour"),
    ]
    for body, field in post_cases:
        r = await kowner.client.post(kowner.url("/knowledge"), json=body)
        err = assert_problem(r, 422, "validation_failed")
        assert err.get("field") == field, (body, err)
    r = await kowner.client.post(
        kowner.url("/knowledge"), json={"text": "x", "thing_id": str(uuid.uuid4())}
    )
    assert_problem(r, 404, "not_found")

    search_cases = [
        ({}, "q"),
        ({"q": ""}, "q"),
        ({"q": "   "}, "q"),
        ({"q": "x", "mode": "semantic"}, "mode"),
        ({"q": "x", "limit": "0"}, "limit"),
        ({"q": "x", "limit": "101"}, "limit"),
        ({"q": "x", "limit": "ten"}, "limit"),
        ({"q": "x", "thing_id": "nope"}, "thing_id"),
    ]
    for params, field in search_cases:
        r = await kowner.client.get(kowner.url("/knowledge/search"), params=params)
        err = assert_problem(r, 422)
        assert err.get("field") == field, (params, err)
    r = await kowner.client.get(kowner.url("/knowledge"), params={"limit": 500})
    assert assert_problem(r, 422).get("field") == "limit"
    r = await kowner.client.get(kowner.url("/knowledge"), params={"cursor": "!!"})
    assert assert_problem(r, 422).get("field") == "cursor"
    r = await kowner.client.get(kowner.url(f"/knowledge/{uuid.uuid4()}"))
    assert_problem(r, 404, "not_found")


async def test_permissions_and_tenancy(kplatform: CreatorPlatform, kowner: Tenant):
    r = await kowner.client.post(kowner.url("/knowledge"), json={"text": "Secret recipe."})
    item = r.json()["items"][0]
    stranger = await kplatform.tenant()
    # another group's member: the group answers 404 or 403, never data
    r = await stranger.client.get(kowner.url("/knowledge/search"), params={"q": "recipe"})
    assert r.status_code in (403, 404)
    r = await stranger.client.get(stranger.url(f"/knowledge/{item['id']}"))
    assert_problem(r, 404)
    r = await stranger.client.delete(stranger.url(f"/knowledge/{item['id']}"))
    assert_problem(r, 404)
    r = await stranger.client.get(stranger.url("/knowledge/search"), params={"q": "recipe"})
    assert r.status_code == 200 and r.json()["items"] == []

    customer = await kplatform.member(kowner, "customer")
    r = await customer.client.get(kowner.url("/knowledge/search"), params={"q": "recipe"})
    assert_problem(r, 403, "forbidden")
    r = await customer.client.post(kowner.url("/knowledge"), json={"text": "x"})
    assert_problem(r, 403, "forbidden")
    user = await kplatform.member(kowner, "org_user")
    r = await user.client.get(kowner.url("/knowledge/search"), params={"q": "recipe"})
    assert r.status_code == 200 and r.json()["items"][0]["knowledge_id"] == item["id"]
    r = await kplatform.client.get(kowner.url("/knowledge"))
    assert_problem(r, 401)

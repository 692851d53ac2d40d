"""``/api/v1/groups/{group}/connections``: connect things, list by endpoint and type, end."""

from __future__ import annotations

import uuid

from sdk.testing import CreatorPlatform, Tenant, assert_problem


async def _thing(tenant: Tenant, type: str, name: str, **properties) -> str:
    if type == "product":
        properties.setdefault("sku", name)
    r = await tenant.client.post(
        tenant.url("/things"), json={"type": type, "name": name, "properties": properties}
    )
    assert r.status_code == 201, r.text
    return r.json()["id"]


async def _connect(tenant: Tenant, type: str, from_id: str, to_id: str, **metadata):
    body = {"type": type, "from_id": from_id, "to_id": to_id}
    if metadata:
        body["metadata"] = metadata
    return await tenant.client.post(tenant.url("/connections"), json=body)


async def test_create_get_and_list(owner: Tenant) -> None:
    summer = await _thing(owner, "collection", "Summer")
    mug = await _thing(owner, "product", "Mug")
    r = await _connect(owner, "contains", summer, mug, position=3)
    assert r.status_code == 201, r.text
    link = r.json()
    assert (link["type"], link["from_id"], link["to_id"]) == ("contains", summer, mug)
    assert link["metadata"] == {"position": 3}
    assert link["valid_to"] is None and link["group_id"] == str(owner.group.id)
    got = await owner.client.get(owner.url(f"/connections/{link['id']}"))
    assert got.status_code == 200 and got.json() == link
    # Metadata defaults are filled in.
    cap = await _thing(owner, "product", "Cap")
    assert (await _connect(owner, "contains", summer, cap)).json()["metadata"] == {"position": 0}


async def test_list_filters_and_pagination(owner: Tenant) -> None:
    summer = await _thing(owner, "collection", "Summer")
    products = [await _thing(owner, "product", f"p{i}") for i in range(5)]
    links = [(await _connect(owner, "contains", summer, p)).json()["id"] for p in products]
    related = (await _connect(owner, "related", products[0], products[1])).json()["id"]

    async def ids(**params) -> list[str]:
        r = await owner.client.get(owner.url("/connections"), params=params)
        assert r.status_code == 200, r.text
        return [c["id"] for c in r.json()["items"]]

    assert await ids(from_id=summer) == list(reversed(links))
    assert await ids(to_id=products[1]) == [related, links[1]]
    assert await ids(type="related") == [related]
    assert await ids(type="contains", from_id=summer, to_id=products[2]) == [links[2]]
    assert await ids(from_id=str(uuid.uuid4())) == []

    seen, cursor = [], None
    while True:
        params = {"limit": 2, "type": "contains"} | ({"cursor": cursor} if cursor else {})
        body = (await owner.client.get(owner.url("/connections"), params=params)).json()
        seen += [c["id"] for c in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(links))


async def test_end_a_connection(owner: Tenant) -> None:
    summer = await _thing(owner, "collection", "Summer")
    mug = await _thing(owner, "product", "Mug")
    link = (await _connect(owner, "contains", summer, mug)).json()
    url = owner.url(f"/connections/{link['id']}")
    r = await owner.client.delete(url)
    assert r.status_code == 204 and r.content == b""
    ended = (await owner.client.get(url)).json()  # history stays readable
    assert ended["valid_to"] is not None
    listed = (await owner.client.get(owner.url("/connections"))).json()
    assert listed["items"] == []
    listed = (
        await owner.client.get(owner.url("/connections"), params={"include_ended": "true"})
    ).json()
    assert [c["id"] for c in listed["items"]] == [link["id"]]
    assert_problem(await owner.client.delete(url), 404, "not_found")
    assert_problem(
        await owner.client.delete(owner.url(f"/connections/{uuid.uuid4()}")), 404, "not_found"
    )
    assert_problem(
        await owner.client.get(owner.url(f"/connections/{uuid.uuid4()}")), 404, "not_found"
    )
    # Once ended, the same pair may be connected again.
    assert (await _connect(owner, "contains", summer, mug)).status_code == 201


async def test_refusals(owner: Tenant) -> None:
    summer = await _thing(owner, "collection", "Summer")
    mug = await _thing(owner, "product", "Mug")
    note = await _thing(owner, "note", "n")
    assert (await _connect(owner, "contains", summer, mug)).status_code == 201

    err = assert_problem(await _connect(owner, "contains", summer, mug), 409, "conflict")
    assert "already exists" in err["detail"]
    err = assert_problem(await _connect(owner, "contains", mug, summer), 422, "validation_failed")
    assert err["field"] == "from_id"
    err = assert_problem(await _connect(owner, "contains", summer, note), 422, "validation_failed")
    assert err["field"] == "to_id"
    err = assert_problem(await _connect(owner, "likes", summer, mug), 422, "unknown_type")
    assert err["field"] == "type"
    err = assert_problem(await _connect(owner, "contains", summer, mug, rank=1), 422)
    assert err["field"] == "metadata.rank"
    err = assert_problem(await _connect(owner, "contains", summer, mug, position="top"), 422)
    assert err["field"] == "metadata.position"
    err = assert_problem(
        await _connect(owner, "contains", summer, str(uuid.uuid4())), 404, "not_found"
    )
    assert err["field"] == "to_id"
    err = assert_problem(await _connect(owner, "contains", "not-a-uuid", mug), 422)
    assert err["field"] == "from_id"
    listed = (await owner.client.get(owner.url("/connections"))).json()["items"]
    assert len(listed) == 1


async def test_deleting_a_thing_ends_its_connections(owner: Tenant) -> None:
    summer = await _thing(owner, "collection", "Summer")
    mug = await _thing(owner, "product", "Mug")
    cap = await _thing(owner, "product", "Cap")
    to_mug = (await _connect(owner, "contains", summer, mug)).json()["id"]
    from_mug = (await _connect(owner, "related", mug, cap)).json()["id"]
    to_cap = (await _connect(owner, "contains", summer, cap)).json()["id"]
    assert (await owner.client.delete(owner.url(f"/things/{mug}"))).status_code == 204
    live = (await owner.client.get(owner.url("/connections"))).json()["items"]
    assert [c["id"] for c in live] == [to_cap]
    for link in (to_mug, from_mug):
        body = (await owner.client.get(owner.url(f"/connections/{link}"))).json()
        assert body["valid_to"] is not None


async def test_roles_and_tenancy(typed_platform: CreatorPlatform, owner: Tenant) -> None:
    summer = await _thing(owner, "collection", "Summer")
    mug = await _thing(owner, "product", "Mug")
    cap = await _thing(owner, "product", "Cap")
    user = await typed_platform.member(owner, "org_user")
    customer = await typed_platform.member(owner, "customer")

    link = (await _connect(user, "contains", summer, mug)).json()  # an org_user may connect
    url = owner.url(f"/connections/{link['id']}")
    assert_problem(await _connect(customer, "contains", summer, cap), 403, "forbidden")
    assert_problem(await customer.client.get(owner.url("/connections")), 403, "forbidden")
    assert_problem(await customer.client.get(url), 403, "forbidden")
    assert_problem(await customer.client.delete(url), 403, "forbidden")

    other = await typed_platform.tenant()
    assert_problem(await other.client.get(url), 404, "not_found")
    assert_problem(
        await other.client.get(other.url(f"/connections/{link['id']}")), 404, "not_found"
    )
    assert_problem(await other.client.delete(other.url(f"/connections/{link['id']}")), 404)
    # Things of another group cannot be connected from one's own group.
    theirs = await _thing(other, "collection", "Theirs")
    err = assert_problem(await _connect(other, "contains", theirs, cap), 404, "not_found")
    assert err["field"] == "to_id"

    assert (await owner.client.get(url)).json()["valid_to"] is None
    assert (await user.client.delete(url)).status_code == 204


async def test_a_member_as_an_end(typed_platform: CreatorPlatform, owner: Tenant) -> None:
    """Connection types with a person's end (``bought``: a member to a product) work
    through the generic API, validated as the stores validate them."""
    mug = await _thing(owner, "product", "Mug")
    note = await _thing(owner, "note", "n")
    customer = await typed_platform.member(owner, "customer")
    buyer = str(customer.person.id)
    r = await _connect(owner, "bought", buyer, mug, price_cents=900)
    assert r.status_code == 201, r.text
    link = r.json()
    assert (link["from_id"], link["to_id"], link["metadata"]) == (
        buyer,
        mug,
        {"price_cents": 900},
    )
    listed = await owner.client.get(owner.url("/connections"), params={"from_id": buyer})
    assert [c["id"] for c in listed.json()["items"]] == [link["id"]]
    assert (await _connect(owner, "assigned", note, str(owner.person.id))).status_code == 201

    assert_problem(await _connect(owner, "bought", buyer, mug), 409, "conflict")
    err = assert_problem(await _connect(owner, "bought", note, mug), 422, "validation_failed")
    assert err["field"] == "from_id" and "person" in err["detail"]
    err = assert_problem(await _connect(owner, "bought", buyer, mug, price_cents="x"), 422)
    assert err["field"] == "metadata.price_cents"
    err = assert_problem(await _connect(owner, "made_by", mug, str(uuid.uuid4())), 404, "not_found")
    assert err["field"] == "to_id"


async def test_a_person_of_another_group_is_not_found(
    typed_platform: CreatorPlatform, owner: Tenant
) -> None:
    mug = await _thing(owner, "product", "Mug")
    other = await typed_platform.tenant()
    stranger = str(other.person.id)
    nobody = str(uuid.uuid4())
    answers = []
    for person in (stranger, nobody):
        err = assert_problem(await _connect(owner, "made_by", mug, person), 404, "not_found")
        assert err["field"] == "to_id"
        answers.append(err["detail"].replace(person, "<id>"))
    assert answers[0] == answers[1]  # another group's member reads as no one
    # Their group's connections to their own people stay theirs.
    theirs = await _thing(other, "product", "Theirs")
    link = (await _connect(other, "made_by", theirs, stranger)).json()
    listed = await owner.client.get(owner.url("/connections"), params={"to_id": stranger})
    assert listed.status_code == 200 and listed.json()["items"] == []
    assert_problem(
        await owner.client.get(owner.url(f"/connections/{link['id']}")), 404, "not_found"
    )
    listed = await other.client.get(other.url("/connections"), params={"to_id": stranger})
    assert [c["id"] for c in listed.json()["items"]] == [link["id"]]

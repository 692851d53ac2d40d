"""A role in a parent group applies to its sub-groups; not the other way round."""

import pytest

pytestmark = pytest.mark.creator_plugins()


async def test_roles_flow_down_to_sub_groups(creator_platform):
    owner = await creator_platform.tenant()
    sub = await owner.client.post(
        "/api/v1/groups",
        json={
            "slug": "course-one",
            "name": "Course",
            "kind": "product",
            "parent_id": str(owner.group.id),
        },
    )
    assert sub.status_code == 201, sub.text
    sub_id = sub.json()["id"]
    assert sub.json()["parent_id"] == str(owner.group.id)

    editor = await creator_platform.member(owner, "org_user")
    customer = await creator_platform.member(owner, "customer")
    # the parent's editor reads the sub-group; the customer may read the group but no things
    assert (await editor.client.get(f"/api/v1/groups/{sub_id}/things")).status_code == 200
    assert (await customer.client.get(f"/api/v1/groups/{sub_id}")).status_code == 200
    assert (await customer.client.get(f"/api/v1/groups/{sub_id}/things")).status_code == 403

    # a member of only the sub-group does not see the parent
    directory = creator_platform.platform.directory
    only_sub = await creator_platform.person()
    from uuid import UUID

    await directory.add_member(UUID(sub_id), only_sub[0].id, "org_owner")
    client = creator_platform.authed(only_sub[1])
    assert (await client.get(f"/api/v1/groups/{sub_id}")).status_code == 200
    assert (await client.get(f"/api/v1/groups/{owner.group.id}")).status_code == 404


async def test_nearest_membership_wins(creator_platform):
    owner = await creator_platform.tenant()
    sub = await owner.client.post(
        "/api/v1/groups", json={"slug": "audience", "name": "A", "parent_id": str(owner.group.id)}
    )
    sub_id = sub.json()["id"]
    person = await creator_platform.member(owner, "customer")
    from uuid import UUID

    await creator_platform.platform.directory.add_member(UUID(sub_id), person.person.id, "org_user")
    assert (await person.client.get(f"/api/v1/groups/{sub_id}/things")).status_code == 200
    assert (await person.client.get(f"/api/v1/groups/{owner.group.id}/things")).status_code == 403


async def test_a_sub_group_needs_ownership_of_the_parent(creator_platform):
    owner = await creator_platform.tenant()
    stranger = await creator_platform.tenant()
    refused = await stranger.client.post(
        "/api/v1/groups", json={"slug": "sneaky", "name": "S", "parent_id": str(owner.group.id)}
    )
    assert refused.status_code == 404


async def test_only_owners_add_sub_groups(creator_platform):
    owner = await creator_platform.tenant()
    editor = await creator_platform.member(owner, "org_user")
    refused = await editor.client.post(
        "/api/v1/groups", json={"slug": "by-editor", "name": "E", "parent_id": str(owner.group.id)}
    )
    assert refused.status_code == 403


async def test_listing_can_include_sub_groups(creator_platform_factory):
    import msgspec

    from sdk import ThingType, hookimpl

    class Props(msgspec.Struct):
        body: str = ""

    class Types:
        @hookimpl
        def register_thing_types(self):
            return [ThingType("memo", Props)]

    platform = await creator_platform_factory(plugins=[], extra_plugins={"memo": Types()})
    owner = await platform.tenant()
    sub = (
        await owner.client.post(
            "/api/v1/groups",
            json={"slug": "sub-one", "name": "S", "parent_id": str(owner.group.id)},
        )
    ).json()
    other = await platform.tenant()
    made = {}
    for tenant, path, name in (
        (owner, owner.url("/things"), "top"),
        (owner, f"/api/v1/groups/{sub['id']}/things", "below"),
        (other, other.url("/things"), "elsewhere"),
    ):
        response = await tenant.client.post(path, json={"type": "memo", "name": name})
        assert response.status_code == 201, response.text
        made[name] = response.json()["id"]
    plain = (await owner.client.get(owner.url("/things"))).json()["items"]
    assert [t["name"] for t in plain] == ["top"]
    deep = (await owner.client.get(owner.url("/things?include_subgroups=true"))).json()["items"]
    assert sorted(t["name"] for t in deep) == ["below", "top"]
    # from the sub-group, the parent's things are not included
    up = await owner.client.get(f"/api/v1/groups/{sub['id']}/things?include_subgroups=true")
    assert [t["name"] for t in up.json()["items"]] == ["below"]


async def test_customers_read_only_what_is_published(creator_platform_factory):
    import msgspec

    from sdk import ThingType, hookimpl

    class Props(msgspec.Struct):
        body: str = ""

    class Types:
        @hookimpl
        def register_thing_types(self):
            return [ThingType("article", Props, statuses=("draft", "published"))]

    platform = await creator_platform_factory(plugins=[], extra_plugins={"article": Types()})
    owner = await platform.tenant()
    store = platform.ontology(owner).things
    draft = await store.create("article", name="Draft")
    live = await store.create("article", name="Live", status="published")
    customer = await platform.member(owner, "customer")
    assert (await customer.client.get(owner.url(f"/things/{live.id}"))).status_code == 200
    assert (await customer.client.get(owner.url(f"/things/{draft.id}"))).status_code == 403
    listed = await customer.client.get(owner.url("/things?status=published"))
    assert [t["name"] for t in listed.json()["items"]] == ["Live"]
    assert (await customer.client.get(owner.url("/things"))).status_code == 403
    patch = await customer.client.patch(owner.url(f"/things/{live.id}"), json={"name": "Mine"})
    assert patch.status_code == 403


async def test_a_listing_across_sub_groups_checks_the_role_in_each(creator_platform_factory):
    """An org user of the organisation who is only a customer of one of its products (the
    nearest membership wins there) reads the organisation's drafts, and only the
    product's published things: ``include_subgroups`` re-checks the role in each group
    (a review found it applied the top group's role to the whole tree)."""
    from uuid import UUID

    import msgspec

    from sdk import ThingType, hookimpl

    class Props(msgspec.Struct):
        body: str = ""

    class Types:
        @hookimpl
        def register_thing_types(self):
            return [ThingType("article", Props, statuses=("draft", "published"))]

    platform = await creator_platform_factory(plugins=[], extra_plugins={"article": Types()})
    owner = await platform.tenant()
    product = (
        await owner.client.post(
            "/api/v1/groups",
            json={"slug": "product", "name": "P", "parent_id": str(owner.group.id)},
        )
    ).json()
    below = await product_child(owner, product["id"])
    for group_id, name, status in (
        (owner.group.id, "org draft", "draft"),
        (product["id"], "product draft", "draft"),
        (product["id"], "product live", "published"),
        (below, "deeper draft", "draft"),
    ):
        made = await owner.client.post(
            f"/api/v1/groups/{group_id}/things",
            json={"type": "article", "name": name, "status": status},
        )
        assert made.status_code == 201, made.text
    editor = await platform.member(owner, "org_user")
    await platform.platform.directory.add_member(UUID(product["id"]), editor.person.id, "customer")
    seen = await editor.client.get(editor.url("/things?include_subgroups=true"))
    assert seen.status_code == 200, seen.text
    # The deeper group inherits the product's customer role: its draft stays hidden too.
    assert sorted(t["name"] for t in seen.json()["items"]) == ["org draft"]
    published = await editor.client.get(
        editor.url("/things?include_subgroups=true&status=published")
    )
    assert [t["name"] for t in published.json()["items"]] == ["product live"]
    # The owner, owner everywhere below, still sees the whole tree.
    everything = await owner.client.get(owner.url("/things?include_subgroups=true"))
    assert len(everything.json()["items"]) == 4


async def product_child(owner, parent_id: str) -> str:
    child = await owner.client.post(
        "/api/v1/groups", json={"slug": "product-part", "name": "C", "parent_id": parent_id}
    )
    assert child.status_code == 201, child.text
    return child.json()["id"]

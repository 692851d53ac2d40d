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

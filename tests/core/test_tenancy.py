"""No route returns another group's data: every route of the assembled app, discovered from
the app itself (core and every installed plugin), is tried across tenants."""

import re
import uuid

import msgspec
import pytest

from sdk import ConnectionType, ThingType, hookimpl

SECRET = "tenant-a-secret-" + uuid.uuid4().hex


class Note(msgspec.Struct):
    body: str = ""


class TenancyTypes:
    @hookimpl
    def register_thing_types(self):
        return [ThingType("tenancy_note", Note)]

    @hookimpl
    def register_connection_types(self):
        return [ConnectionType("tenancy_link", ("tenancy_note",), ("tenancy_note",))]


PARAM = re.compile(r"\{(\w+)(?::(\w+))?\}")


def _routes(app):
    for route in app.routes:
        for method in sorted(getattr(route, "methods", ())):
            if method not in ("OPTIONS", "HEAD"):
                yield method, route.path


def _fill(path, values):
    def sub(match):
        name, kind = match.group(1), match.group(2)
        if name in values:
            return str(values[name])
        return str(values["thing_id"]) if kind == "uuid" else "x"

    return PARAM.sub(sub, path)


def _body_for(path):
    """A body that would succeed in the owner's own group, so only tenancy can refuse it."""
    if path.endswith("/things"):
        return {"type": "tenancy_note", "name": "intruder", "properties": {"body": "x"}}
    if path.endswith("/connections"):
        return {"type": "tenancy_link", "from_id": "{thing_id}", "to_id": "{thing2_id}"}
    if "{thing_id" in path:
        return {"name": "renamed by intruder"}
    return {}


def _query_for(path):
    """The query parameters a route requires (the search's question)."""
    return {"q": "secret"} if path.endswith("/knowledge/search") else None


@pytest.fixture
async def two_tenants(creator_platform_factory):
    platform = await creator_platform_factory(extra_plugins={"tenancy_types": TenancyTypes()})
    a = await platform.tenant()
    b = await platform.tenant()
    store = platform.ontology(a)
    thing = await store.things.create("tenancy_note", name=SECRET, properties={"body": SECRET})
    thing2 = await store.things.create("tenancy_note", name=SECRET + "2")
    link = await store.connections.create("tenancy_link", thing.id, thing2.id)
    event = (await store.events.list(limit=1)).items[0]
    token_id = (await platform.platform.directory.issue_token(a.person.id, SECRET))[0].id
    ids = {
        "thing_id": thing.id,
        "thing2_id": thing2.id,
        "connection_id": link.id,
        "event_id": event.id,
        "token_id": token_id,
    }
    return platform, a, b, ids


def _group_routes(app):
    return [(m, p) for m, p in _routes(app) if "{group_id" in p]


async def test_every_group_route_answers_404_or_403_for_another_groups_id(two_tenants):
    platform, a, b, ids = two_tenants
    routes = _group_routes(platform.app)
    assert len(routes) >= 10, routes  # the discovery found the API
    for method, path in routes:
        url = _fill(path, {**ids, "group_id": a.group.id})
        body = msgspec.json.decode(
            msgspec.json.encode(_body_for(path))
            .replace(b"{thing_id}", str(ids["thing_id"]).encode())
            .replace(b"{thing2_id}", str(ids["thing2_id"]).encode())
        )
        response = await b.client.request(
            method, url, json=body if method != "GET" else None, params=_query_for(path)
        )
        assert response.status_code in (403, 404), (method, url, response.status_code)
        assert SECRET not in response.text, (method, url)


async def test_own_group_with_another_groups_object_ids_is_404(two_tenants):
    platform, _, b, ids = two_tenants
    for method, path in _group_routes(platform.app):
        if not re.search(r"\{(thing|connection|event)_id", path):
            continue
        url = _fill(path, {**ids, "group_id": b.group.id})
        response = await b.client.request(
            method, url, json=_body_for(path) if method in ("PATCH", "PUT", "POST") else None
        )
        assert response.status_code == 404, (method, url, response.status_code, response.text)
        assert SECRET not in response.text


async def test_routes_outside_groups_never_show_another_persons_data(two_tenants):
    platform, a, b, ids = two_tenants
    for method, path in _routes(platform.app):
        if "{group_id" in path or path.startswith("/schema"):
            continue
        url = _fill(path, ids)
        response = await b.client.request(method, url, json={} if method != "GET" else None)
        assert SECRET not in response.text, (method, url)
        assert str(a.group.id) not in response.text, (method, url)
        if "{token_id" in path:  # another person's token is not found, not revoked
            assert response.status_code == 404


async def test_nothing_changed_in_tenant_a(two_tenants):
    platform, a, b, ids = two_tenants
    for method, path in _group_routes(platform.app):
        if method == "GET":
            continue
        url = _fill(path, {**ids, "group_id": a.group.id})
        await b.client.request(method, url, json=_body_for(path))
    store = platform.ontology(a)
    thing = await store.things.get(ids["thing_id"])
    assert thing.name == SECRET and thing.version == 1
    assert (await store.connections.get(ids["connection_id"])).valid_to is None
    assert [t.name for t in (await store.things.list()).items] == [SECRET + "2", SECRET]

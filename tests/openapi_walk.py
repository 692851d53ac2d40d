"""Walking the served OpenAPI document with real ids: what the schema-honesty and the
reliability tests share (both send generated requests to every documented route)."""

from __future__ import annotations

import io
import uuid
from typing import Any

import httpx
from PIL import Image

from sdk.testing import CreatorPlatform, Tenant


class Doc:
    def __init__(self, raw: dict[str, Any]) -> None:
        self.raw = raw
        self.components: dict[str, Any] = raw.get("components", {}).get("schemas", {})

    def resolve(self, node: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in node:
            node = self.components[node["$ref"].rsplit("/", 1)[-1]]
        return node

    def value_schema(self, node: dict[str, Any]) -> dict[str, Any] | None:
        """The one non-null schema a field's value must match (its ``oneOf`` branch with
        any constraint stated beside ``oneOf`` merged in); ``None`` for a real union."""
        node = self.resolve(node)
        branches = [self.resolve(b) for b in node.get("oneOf", node.get("anyOf", []))]
        if not branches:
            return node
        values = [b for b in branches if b.get("type") != "null"]
        if len(values) != 1:
            return None
        # A constraint beside ``oneOf`` binds every branch (Litestar writes a parameter's
        # limits there).
        siblings = {k: v for k, v in node.items() if k not in ("oneOf", "anyOf")}
        return {**values[0], **siblings}

    def nullable(self, node: dict[str, Any]) -> bool:
        node = self.resolve(node)
        return any(b.get("type") == "null" for b in node.get("oneOf", node.get("anyOf", [])))

    def valid(self, node: dict[str, Any], depth: int = 0) -> Any:
        """A plain value meeting the field's documented constraints."""
        schema = self.value_schema(node)
        if schema is None or depth > 3:
            return None
        if "enum" in schema:
            return schema["enum"][0]
        if schema.get("default") not in (None, ""):  # an empty default may be refused
            return schema["default"]
        kind = schema.get("type")
        if kind == "string":
            if schema.get("format") == "uuid":
                return str(uuid.uuid4())
            return "a" * max(schema.get("minLength", 1), 1)
        if kind in ("integer", "number"):
            return schema.get("minimum", 1)
        if kind == "boolean":
            return False
        if kind == "array":
            return []
        if kind == "object":
            # The required fields, and those whose default is empty text (often "say one").
            props = schema.get("properties", {})
            wanted = set(schema.get("required", []))
            wanted |= {n for n, p in props.items() if self.resolve(p).get("default") == ""}
            return {n: self.valid(props[n], depth + 1) for n in sorted(wanted)}
        return None


def png(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("L", (width, height), 0).save(out, "PNG", optimize=False)
    return out.getvalue()


async def ok(response: httpx.Response) -> Any:
    assert response.status_code < 300, (response.request.url, response.text[:500])
    return response.json() if response.content else None


async def arrange(platform: CreatorPlatform, owner: Tenant, slug: str) -> dict[str, str]:
    """Real ids for every path parameter of the installed plugins' routes, made through
    the API as a user would (the site at ``slug``)."""
    client, group = owner.client, owner.group.id
    member = await platform.member(owner, "org_user")
    ids = {"group_id": str(group), "person_id": str(member.person.id)}
    thing = await ok(await client.post(owner.url("/things"), json={"type": "note", "name": "x"}))
    ids["thing_id"] = thing["id"]
    web = f"/api/v1/website/groups/{group}"
    site = await ok(await client.post(f"{web}/sites", json={"name": "Site", "slug": slug}))
    ids["site_id"] = site["id"]
    page = await ok(
        await client.post(f"{web}/sites/{site['id']}/pages", json={"title": "Home", "slug": "home"})
    )
    ids["page_id"] = page["id"]
    kinds = await ok(await client.get(f"{web}/components"))
    plain = next(k["type"] for k in kinds if not k["container"])
    page = await ok(
        await client.post(
            f"{web}/sites/{site['id']}/pages/{page['id']}/components", json={"type": plain}
        )
    )
    ids["node_id"] = page["node"]["id"]
    asset = await ok(
        await client.post(f"{web}/media", files={"file": ("a.png", png(4, 3), "image/png")})
    )
    ids["asset_id"] = asset["id"]
    ids["key"] = asset["url"].removeprefix("/media/")  # the public file (and its ?w= copies)
    clones = f"/api/v1/clone/groups/{group}/clones"
    clone = await ok(await client.post(clones, json={"name": "Ada"}))
    ids["clone_id"] = clone["id"]
    source = await ok(
        await client.post(
            f"{clones}/{clone['id']}/sources",
            json={"kind": "text", "title": "Refunds", "text": "30 days."},
        )
    )
    ids["source_id"] = source["id"]
    thread = await ok(await client.post(f"{clones}/{clone['id']}/threads", json={}))
    ids["thread_id"] = thread["id"]
    turn = await ok(
        await client.post(
            f"{clones}/{clone['id']}/threads/{thread['id']}/messages",
            json={"content": "How long for a refund?"},
        )
    )
    ids["message_id"] = turn["answer"]["id"]
    return ids

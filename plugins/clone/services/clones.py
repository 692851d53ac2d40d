"""Clones themselves: create, read, change and delete them, and how the API shows them.

A clone is an ``ai_clone`` thing connected (``clone_of``) to the member it is a clone of.
Created without a prompt, it gets one written from the creator's name, profile and the
clone's purpose (:func:`default_system_prompt`), which follows renames until edited.
"""

from __future__ import annotations

import re
from typing import Any
from uuid import UUID

import msgspec

import sdk
from plugins.clone.allowed import ModelPolicy
from plugins.clone.providers import LLMProvider
from plugins.clone.services.base import CloneService, iso, parse_uuid
from plugins.clone.services.sources import drop_source
from plugins.clone.settings import CloneSettings
from plugins.clone.training import creator_link, source_links
from plugins.clone.types import (
    CloneIn,
    CloneOfMeta,
    ClonePatch,
    CloneProps,
    CloneView,
    ProviderView,
)

PURPOSES = {
    "sales": "You help visitors understand {group}'s offers and find the one that fits them, "
    "honestly and without pressure.",
    "support": "You help customers with questions about {group}'s products and services.",
    "teaching": "You teach {group}'s material: explain clearly, step by step, with examples "
    "from it.",
    "general": "You answer questions about {group} and its work.",
}

#: The creator's profile, read from ``profile`` in the group's settings, as the prompt says it.
PROFILE_FIELDS = (
    ("niche", "{group} works in {value}."),
    ("expertise", "Their expertise: {value}."),
    ("audience", "They serve {value}; speak to them in a way that fits."),
)


def profile_of(settings: Any) -> dict[str, str]:
    """The creator's profile (``niche``, ``expertise``, ``audience``) from a group's
    ``settings["profile"]``: short strings only, anything else ignored."""
    profile = settings.get("profile") if isinstance(settings, dict) else None
    if not isinstance(profile, dict):
        return {}
    found = {}
    for key, _ in PROFILE_FIELDS:
        value = profile.get(key)
        if isinstance(value, str) and value.strip():
            found[key] = " ".join(value.split())[:300].rstrip(".")
    return found


def default_system_prompt(
    group_name: str, clone_name: str, purpose: str, profile: dict[str, str] | None = None
) -> str:
    """The prompt a clone starts with: who it is, what it is for, who the creator is and
    serves (their profile), and how to answer."""
    role = PURPOSES.get(purpose, PURPOSES["general"]).format(group=group_name)
    about = "".join(
        " " + template.format(group=group_name, value=profile[key])
        for key, template in PROFILE_FIELDS
        if profile and key in profile
    )
    return (
        f"You are {clone_name}, the AI assistant of {group_name}. {role}{about}\n"
        f"Answer only from the numbered passages of {group_name}'s own material given with "
        "each question, and cite the passages you use like [1]. If they do not contain the "
        f"answer, say that you don't know and suggest contacting {group_name} directly. "
        "Never invent prices, dates, policies or promises. Be concise, warm and accurate, "
        "and answer in the language of the question."
    )


_ORIGIN = re.compile(
    r"^(https?)://([a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*)(:\d{1,5})?/?$"
)


def allowed_origins(values: list[str]) -> list[str]:
    """``values`` as origins (``https://example.com``, ``http://localhost:8080``): one
    spelling each (lower-case, no trailing slash), or a 422 naming the one that is not."""
    found: dict[str, None] = {}
    for number, value in enumerate(values):
        origin = value.strip().lower().rstrip("/")
        match = _ORIGIN.match(origin)
        port = int(match.group(6)[1:]) if match and match.group(6) else None
        if not match or (port is not None and not 1 <= port <= 65535):
            raise sdk.ValidationFailed(
                f"{value[:100]!r} is not an origin: write the site's scheme and host (and "
                "port), like https://example.com, without a path",
                field=f"allowed_origins[{number}]",
            )
        if (match.group(1), port) in (("http", 80), ("https", 443)):
            origin = origin.rsplit(":", 1)[0]  # browsers send the default port as nothing
        found[origin] = None
    return list(found)


class Clones(CloneService):
    """Clones of a group: their settings, their creator, and deleting one with all it has."""

    def __init__(
        self, platform: sdk.Platform, settings: CloneSettings, providers: dict[str, LLMProvider]
    ) -> None:
        super().__init__(platform)
        self.settings = settings
        self.providers = providers
        self.policy = ModelPolicy(settings, providers)

    def clone_view(self, thing: sdk.Thing, creator: sdk.Connection | None = None) -> CloneView:
        """The clone as the API shows it; ``creator``: its ``clone_of`` connection."""
        props = msgspec.convert(thing.properties, CloneProps)
        meta = msgspec.convert(creator.metadata, CloneOfMeta) if creator else CloneOfMeta()
        return CloneView(
            id=str(thing.id),
            name=thing.name,
            status=thing.status,
            purpose=props.purpose,
            system_prompt=props.system_prompt,
            temperature=props.temperature,
            provider=props.provider or self.settings.llm_provider,
            model=props.model,
            welcome_message=props.welcome_message,
            trained_at=props.trained_at,
            training_error=props.training_error,
            training_job=props.training_job,
            version=thing.version,
            created_at=iso(thing.created_at),
            updated_at=iso(thing.updated_at),
            allowed_origins=props.allowed_origins,
            widget_theme=props.widget_theme,
            creator_id=str(creator.to_id) if creator else None,
            training_version=meta.version,
            training_size=meta.training_size,
        )

    async def view(self, stores: sdk.ScopedOntology, thing: sdk.Thing) -> CloneView:
        """:meth:`clone_view` with the clone's creator read from its ``clone_of``."""
        return self.clone_view(thing, await creator_link(stores, thing.id))

    def provider_views(self) -> list[ProviderView]:
        """The providers clones may use here, with the models each allows."""
        default = self.settings.llm_provider
        return [
            ProviderView(name, name == default, self.policy.allowed_models(name))
            for name in self.policy.allowed_providers()
        ]

    async def list_clones(
        self, group: sdk.GroupContext, cursor: str | None, limit: int
    ) -> sdk.Page[CloneView]:
        group.require("clone.read")
        page = await group.stores.things.list(type="ai_clone", cursor=cursor, limit=limit)
        # the page's creators in one query (one live clone_of per clone)
        links = await group.stores.connections.list(
            type="clone_of", from_ids=[t.id for t in page.items], limit=max(1, len(page.items))
        )
        creators = {link.from_id: link for link in links.items}
        return sdk.Page(
            items=[self.clone_view(t, creators.get(t.id)) for t in page.items],
            next_cursor=page.next_cursor,
        )

    async def get_clone(self, group: sdk.GroupContext, clone_id: UUID) -> CloneView:
        group.require("clone.read")
        return await self.view(group.stores, await self.get_clone_thing(group.stores, clone_id))

    async def _creator(self, group: sdk.GroupContext) -> tuple[str, dict[str, str]]:
        """The creator's name and profile (the group's ``settings["profile"]``)."""
        found = await self.platform.directory.get_group(group.group_id)
        return found.name, profile_of(found.settings)

    async def create_clone(self, group: sdk.GroupContext, data: CloneIn) -> CloneView:
        group.require("clone.manage")
        self.policy.check(data.provider, data.model)
        creator, profile = await self._creator(group)
        prompt = data.system_prompt.strip() or default_system_prompt(
            creator, data.name, data.purpose, profile
        )
        props = CloneProps(
            purpose=data.purpose,
            system_prompt=prompt,
            temperature=data.temperature,
            provider=data.provider,
            model=data.model,
            welcome_message=data.welcome_message,
        )
        clean = sdk.validate_object(CloneProps, msgspec.to_builtins(props), "properties")
        named = parse_uuid(data.creator_id, "creator_id") if data.creator_id is not None else None
        async with self._transaction(group) as o:
            await self.platform.quotas.check(group.scope, "clones", within=o)
            thing = await o.things.create("ai_clone", name=data.name, properties=clean)
            creator_id = named or group.scope.person_id
            link = await self._connect_creator(o, thing.id, creator_id, named is not None)
            await o.events.emit("clone_created", {"clone_id": str(thing.id)}, target_id=thing.id)
        return self.clone_view(thing, link)

    @staticmethod
    async def _connect_creator(
        o: sdk.ScopedOntology, clone_id: UUID, person_id: UUID | None, named: bool
    ) -> sdk.Connection | None:
        """Connect a new clone to the member it is a clone of (``clone_of``, version 0).
        A creator named in the request must be a member of the group (else a 422 naming
        ``creator_id``, the same for anyone of another group as for no one); the one
        creating it is its creator if they are a member (a platform owner acting in a
        group they do not belong to makes a clone without one)."""
        if person_id is None:
            return None
        meta = msgspec.to_builtins(CloneOfMeta())
        try:
            return await o.connections.create("clone_of", clone_id, person_id, meta)
        except sdk.NotFound:
            if not named:
                return None
            raise sdk.ValidationFailed(
                f"creator_id {person_id} is not a member of this group", field="creator_id"
            ) from None

    async def update_clone(
        self,
        group: sdk.GroupContext,
        clone_id: UUID,
        patch: ClonePatch,
        expected_version: int | None = None,
    ) -> CloneView:
        group.require("clone.manage")
        clone = await self.get_clone_thing(group.stores, clone_id)
        props = msgspec.convert(clone.properties, CloneProps)
        before = msgspec.to_builtins(props)
        old_purpose = props.purpose
        name = clone.name if patch.name is msgspec.UNSET else patch.name
        if patch.provider is not msgspec.UNSET or patch.model is not msgspec.UNSET:
            # what the clone would use after the patch must be allowed now
            self.policy.check(
                props.provider if patch.provider is msgspec.UNSET else patch.provider,
                props.model if patch.model is msgspec.UNSET else patch.model,
            )
        for field in ("purpose", "temperature", "provider", "model", "welcome_message"):
            value = getattr(patch, field)
            if value is not msgspec.UNSET:
                setattr(props, field, value)
        if patch.allowed_origins is not msgspec.UNSET:
            props.allowed_origins = allowed_origins(patch.allowed_origins)
        if patch.widget_theme is not msgspec.UNSET:
            props.widget_theme = msgspec.to_builtins(patch.widget_theme)
        if patch.system_prompt is not msgspec.UNSET and patch.system_prompt.strip():
            props.system_prompt = patch.system_prompt.strip()
        else:
            # The generated prompt follows the name and purpose; an edited one stays as is.
            group_name, profile = await self._creator(group)
            old_defaults = {
                default_system_prompt(group_name, clone.name, old_purpose, profile),
                default_system_prompt(group_name, clone.name, old_purpose),
            }
            if patch.system_prompt is not msgspec.UNSET or props.system_prompt in old_defaults:
                props.system_prompt = default_system_prompt(
                    group_name, name, props.purpose, profile
                )
        clean = sdk.validate_object(CloneProps, msgspec.to_builtins(props), "properties")
        changed = sorted(k for k in set(clean) | set(before) if clean.get(k) != before.get(k))
        if name != clone.name:
            changed.insert(0, "name")
        if not changed:
            return await self.view(group.stores, clone)
        async with self._transaction(group) as o:
            clone = await o.things.update(
                clone_id,
                name=name,
                properties=clean,
                replace_properties=True,
                expected_version=expected_version,
            )
            await o.events.emit(
                "clone_updated",
                {"clone_id": str(clone_id), "changed": changed},
                target_id=clone_id,
            )
        return await self.view(group.stores, clone)

    async def delete_clone(
        self, group: sdk.GroupContext, clone_id: UUID, expected_version: int | None = None
    ) -> None:
        """Delete a clone with its own sources (and their knowledge) and its
        conversations. Website pages it learned from stay as they are."""
        group.require("clone.manage")
        await self.get_clone_thing(group.stores, clone_id)
        async with self._transaction(group) as o:
            for link in await source_links(o, clone_id):
                await drop_source(o, link)
            for thread_id in await self._ids(o, "ai_thread", {"clone_id": str(clone_id)}):
                for message_id in await self._ids(o, "ai_message", {"thread_id": str(thread_id)}):
                    await o.things.delete(message_id)
                await o.things.delete(thread_id)
            await o.things.delete(clone_id, expected_version=expected_version)
            await o.events.emit(
                "clone_updated",
                {"clone_id": str(clone_id), "changed": ["deleted"]},
                target_id=clone_id,
            )

    @staticmethod
    async def _ids(o: sdk.ScopedOntology, type: str, where: dict[str, Any]) -> list[UUID]:
        return [t.id for t in await sdk.every_item(o.things.list, type=type, where=where)]

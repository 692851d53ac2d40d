"""The clone's component for websites built with the website plugin: ``clone_chat``, a
chat bubble on a published page (``embed.js`` with the clone's id).

Registered through the website plugin's ``register_components`` hook, as an optional
hook implementation: without the website plugin there is nothing to register. A page
publishes only when its clone chats name clones of its own group (``publish_blocked``). Published
pages allow scripts from the platform's own origin for it (the website's CSP)."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

import msgspec
from markupsafe import Markup
from msgspec import Meta

import sdk

_UUID = r"^([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})?$"


class CloneChatProps(msgspec.Struct, forbid_unknown_fields=True):
    """Which clone answers, and the bubble's colour and label. No ``color``: the colour
    saved in the clone's look (``embed.js`` reads it from the widget's config)."""

    clone_id: Annotated[str, Meta(max_length=36, pattern=_UUID)] = ""
    color: Annotated[str, Meta(max_length=7, pattern=r"^(#[0-9a-fA-F]{6})?$")] = ""
    label: Annotated[str, Meta(max_length=80)] = "Chat with us"


def check_clone_chat(props: CloneChatProps) -> list[str]:
    return [] if props.clone_id else ["a clone chat has no clone: pick the clone that answers"]


async def check_clone_chat_in_group(props: CloneChatProps, stores: sdk.ScopedOntology) -> list[str]:
    """The clone must be one of the publishing group's own: another group's clone would
    answer on this site with that group's knowledge (its id is public, in its embed)."""
    if not props.clone_id:
        return []  # check_clone_chat says so
    try:
        await stores.things.get(UUID(props.clone_id), type="ai_clone")
    except (ValueError, sdk.NotFound):
        return [
            f"clone_id {props.clone_id} is not a clone of this workspace: pick one of your clones"
        ]
    return []


def render_clone_chat(props: CloneChatProps, children: Markup, ctx: Any) -> Markup:
    if ctx.editing or not props.clone_id:
        # the canvas shows where the bubble is configured, not a live chat
        return Markup('<div class="cp-clone-chat-placeholder">Chat bubble: {}</div>').format(
            props.label
        )
    if not props.color:
        return Markup(
            '<script src="/clone/embed.js" data-clone="{}" data-label="{}" async></script>'
        ).format(props.clone_id, props.label)
    return Markup(
        '<script src="/clone/embed.js" data-clone="{}" data-color="{}" data-label="{}" '
        "async></script>"
    ).format(props.clone_id, props.color, props.label)


def website_components() -> list[Any]:
    from plugins.website.components import Component  # only called with the website on

    return [
        Component(
            "clone_chat",
            CloneChatProps,
            render_clone_chat,
            "Clone chat",
            "A chat bubble where visitors ask your AI clone",
            "engagement",
            publish_check=check_clone_chat,
            publish_check_in_group=check_clone_chat_in_group,
        )
    ]

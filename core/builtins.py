"""Core's own plugin: the generic API, core event types and the ontology migrations.

Registered through the same hooks as any plugin (as Datasette registers its defaults), so
the hooks are proven by the kernel itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
from litestar import Litestar
from piccolo.conf.apps import AppConfig

from core import account_ui, shell_pages, workspace_pages
from core.api import (
    auth,
    connections,
    events,
    groups,
    jobs,
    knowledge,
    members,
    meta,
    quotas,
    stream,
    things,
)
from core.events import EventHandler, HandlerContext
from core.hookspecs import hookimpl
from core.knowledge import jobs as knowledge_jobs
from core.knowledge.local import LocalEmbeddingProvider
from core.knowledge.openai_provider import OpenAIEmbeddingProvider
from core.observability import metrics
from core.ontology import migrations as ontology_migrations
from core.ontology.records import Event
from core.ontology.types import EventType
from core.platform import Platform
from core.shell import NavItem, SettingsPage
from core.ui import StaticFiles

HERE = Path(__file__).parent


class ThingChanged(msgspec.Struct, forbid_unknown_fields=True):
    type: str
    name: str
    changed: list[str] = msgspec.field(default_factory=list)


class MemberChanged(msgspec.Struct, forbid_unknown_fields=True):
    person_id: str
    role: str
    previous_role: str | None = None


class MemberInvited(msgspec.Struct, forbid_unknown_fields=True):
    email: str
    role: str
    invitation_id: str


class ConnectionChanged(msgspec.Struct, forbid_unknown_fields=True):
    type: str
    from_id: str
    to_id: str


@hookimpl
def register_event_types() -> list[EventType]:
    return [
        EventType("thing_created", ThingChanged, "A thing was created"),
        EventType("thing_updated", ThingChanged, "A thing changed; `changed` lists what"),
        EventType("thing_deleted", ThingChanged, "A thing was (soft) deleted"),
        EventType("connection_created", ConnectionChanged, "Two things were connected"),
        EventType("connection_deleted", ConnectionChanged, "A connection ended"),
        EventType("member_invited", MemberInvited, "Someone was invited to the group"),
        EventType("member_joined", MemberChanged, "Someone accepted an invitation"),
        EventType("member_role_changed", MemberChanged, "A member's role changed"),
        EventType("member_removed", MemberChanged, "A member left or was removed"),
    ]


@hookimpl
def register_routes() -> list[Any]:
    return [
        meta.health,
        meta.ready,
        meta.me,
        meta.create_token,
        meta.list_tokens,
        meta.revoke_token,
        meta.list_types,
        auth.AuthController,
        members.MembersController,
        members.accept_invitation,
        groups.GroupsController,
        things.ThingsController,
        connections.ConnectionsController,
        events.EventsController,
        stream.stream_events,
        jobs.get_job,
        quotas.group_quotas,
        metrics,
        knowledge.KnowledgeController,
        *account_ui.ACCOUNT_ROUTES,
        *shell_pages.SHELL_ROUTES,
        *workspace_pages.WORKSPACE_ROUTES,
    ]


@hookimpl
def register_nav() -> list[NavItem]:
    """Home (the workspace's dashboard) first and Settings last."""
    return list(shell_pages.CORE_NAV)


@hookimpl
def register_settings_pages() -> list[SettingsPage]:
    """The person's account, the workspace's members, plan and usage, API tokens."""
    return [*shell_pages.CORE_SETTINGS, *workspace_pages.WORKSPACE_SETTINGS]


@hookimpl
def register_templates() -> list[str]:
    """Core's pages (log in, sign up), the layouts other plugins' pages extend
    (``core/base.html``, ``core/app.html``) and the pages ``sdk.PluginPages`` renders for them
    (``core/workspaces.html``, ``core/error.html``)."""
    return [str(HERE / "templates")]


@hookimpl
def register_static() -> list[StaticFiles]:
    """``/static/core``: the shared stylesheet, the account pages' script and ``ui.js``, the
    script every plugin's pages share (the files of ``core/static/core``)."""
    return [StaticFiles("/static/core", HERE / "static" / "core")]


@hookimpl
def register_migrations() -> list[AppConfig]:
    return [
        AppConfig(
            app_name="ontology",
            migrations_folder_path=str(Path(ontology_migrations.__file__).parent),
        )
    ]


@hookimpl
def register_embedding_providers() -> list[Any]:
    """``local`` (offline e5-small, the default) and ``openai`` (any OpenAI-compatible API,
    configured by the ``openai_*`` settings)."""
    return [LocalEmbeddingProvider(), OpenAIEmbeddingProvider()]


async def forget_deleted_thing(event: Event, ctx: HandlerContext) -> None:
    """A deleted thing's knowledge leaves search with it (a soft delete keeps the row)."""
    if event.target_id is not None:
        await ctx.ontology.knowledge.delete_for_thing(event.target_id)


@hookimpl
def register_event_handlers() -> list[EventHandler]:
    return [EventHandler("thing_deleted", forget_deleted_thing, name="forget_deleted_thing")]


@hookimpl
async def startup(app: Litestar) -> None:
    """After a change of embedding model, re-embed existing knowledge in the background."""
    platform: Platform = app.state.platform
    await platform.knowledge.schedule_reembed(platform.jobs)


@hookimpl
def register_jobs() -> list[Any]:
    return list(knowledge_jobs.JOBS)


@hookimpl
def register_commands(cli: Any) -> None:
    knowledge_jobs.add_commands(cli)

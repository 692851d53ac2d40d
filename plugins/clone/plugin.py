"""The clone plugin: everything it registers, at a glance.

Types: ``ai_clone`` (draft → training → active, or failed), ``clone_source``,
``ai_thread``, ``ai_message`` and ``lead``; the connections ``trained_on`` (a clone
learns from one of its ``clone_source`` things or a website ``page``), ``powers`` (a
published page shows its chat bubble) and ``clone_of`` (a clone and the member of the
group it is a clone of, with its training version and size); events for clones,
training, answers, tools, feedback, voice and appearance; the job ``clone.train`` and
the handlers that keep ``powers`` in step with published pages; quotas (clones per
creator, sources per clone); its own hooks (``register_llm_providers`` with ``offline``
and ``openai`` built in, ``register_clone_tools`` with four tools,
``register_voice_providers`` and ``register_avatar_providers``); the website's
``clone_chat`` component; permissions for customers and anonymous widget visitors; and
the routes: the API, the widget (its public API, ``embed.js`` and the chat page),
analytics, voice and the management UI.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from litestar import Litestar
from piccolo.conf.apps import AppConfig

import sdk
from plugins.clone import analytics, hookspecs, placements, sentences, shell
from plugins.clone.allowed import ModelPolicy
from plugins.clone.api import ROUTES
from plugins.clone.components import website_components
from plugins.clone.manage import MANAGE_ROUTES
from plugins.clone.providers import OfflineProvider, OpenAIChatProvider, collect_providers
from plugins.clone.services import CloneServices
from plugins.clone.settings import load as load_settings
from plugins.clone.settings import openai_api_key
from plugins.clone.tools import BUILTIN_TOOLS, CloneTool, collect_tools, offered
from plugins.clone.training import TRAIN_JOB, TRAIN_MAX_TRIES, TRAIN_TIMEOUT_SECONDS, train_job
from plugins.clone.types import (
    CloneEvent,
    CloneOfMeta,
    CloneProps,
    CloneTrained,
    FeedbackGiven,
    LeadProps,
    MessageAnswered,
    MessageProps,
    PowersMeta,
    SourceProps,
    ThreadProps,
    ToolCalled,
    TrainedOnMeta,
)
from plugins.clone.voice import clients as voice_clients
from plugins.clone.voice import routes as voice_routes
from plugins.clone.voice.screen import SCREEN_ROUTES as VOICE_SCREEN_ROUTES
from plugins.clone.voice.service import CloneMedia
from plugins.clone.voice.types import AppearanceCloned, VoiceCloned
from plugins.clone.widget import WIDGET_ROUTES
from sdk import (
    PERSON,
    VISITOR_ROLE,
    ConnectionCount,
    ConnectionType,
    EventType,
    Job,
    Quota,
    ThingCount,
    ThingType,
    hookimpl,
)

HERE = Path(__file__).parent

#: Thing types only this plugin's services write; the generic things API may read them.
OWN_TYPES = frozenset({"ai_clone", "clone_source", "ai_thread", "ai_message"})
#: Connection types only its services make or end (training records its metadata).
OWN_CONNECTIONS = frozenset({"trained_on", "powers", "clone_of"})
GENERIC_WRITES = frozenset({"thing.create", "thing.update", "thing.delete"})
GENERIC_LINKS = frozenset({"connection.create", "connection.delete"})

log = logging.getLogger("creator.clone")


@hookimpl
def register_hookspecs(plugin_manager: sdk.PluginManager) -> None:
    plugin_manager.add_hookspecs(hookspecs)


@hookimpl
def register_migrations() -> list[AppConfig]:
    # clone_sentence_vectors (plugins/clone/sentences.py says why a table of its own)
    return [AppConfig(app_name="clone", migrations_folder_path=str(HERE / "migrations"))]


@hookimpl
def register_thing_types() -> list[ThingType]:
    return [
        ThingType(
            "ai_clone",
            CloneProps,
            "An AI clone of the creator that answers from their material",
            statuses=("draft", "training", "active", "failed"),
        ),
        ThingType("clone_source", SourceProps, "Text or a document a clone learns from"),
        ThingType("ai_thread", ThreadProps, "A conversation with a clone"),
        ThingType("ai_message", MessageProps, "A question or an answer in a conversation"),
        ThingType(
            "lead",
            LeadProps,
            "A visitor who asked a clone to have the creator get in touch (the create_lead tool)",
        ),
    ]


@hookimpl
def register_connection_types() -> list[ConnectionType]:
    return [
        ConnectionType(
            "trained_on",
            ("ai_clone",),
            ("clone_source", "page"),
            TrainedOnMeta,
            description="A clone learns from a source or a website page",
        ),
        ConnectionType(
            "powers",
            ("ai_clone",),
            ("page",),
            PowersMeta,
            description="A clone answers on a published page (its chat bubble)",
        ),
        ConnectionType(
            "clone_of",
            ("ai_clone",),
            (PERSON,),
            CloneOfMeta,
            description="A clone and the member it is a clone of (its creator): "
            "version counts its trainings, training_size its chunks",
        ),
    ]


@hookimpl
def register_event_types() -> list[EventType]:
    return [
        EventType("clone_created", CloneEvent, "A clone was created"),
        EventType(
            "clone_updated",
            CloneEvent,
            "A clone changed, failed training or was deleted (changed: what changed)",
        ),
        EventType("clone_trained", CloneTrained, "A clone finished training"),
        EventType(
            "message_answered",
            MessageAnswered,
            "A clone answered a question (unanswered: it did not know, a content gap)",
        ),
        EventType("feedback_given", FeedbackGiven, "A visitor rated an answer"),
        EventType(
            "ai_tool_called",
            ToolCalled,
            "A clone's model called a tool while answering (ok, or its error)",
        ),
        EventType("voice_cloned", VoiceCloned, "A clone got a voice from recordings"),
        EventType("appearance_cloned", AppearanceCloned, "A clone got a face from a photo"),
    ]


@hookimpl
def register_event_handlers() -> list[sdk.EventHandler]:
    return list(placements.HANDLERS)


@hookimpl
def register_jobs() -> list[Job]:
    return [
        Job(
            train_job,
            name=TRAIN_JOB,
            max_tries=TRAIN_MAX_TRIES,
            timeout_seconds=TRAIN_TIMEOUT_SECONDS,
        ),
        Job(sentences.refresh_job, name=sentences.REFRESH_JOB, max_tries=3),
    ]


@hookimpl
def register_quotas() -> list[Quota]:
    return [
        Quota("clones", {"free": 3}, "AI clones per creator", ThingCount("ai_clone")),
        Quota("clone_sources", {"free": 100}, "Sources per clone", ConnectionCount("trained_on")),
    ]


@hookimpl
def register_llm_providers(platform: sdk.Platform) -> list[object]:
    settings = load_settings(platform)
    openai = OpenAIChatProvider(
        base_url=settings.openai_base_url,
        api_key=openai_api_key(settings),
        model=settings.openai_model,
        timeout=settings.openai_timeout_seconds,
        max_retries=settings.openai_max_retries,
        usage=platform.usage,
        stream_usage=settings.openai_stream_usage,
    )
    return [OfflineProvider(), openai]


@hookimpl(optionalhook=True)
def register_components() -> list[Any]:
    """The website's ``clone_chat`` component (only with the website plugin)."""
    return website_components()


@hookimpl
def register_clone_tools(platform: sdk.Platform) -> list[CloneTool]:
    return list(BUILTIN_TOOLS)


@hookimpl
def register_voice_providers(platform: sdk.Platform) -> list[object]:
    return list(voice_clients.builtin_voice_providers(load_settings(platform)))


@hookimpl
def register_avatar_providers(platform: sdk.Platform) -> list[object]:
    return list(voice_clients.builtin_avatar_providers(load_settings(platform)))


@hookimpl
def permission_allowed(scope: sdk.Scope, action: str, resource: sdk.Resource | None) -> bool | None:
    if resource is None:
        return None
    if action in GENERIC_WRITES and resource.type in OWN_TYPES:
        return False  # through the clone API only
    if action in GENERIC_LINKS and resource.type in OWN_CONNECTIONS:
        return False
    if resource.group_id != scope.group_id or scope.role not in ("customer", VISITOR_ROLE):
        return None
    # A creator's customers and the anonymous visitors of a clone's widget (core's visitor
    # role, which reads published things) talk to active clones and may leave their details.
    if action == "clone.chat" and resource.status in (None, "active"):
        return True
    if action == "clone.create_lead":
        return True
    return None


@hookimpl
def register_routes() -> list[Any]:
    return [
        *ROUTES,
        *MANAGE_ROUTES,
        *analytics.ROUTES,
        *voice_routes.ROUTES,
        *WIDGET_ROUTES,
        *VOICE_SCREEN_ROUTES,
    ]


@hookimpl
def register_nav() -> list[sdk.NavItem]:
    return list(shell.NAV)


@hookimpl
def register_dashboard_widgets() -> list[sdk.DashboardWidget]:
    return list(shell.WIDGETS)


@hookimpl
def register_settings_pages() -> list[sdk.SettingsPage]:
    return list(shell.SETTINGS)


@hookimpl
def register_templates() -> list[str]:
    return [str(HERE / "templates")]


@hookimpl
def register_static() -> list[sdk.StaticFiles]:
    return [sdk.StaticFiles("/static/clone", HERE / "static")]


@hookimpl
async def startup(app: Litestar) -> None:
    platform: sdk.Platform = app.state.platform
    settings = load_settings(platform)
    providers = collect_providers(platform)
    if settings.llm_provider not in providers:
        raise sdk.PlatformError(
            f"plugin_settings.clone.llm_provider is {settings.llm_provider!r}, which no "
            f"enabled plugin registers; registered: {', '.join(sorted(providers))}"
        )
    ModelPolicy(settings, providers).check_settings()
    tools = offered(collect_tools(platform), platform.registry.things)
    app.state.clone = CloneServices(platform, settings, providers, {t.name: t for t in tools})
    app.state.clone_settings = settings
    app.state.clone_media = CloneMedia.collect(platform, settings)
    try:  # after a change of embedding model, the sentence vectors too (as core: chunks)
        await sentences.schedule_refresh(platform)
    except Exception:  # the clone works without them; the next start asks again
        log.warning("could not check for stale sentence vectors", exc_info=True)


@hookimpl
async def shutdown(app: Litestar) -> None:
    media: CloneMedia | None = getattr(app.state, "clone_media", None)
    if media is not None:
        await media.aclose()
    services: CloneServices | None = getattr(app.state, "clone", None)
    if services is None:
        return
    for provider in services.providers.values():
        close = getattr(provider, "aclose", None)
        if close is not None:
            await close()

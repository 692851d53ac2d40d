"""What a plugin author imports. Stable: re-exports of core, no logic of its own.

    from sdk import hookimpl, ThingType, EventType, Scope

See ``docs/plugin-hooks.md`` for every hook and ``docs/writing-plugins.md`` for a guide.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from litestar import Router

from core.account_ui import ui_headers
from core.api.deps import GroupContext, from_app_state, provide_actor, provide_group
from core.api.params import PageCursor, PageLimit
from core.api.things import parse_if_match
from core.api.uploads import read_upload
from core.auth.permissions import Permissions, Resource
from core.auth.tokens import Actor, Directory
from core.commands import with_platform
from core.cpu import run_cpu
from core.errors import (
    Busy,
    Conflict,
    Forbidden,
    InvalidText,
    NotFound,
    PayloadTooLarge,
    PlatformError,
    PreconditionFailed,
    QuotaExceeded,
    RateLimited,
    Unauthorized,
    UnknownType,
    UnsupportedMediaType,
    ValidationFailed,
    problem_body,
)
from core.events import EventHandler, HandlerContext
from core.hookspecs import hookimpl, hookspec
from core.hosts import ANY_HOST, TENANT_CONTENT, HostKind, Hosts, host_kind, host_name
from core.jobs import Job
from core.knowledge.providers import EmbeddingProvider
from core.knowledge.search import embed_query, reusing_query_vectors
from core.limits import RateLimiter, RateLimitResult
from core.logs import current_request_id
from core.migrations import group_table_statements, sql_migration
from core.ontology.ids import uuid7
from core.ontology.names import Names, NameTaken, PublicName, PublicNames, claim_names_statement
from core.ontology.queries import AggregateRow, Bucket, Metric, Range, bucket
from core.ontology.records import Connection, Event, Group, KnowledgeItem, Page, Thing
from core.ontology.scope import VISITOR_ROLE, Scope
from core.ontology.session import Isolation
from core.ontology.stores import (
    Connections,
    Events,
    Knowledge,
    Ontology,
    ScopedOntology,
    Things,
    every_item,
)
from core.ontology.types import PERSON, ConnectionType, EventType, ThingType
from core.ontology.types import validate_object as validate_object
from core.platform import Platform
from core.plugins import PluginManager, group_serving_url
from core.quotas import (
    ConnectionCount,
    EventCount,
    Quota,
    QuotaContext,
    QuotaReport,
    Quotas,
    QuotaUsage,
    ThingCount,
)
from core.resolver import DnsUnavailable
from core.shell import DashboardWidget, NavItem, SettingsPage
from core.storable import pasted_text, strip_unstorable, stripped_warning
from core.throttle import NO_API_RATE_LIMIT
from core.ui import PluginPages, StaticFiles
from core.usage import (
    BudgetExhausted,
    Meter,
    Usage,
    UsageKind,
    UsageReport,
    charged_to,
    estimate_tokens,
)


def api_router(plugin: str, handlers: Sequence[Any], **kwargs: Any) -> Router:
    """A router at ``/api/v1/<plugin>`` (the convention for a plugin's API) tagged with the
    plugin's name in the OpenAPI schema."""
    kwargs.setdefault("tags", [plugin])
    return Router(path=f"/api/v1/{plugin}", route_handlers=list(handlers), **kwargs)


__all__ = [
    "ANY_HOST",
    "NO_API_RATE_LIMIT",
    "PERSON",
    "TENANT_CONTENT",
    "VISITOR_ROLE",
    "Actor",
    "AggregateRow",
    "Bucket",
    "BudgetExhausted",
    "Busy",
    "Conflict",
    "Connection",
    "ConnectionCount",
    "ConnectionType",
    "Connections",
    "DashboardWidget",
    "Directory",
    "DnsUnavailable",
    "EmbeddingProvider",
    "Event",
    "EventCount",
    "EventHandler",
    "EventType",
    "Events",
    "Forbidden",
    "Group",
    "GroupContext",
    "HandlerContext",
    "HostKind",
    "Hosts",
    "InvalidText",
    "Isolation",
    "Job",
    "Knowledge",
    "KnowledgeItem",
    "Meter",
    "Metric",
    "NameTaken",
    "Names",
    "NavItem",
    "NotFound",
    "Ontology",
    "Page",
    "PageCursor",
    "PageLimit",
    "PayloadTooLarge",
    "Permissions",
    "Platform",
    "PlatformError",
    "PluginManager",
    "PluginPages",
    "PreconditionFailed",
    "PublicName",
    "PublicNames",
    "Quota",
    "QuotaContext",
    "QuotaExceeded",
    "QuotaReport",
    "QuotaUsage",
    "Quotas",
    "Range",
    "RateLimitResult",
    "RateLimited",
    "RateLimiter",
    "Resource",
    "Scope",
    "ScopedOntology",
    "SettingsPage",
    "StaticFiles",
    "Thing",
    "ThingCount",
    "ThingType",
    "Things",
    "Unauthorized",
    "UnknownType",
    "UnsupportedMediaType",
    "Usage",
    "UsageKind",
    "UsageReport",
    "ValidationFailed",
    "api_router",
    "bucket",
    "charged_to",
    "claim_names_statement",
    "current_request_id",
    "embed_query",
    "estimate_tokens",
    "every_item",
    "from_app_state",
    "group_serving_url",
    "group_table_statements",
    "hookimpl",
    "hookspec",
    "host_kind",
    "host_name",
    "parse_if_match",
    "pasted_text",
    "problem_body",
    "provide_actor",
    "provide_group",
    "read_upload",
    "reusing_query_vectors",
    "run_cpu",
    "sql_migration",
    "strip_unstorable",
    "stripped_warning",
    "ui_headers",
    "uuid7",
    "validate_object",
    "with_platform",
]

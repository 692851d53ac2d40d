"""Per-plan quotas plugins declare through ``register_quotas``.

A :class:`Quota` names a limit per plan and says declaratively what it counts:

* :class:`ThingCount` — live things of a type in the group (websites per creator);
* :class:`ConnectionCount` — live connections of a type from one parent thing (pages per
  website: ``contains`` connections from the website; the check passes ``parent_id``);
* :class:`EventCount` — events of a type in the current calendar period (uploads per month);
* or an async callable ``usage(ctx: QuotaContext) -> int`` for anything else.

Services check before they create::

    async with platform.ontology.transaction(scope) as o:
        await platform.quotas.check(scope, "websites", within=o)
        await o.things.create("website", name=...)

With ``within`` the check takes a transaction-scoped advisory lock on (group, quota,
parent) in the caller's transaction, so two concurrent creates cannot both pass the last
free slot: the second waits for the first to commit, then counts what it wrote. Without
``within`` the check is a plain read (fine for a hint, not for enforcement).

A quota is counted at the root organisation by default (``counted_at="root"``): the
things, connections and events of the root group and of every sub-group below it count
together against the root's plan, so creating sub-groups does not multiply an allowance.
``counted_at="group"`` counts each group on its own, against its own plan. Either way no
other organisation's rows are counted. A group's plan is its ``settings["plan"]`` (default
:data:`DEFAULT_PLAN`); for a quota counted at the root, the root's.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal
from uuid import UUID

import asyncpg
import msgspec

from core.db import SET_GROUPS_SQL
from core.errors import QuotaExceeded
from core.ontology.store_base import ROOT_GROUP_SQL, SUBGROUPS_SQL
from core.plugins import PluginError

if TYPE_CHECKING:
    from core.ontology.scope import Scope
    from core.ontology.stores import Ontology, ScopedOntology
    from core.ontology.types import TypeRegistry
    from core.plugins import PluginManager

DEFAULT_PLAN = "free"

Period = Literal["day", "month", "year"]
#: Where a quota is counted: across the root organisation's whole tree, or per group.
CountedAt = Literal["root", "group"]


@dataclass(frozen=True)
class ThingCount:
    """Live (not deleted) things of ``type`` in the group, optionally only those whose
    status is one of ``statuses``."""

    type: str
    statuses: tuple[str, ...] = ()


@dataclass(frozen=True)
class ConnectionCount:
    """Live connections of ``type`` from the parent thing given to the check
    (``parent_id``), optionally only those to things of ``to_type``. Pages per website:
    ``ConnectionCount("contains", to_type="page")``."""

    type: str
    to_type: str | None = None


@dataclass(frozen=True)
class EventCount:
    """Events of ``type`` in the group during the current calendar ``period`` (UTC);
    ``period=None`` counts all time."""

    type: str
    period: Period | None = "month"


@dataclass(frozen=True)
class QuotaContext:
    """What a usage callable gets: the scope, stores bound to the check's transaction,
    that transaction's connection (for a plugin's own justified table), the parent thing
    (if the check named one), the plan, and ``group_ids``: the groups to count (filter by
    them). For a quota counted at the root these are the root organisation's whole tree,
    and the connection may read all of them while the callable runs; the stores still
    see only the scope's group."""

    scope: Scope
    ontology: ScopedOntology
    connection: asyncpg.Connection
    parent_id: UUID | None
    plan: str
    group_ids: tuple[UUID, ...] = ()


UsageCallable = Callable[[QuotaContext], Awaitable[int]]
Counts = ThingCount | ConnectionCount | EventCount | UsageCallable


@dataclass(frozen=True)
class Quota:
    """``limits`` maps a plan name to its limit (``None``: unlimited). A plan not listed
    is unlimited. ``counts`` says what is counted (a :class:`ThingCount`,
    :class:`ConnectionCount`, :class:`EventCount`, or an async callable taking a
    :class:`QuotaContext` and returning the current usage). ``counted_at="root"`` (the
    default) counts across the root organisation's tree against the root's plan;
    ``"group"`` counts each group on its own."""

    name: str
    limits: Mapping[str, int | None] = field(default_factory=dict)
    description: str = ""
    counts: Counts | None = None
    counted_at: CountedAt = "root"

    @property
    def per_parent(self) -> bool:
        """Counted per parent thing (the check needs ``parent_id``)."""
        return isinstance(self.counts, ConnectionCount)

    def limit_for(self, plan: str) -> int | None:
        return self.limits.get(plan)


class QuotaUsage(msgspec.Struct):
    """One quota's usage against the group's plan. For a per-parent quota, ``usage`` is
    the highest among the group's parents (the fullest website)."""

    name: str
    plan: str
    limit: int | None
    usage: int
    remaining: int | None
    per_parent: bool = False
    description: str = ""


class QuotaReport(msgspec.Struct):
    group_id: UUID
    plan: str
    quotas: list[QuotaUsage]


class QuotaDeclarationError(PluginError):
    """A quota is declared twice or says nothing sensible; the message names the plugin."""


class UnknownQuota(LookupError):
    """A service checked a quota no enabled plugin declares (a programming error)."""


def period_start(period: Period, now: datetime | None = None) -> datetime:
    """Start (UTC) of the calendar ``period`` that contains ``now``."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    start = now.replace(hour=0, minute=0, second=0, microsecond=0)
    if period in ("month", "year"):
        start = start.replace(day=1)
    if period == "year":
        start = start.replace(month=1)
    return start


def _lock_key(group_id: UUID, name: str, parent_id: UUID | None) -> int:
    raw = f"quota:{group_id}:{name}:{parent_id or ''}".encode()
    return int.from_bytes(hashlib.blake2b(raw, digest_size=8).digest(), "big", signed=True)


_PLAN_SQL = "SELECT settings->>'plan' FROM groups WHERE id = $1"
# $1 below is the array of the groups counted (one group, or the root's tree).
_THINGS_SQL = (
    "SELECT count(*) FROM things WHERE group_id = ANY($1::uuid[]) AND type = $2 "
    "AND deleted_at IS NULL"
)
_CONNECTIONS_SQL = (
    "SELECT count(*) FROM connections c WHERE c.group_id = ANY($1::uuid[]) AND c.type = $2 "
    "AND c.from_id = $3 AND c.valid_to IS NULL"
)
_TO_TYPE_SQL = (
    " AND EXISTS (SELECT 1 FROM things t WHERE t.group_id = c.group_id AND t.id = c.to_id "
    "AND t.type = $4 AND t.deleted_at IS NULL)"
)
_FULLEST_PARENT_SQL = (  # per-parent usage for the report: the highest count
    "SELECT coalesce(max(n), 0) FROM (SELECT count(*) AS n FROM connections c "
    "WHERE c.group_id = ANY($1::uuid[]) AND c.type = $2 AND c.valid_to IS NULL{to_type} "
    "GROUP BY c.from_id) per_parent"
)
_EVENTS_SQL = "SELECT count(*) FROM events WHERE group_id = ANY($1::uuid[]) AND type = $2"


def _refuse_non_quota(plugin: str, quota: object) -> None:
    if not isinstance(quota, Quota):
        raise QuotaDeclarationError(
            f"plugin {plugin!r}: register_quotas must return Quota objects, "
            f"not {type(quota).__name__}"
        )


class Quotas:
    """The quotas every enabled plugin declared: ``platform.quotas``."""

    def __init__(self, plugins: PluginManager, registry: TypeRegistry | None = None) -> None:
        self.quotas: dict[str, tuple[str, Quota]] = {}
        declared = plugins.collect_unique(
            "register_quotas",
            key=lambda quota: quota.name,
            what="quota",
            error=QuotaDeclarationError,
            check=_refuse_non_quota,
        )
        for name, quota in declared.items():
            self.add(declared.owner(name), quota, registry)
        self._ontology: Ontology | None = None

    def add(self, plugin: str, quota: Quota, registry: TypeRegistry | None = None) -> None:
        """Check and keep ``plugin``'s ``quota`` (its name is new: see ``__init__``)."""
        where = f"quota {quota.name!r} of plugin {plugin!r}"
        counts = quota.counts
        if counts is None or not (
            isinstance(counts, ThingCount | ConnectionCount | EventCount) or callable(counts)
        ):
            raise QuotaDeclarationError(
                f"{where} must say what it counts: counts=ThingCount(...), "
                "ConnectionCount(...), EventCount(...) or an async callable"
            )
        for plan, limit in quota.limits.items():
            if limit is not None and (not isinstance(limit, int) or limit < 0):
                raise QuotaDeclarationError(
                    f"{where}: the limit for plan {plan!r} must be a non-negative integer "
                    f"or None, not {limit!r}"
                )
        if isinstance(counts, EventCount) and counts.period not in (None, "day", "month", "year"):
            raise QuotaDeclarationError(
                f"{where}: period must be 'day', 'month', 'year' or None, not {counts.period!r}"
            )
        if registry is not None:
            self._check_types(where, counts, registry)
        self.quotas[quota.name] = (plugin, quota)

    @staticmethod
    def _check_types(where: str, counts: Counts, registry: TypeRegistry) -> None:
        known: list[tuple[str, str, Mapping[str, object]]] = []
        if isinstance(counts, ThingCount):
            known.append(("thing", counts.type, registry.things))
        elif isinstance(counts, ConnectionCount):
            known.append(("connection", counts.type, registry.connections))
            if counts.to_type is not None:
                known.append(("thing", counts.to_type, registry.things))
        elif isinstance(counts, EventCount):
            known.append(("event", counts.type, registry.events))
        for kind, name, table in known:
            if name not in table:
                raise QuotaDeclarationError(
                    f"{where} counts {kind} type {name!r}, which no enabled plugin registers"
                )

    def bind(self, ontology: Ontology) -> None:
        """Called by ``platform.start()``: where counts are read."""
        self._ontology = ontology

    def get(self, name: str) -> Quota:
        try:
            return self.quotas[name][1]
        except KeyError:
            raise UnknownQuota(
                f"no enabled plugin declares a quota named {name!r}; declared: "
                f"{', '.join(sorted(self.quotas)) or 'none'}"
            ) from None

    def plugin_of(self, name: str) -> str:
        return self.quotas[name][0]

    def _scoped(self, scope: Scope, within: ScopedOntology | None) -> ScopedOntology:
        if within is not None:
            if within.scope.group_id != scope.group_id:
                raise ValueError("within= is bound to another group than scope")
            return within
        if self._ontology is None:
            raise RuntimeError("the platform has not started")
        return self._ontology.scoped(scope)

    # -- checking -------------------------------------------------------------------------

    async def check(
        self,
        scope: Scope,
        name: str,
        *,
        parent_id: UUID | None = None,
        adding: int = 1,
        within: ScopedOntology | None = None,
    ) -> QuotaUsage:
        """Refuse (:class:`~core.errors.QuotaExceeded`, a 429) when adding ``adding`` more
        would take the group over its plan's limit; otherwise return the usage before.

        Pass ``within=`` the stores of ``ontology.transaction(scope)`` that will create the
        thing: the check then locks (group, quota, parent) until that transaction ends,
        making check-then-insert safe against concurrent requests."""
        quota = self.get(name)
        if quota.per_parent and parent_id is None:
            raise ValueError(f"quota {name!r} is counted per parent: pass parent_id=")
        if adding < 0:
            raise ValueError("adding must not be negative")
        scoped = self._scoped(scope, within)
        async with scoped.session.transaction() as conn:
            owner, group_ids = await self._counted_groups(conn, quota, scope.group_id)
            plan = await self._plan(conn, owner)
            limit = quota.limit_for(plan)
            if limit is not None:
                # keyed by where it is counted: two sub-groups' creates serialise too
                key = _lock_key(owner, name, parent_id)
                await conn.execute("SELECT pg_advisory_xact_lock($1)", key)
            usage = await self._count(quota, scope, scoped, conn, plan, parent_id, group_ids)
        if limit is not None and usage + adding > limit:
            per = f" per {parent_id}" if parent_id is not None else ""
            raise QuotaExceeded(
                f"quota {name!r} is used up: the {plan!r} plan allows {limit}{per} and "
                f"{usage} are in use, so {adding} more would exceed it",
                quota=name,
                limit=limit,
                plan=plan,
                usage=usage,
                **({"parent_id": str(parent_id)} if parent_id is not None else {}),
            )
        return QuotaUsage(
            name,
            plan,
            limit,
            usage,
            None if limit is None else max(limit - usage, 0),
            quota.per_parent,
            description=quota.description,
        )

    async def usage(self, scope: Scope) -> QuotaReport:
        """Every quota's usage and limit for the scope's group, by quota name."""
        scoped = self._scoped(scope, None)
        out: list[QuotaUsage] = []
        async with scoped.session.transaction() as conn:
            root, tree = await self._root_and_tree(conn, scope.group_id)
            plans = {
                "root": await self._plan(conn, root),
                "group": await self._plan(conn, scope.group_id),
            }
            plan = plans["root"]
            for name in sorted(self.quotas):
                quota = self.quotas[name][1]
                group_ids = tree if quota.counted_at == "root" else [scope.group_id]
                quota_plan = plans[quota.counted_at]
                used = await self._count(quota, scope, scoped, conn, quota_plan, None, group_ids)
                limit = quota.limit_for(quota_plan)
                out.append(
                    QuotaUsage(
                        name,
                        quota_plan,
                        limit,
                        used,
                        None if limit is None else max(limit - used, 0),
                        quota.per_parent,
                        description=quota.description,
                    )
                )
        return QuotaReport(group_id=scope.group_id, plan=plan, quotas=out)

    @staticmethod
    async def _root_and_tree(conn: asyncpg.Connection, group_id: UUID) -> tuple[UUID, list[UUID]]:
        """The root organisation above ``group_id`` (itself at the top) and the ids of
        every group in that root's tree."""
        root: UUID = await conn.fetchval(ROOT_GROUP_SQL, group_id) or group_id
        tree = [row["id"] for row in await conn.fetch(SUBGROUPS_SQL, root)]
        return root, tree or [group_id]

    @classmethod
    async def _counted_groups(
        cls, conn: asyncpg.Connection, quota: Quota, group_id: UUID
    ) -> tuple[UUID, list[UUID]]:
        """Whose plan applies to ``quota`` and which groups it counts."""
        if quota.counted_at == "group":
            return group_id, [group_id]
        return await cls._root_and_tree(conn, group_id)

    @staticmethod
    async def _plan(conn: asyncpg.Connection, group_id: UUID) -> str:
        plan = await conn.fetchval(_PLAN_SQL, group_id)
        return str(plan) if plan else DEFAULT_PLAN

    @classmethod
    async def _count(
        cls,
        quota: Quota,
        scope: Scope,
        scoped: ScopedOntology,
        conn: asyncpg.Connection,
        plan: str,
        parent_id: UUID | None,
        group_ids: list[UUID],
    ) -> int:
        if group_ids == [scope.group_id]:
            return await cls._count_in(quota, scope, scoped, conn, plan, parent_id, group_ids)
        # Row-level security lets this transaction see only the scope's group: widen it to
        # exactly the counted tree for the count (as ``include_subgroups`` does), then back.
        await conn.execute(SET_GROUPS_SQL, ",".join(map(str, group_ids)), True)
        try:
            return await cls._count_in(quota, scope, scoped, conn, plan, parent_id, group_ids)
        finally:
            await conn.execute(SET_GROUPS_SQL, scoped.session.groups, True)

    @staticmethod
    async def _count_in(
        quota: Quota,
        scope: Scope,
        scoped: ScopedOntology,
        conn: asyncpg.Connection,
        plan: str,
        parent_id: UUID | None,
        group_ids: list[UUID],
    ) -> int:
        counts = quota.counts
        if isinstance(counts, ThingCount):
            args: list[object] = [group_ids, counts.type]
            sql = _THINGS_SQL
            if counts.statuses:
                sql += " AND status = ANY($3::text[])"
                args.append(list(counts.statuses))
            return int(await conn.fetchval(sql, *args))
        if isinstance(counts, ConnectionCount):
            if parent_id is None:  # the report: the fullest parent
                to_type = ""
                c_args: list[object] = [group_ids, counts.type]
                if counts.to_type is not None:
                    to_type = _TO_TYPE_SQL.replace("$4", "$3")
                    c_args.append(counts.to_type)
                sql = _FULLEST_PARENT_SQL.format(to_type=to_type)
                return int(await conn.fetchval(sql, *c_args))
            sql, c_args = _CONNECTIONS_SQL, [group_ids, counts.type, parent_id]
            if counts.to_type is not None:
                sql += _TO_TYPE_SQL
                c_args.append(counts.to_type)
            return int(await conn.fetchval(sql, *c_args))
        if isinstance(counts, EventCount):
            e_args: list[object] = [group_ids, counts.type]
            sql = _EVENTS_SQL
            if counts.period is not None:
                sql += " AND occurred_at >= $3"
                e_args.append(period_start(counts.period))
            return int(await conn.fetchval(sql, *e_args))
        assert counts is not None  # checked when declared
        ctx = QuotaContext(scope, scoped, conn, parent_id, plan, tuple(group_ids))
        return int(await counts(ctx))

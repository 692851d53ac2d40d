"""A group's quotas: what its plan allows and how much of it is used."""

from __future__ import annotations

from uuid import UUID

from litestar import get
from litestar.di import NamedDependency
from litestar.params import FromPath

from core.auth.permissions import Permissions, Resource
from core.ontology.scope import Scope
from core.platform import Platform
from core.quotas import QuotaReport


@get(
    "/api/v1/groups/{group_id:uuid}/quotas",
    tags=["groups"],
    summary="Quota usage against the group's plan",
)
async def group_quotas(
    group_id: FromPath[UUID],
    group_scope: NamedDependency[Scope],
    permissions: NamedDependency[Permissions],
    platform: NamedDependency[Platform],
) -> QuotaReport:
    permissions.require(group_scope, "group.read", Resource(group_scope.group_id))
    return await platform.quotas.usage(group_scope)

"""Groups the caller belongs to; creating one makes the caller its owner."""

from __future__ import annotations

from uuid import UUID

from litestar import Controller, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from core.api.params import PageCursor, PageLimit
from core.api.schemas import GroupCreate
from core.auth.permissions import Permissions, Resource
from core.auth.tokens import Actor, Directory
from core.ontology.records import Group, Page
from core.ontology.scope import Scope
from core.ontology.stores import DEFAULT_LIMIT
from core.platform import Platform


class GroupsController(Controller):
    path = "/api/v1/groups"
    tags = ["groups"]

    @post("/", summary="Create a group (you become its owner)")
    async def create_group(
        self,
        data: JSONBody[GroupCreate],
        actor: NamedDependency[Actor],
        directory: NamedDependency[Directory],
        platform: NamedDependency[Platform],
    ) -> Response[Group]:
        """A new organisation counts against ``max_groups_per_person`` (403
        ``group_limit_reached``); a sub-group needs you to own its parent."""
        group = await directory.create_group(
            actor,
            slug=data.slug,
            name=data.name,
            kind=data.kind,
            parent_id=data.parent_id,
            settings=data.settings,
            max_organisations=platform.settings.max_groups_per_person,
        )
        return Response(group, status_code=201)

    @get("/", summary="List the groups you belong to")
    async def list_groups(
        self,
        actor: NamedDependency[Actor],
        directory: NamedDependency[Directory],
        cursor: PageCursor = None,
        limit: PageLimit = DEFAULT_LIMIT,
    ) -> Page[Group]:
        return await directory.groups_of(actor.id, cursor=cursor, limit=limit)

    @get("/{group_id:uuid}", summary="Get a group")
    async def get_group(
        self,
        group_id: FromPath[UUID],
        group_scope: NamedDependency[Scope],
        directory: NamedDependency[Directory],
        permissions: NamedDependency[Permissions],
    ) -> Group:
        permissions.require(group_scope, "group.read", Resource(group_scope.group_id))
        return await directory.get_group(group_id)

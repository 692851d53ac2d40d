"""Members of a group and invitations to join it."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

import msgspec
from litestar import Controller, Response, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from msgspec import Meta

from core.api.auth import Email
from core.api.deps import GroupContext
from core.api.params import PageCursor, PageLimit
from core.auth.members import Invitation, InvitationCreated, Member
from core.auth.tokens import Actor
from core.ontology.records import Page
from core.ontology.scope import GroupRole
from core.ontology.stores import DEFAULT_LIMIT
from core.platform import Platform


class RoleChange(msgspec.Struct, forbid_unknown_fields=True):
    role: GroupRole


class InvitationRequest(msgspec.Struct, forbid_unknown_fields=True):
    email: Email
    role: GroupRole = "org_user"


class InvitationAcceptance(msgspec.Struct, forbid_unknown_fields=True):
    token: Annotated[str, Meta(min_length=1, max_length=200)]


class MembersController(Controller):
    path = "/api/v1/groups/{group_id:uuid}"
    tags = ["members"]

    @get("/members", summary="List the group's members")
    async def list_members(
        self,
        group: NamedDependency[GroupContext],
        cursor: PageCursor = None,
        limit: PageLimit = DEFAULT_LIMIT,
    ) -> Page[Member]:
        group.require("members.read")
        return await group.platform.members.list(group.scope, cursor=cursor, limit=limit)

    @patch("/members/{person_id:uuid}", summary="Change a member's role")
    async def change_role(
        self,
        person_id: FromPath[UUID],
        data: JSONBody[RoleChange],
        group: NamedDependency[GroupContext],
    ) -> Member:
        group.require("members.manage")
        return await group.platform.members.set_role(group.scope, person_id, data.role)

    @delete("/members/{person_id:uuid}", summary="Remove a member (or leave the group)")
    async def remove_member(
        self,
        person_id: FromPath[UUID],
        group: NamedDependency[GroupContext],
    ) -> None:
        if person_id != group.scope.person_id:  # anyone may leave; removing others is managing
            group.require("members.manage")
        await group.platform.members.remove(group.scope, person_id)

    @post("/invitations", summary="Invite someone by email (the token is shown once)")
    async def invite(
        self,
        data: JSONBody[InvitationRequest],
        group: NamedDependency[GroupContext],
    ) -> Response[InvitationCreated]:
        group.require("members.manage")
        created = await group.platform.members.invite(group.scope, data.email, data.role)
        return Response(created, status_code=201)

    @get("/invitations", summary="Pending invitations")
    async def list_invitations(
        self,
        group: NamedDependency[GroupContext],
    ) -> list[Invitation]:
        group.require("members.manage")
        return await group.platform.members.pending(group.scope)

    @delete("/invitations/{invitation_id:uuid}", summary="Withdraw an invitation")
    async def revoke_invitation(
        self,
        invitation_id: FromPath[UUID],
        group: NamedDependency[GroupContext],
    ) -> None:
        group.require("members.manage")
        await group.platform.members.revoke(group.scope, invitation_id)


@post("/api/v1/invitations/accept", tags=["members"], summary="Accept an invitation")
async def accept_invitation(
    data: JSONBody[InvitationAcceptance],
    actor: NamedDependency[Actor],
    platform: NamedDependency[Platform],
) -> Member:
    return await platform.members.accept(actor, data.token)

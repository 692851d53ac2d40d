"""Who belongs to a group, with which role, and invitations to join it.

Every change is written with its event in one transaction (``member_invited``,
``member_joined``, ``member_role_changed``, ``member_removed``). A group always keeps at
least one owner.
"""

from __future__ import annotations

import builtins
import secrets
from datetime import UTC, datetime, timedelta
from uuid import UUID

import asyncpg
import msgspec

from core.auth.tokens import Actor, hash_token, normal_email
from core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from core.ontology.ids import uuid7
from core.ontology.records import Page
from core.ontology.scope import GROUP_ROLES, Scope
from core.ontology.stores import Ontology, check_limit, decode_cursor, encode_cursor

INVITATION_PREFIX = "cpi_"
INVITATION_DAYS = 14


class Member(msgspec.Struct):
    person_id: UUID
    email: str
    name: str
    role: str
    joined_at: datetime


class Invitation(msgspec.Struct):
    id: UUID
    group_id: UUID
    email: str
    role: str
    created_at: datetime
    expires_at: datetime
    accepted_at: datetime | None = None


class InvitationCreated(msgspec.Struct):
    """The invitation and its token, shown this once: send it to the invitee."""

    invitation: Invitation
    token: str


INVITATION_COLUMNS = "id, group_id, email, role, created_at, expires_at, accepted_at"


def _check_role(role: str) -> None:
    if role not in GROUP_ROLES:
        raise ValidationFailed(f"role must be one of {', '.join(GROUP_ROLES)}", field="role")


class Members:
    def __init__(self, ontology: Ontology) -> None:
        self.ontology = ontology

    async def list(self, scope: Scope, *, cursor: str | None, limit: int) -> Page[Member]:
        limit = check_limit(limit)
        after = decode_cursor(cursor)
        async with self.ontology.scoped(scope).session.reading() as conn:
            rows = await conn.fetch(
                "SELECT p.id AS person_id, p.email, p.name, m.role, m.created_at AS joined_at "
                "FROM memberships m JOIN people p ON p.id = m.person_id WHERE m.group_id = $1 "
                "AND ($2::uuid IS NULL OR p.id < $2) ORDER BY p.id DESC LIMIT $3",
                scope.group_id,
                after,
                limit + 1,
            )
        members = [Member(**row) for row in rows]
        if len(members) > limit:
            members = members[:limit]
            return Page(items=members, next_cursor=encode_cursor(members[-1].person_id))
        return Page(items=members)

    async def _lock_owners(self, conn: asyncpg.Connection, group_id: UUID) -> int:
        rows = await conn.fetch(
            "SELECT person_id FROM memberships WHERE group_id = $1 AND role = 'org_owner' "
            "ORDER BY person_id FOR UPDATE",  # one order for all: no deadlock between owners
            group_id,
        )
        return len(rows)

    async def set_role(self, scope: Scope, person_id: UUID, role: str) -> Member:
        _check_role(role)
        async with self.ontology.transaction(scope) as o, o.session.transaction() as conn:
            owners = await self._lock_owners(conn, scope.group_id)
            current = await conn.fetchval(
                "SELECT role FROM memberships WHERE group_id = $1 AND person_id = $2 FOR UPDATE",
                scope.group_id,
                person_id,
            )
            if current is None:
                raise NotFound(f"member {person_id} not found")
            if current == "org_owner" and role != "org_owner" and owners <= 1:
                raise Conflict("a group needs at least one owner; make someone else owner first")
            row = await conn.fetchrow(
                "UPDATE memberships m SET role = $3 FROM people p WHERE m.group_id = $1 "
                "AND m.person_id = $2 AND p.id = m.person_id "
                "RETURNING p.id AS person_id, p.email, p.name, m.role, m.created_at AS joined_at",
                scope.group_id,
                person_id,
                role,
            )
            if current != role:
                await o.events.emit(
                    "member_role_changed",
                    {"person_id": str(person_id), "role": role, "previous_role": current},
                )
        return Member(**row)

    async def remove(self, scope: Scope, person_id: UUID) -> None:
        async with self.ontology.transaction(scope) as o, o.session.transaction() as conn:
            owners = await self._lock_owners(conn, scope.group_id)
            role = await conn.fetchval(
                "DELETE FROM memberships WHERE group_id = $1 AND person_id = $2 RETURNING role",
                scope.group_id,
                person_id,
            )
            if role is None:
                raise NotFound(f"member {person_id} not found")
            if role == "org_owner" and owners <= 1:
                raise Conflict("the last owner cannot leave; make someone else owner first")
            await o.events.emit("member_removed", {"person_id": str(person_id), "role": role})

    async def invite(self, scope: Scope, email: str, role: str) -> InvitationCreated:
        _check_role(role)
        email = normal_email(email)
        token = INVITATION_PREFIX + secrets.token_urlsafe(32)
        async with self.ontology.transaction(scope) as o, o.session.transaction() as conn:
            row = await conn.fetchrow(
                f"INSERT INTO invitations (id, group_id, email, role, token_hash, invited_by, "
                f"expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {INVITATION_COLUMNS}",
                uuid7(),
                scope.group_id,
                email,
                role,
                hash_token(token),
                scope.person_id,
                datetime.now(UTC) + timedelta(days=INVITATION_DAYS),
            )
            invitation = Invitation(**row)
            await o.events.emit(
                "member_invited",
                {"email": email, "role": role, "invitation_id": str(invitation.id)},
            )
        return InvitationCreated(invitation=invitation, token=token)

    async def pending(self, scope: Scope) -> builtins.list[Invitation]:
        async with self.ontology.scoped(scope).session.reading() as conn:
            rows = await conn.fetch(
                f"SELECT {INVITATION_COLUMNS} FROM invitations WHERE group_id = $1 "
                "AND accepted_at IS NULL AND expires_at > now() ORDER BY created_at DESC",
                scope.group_id,
            )
        return [Invitation(**row) for row in rows]

    async def revoke(self, scope: Scope, invitation_id: UUID) -> None:
        async with self.ontology.scoped(scope).session.transaction() as conn:
            status = await conn.execute(
                "DELETE FROM invitations WHERE group_id = $1 AND id = $2 AND accepted_at IS NULL",
                scope.group_id,
                invitation_id,
            )
        if status.endswith(" 0"):
            raise NotFound(f"invitation {invitation_id} not found")

    async def find(self, token: str) -> Invitation | None:
        """The invitation ``token`` opens, whatever its state (used, expired), for the page
        where an invitee accepts it to say which; ``None`` when no invitation has it."""
        async with self.ontology.db.pool.acquire() as conn:
            row = await conn.fetchrow(
                f"SELECT {INVITATION_COLUMNS} FROM invitations WHERE token_hash = $1",
                hash_token(token),
            )
        return None if row is None else Invitation(**row)

    async def accept(self, actor: Actor, token: str) -> Member:
        """Join the invitation's group. The invitation is for one email address and the
        accepting account's must match. Sign-up does not verify email addresses yet, so a
        leaked token plus a fresh account with that address still gets in: treat tokens as
        secrets (they are stored hashed and shown once)."""
        async with self.ontology.db.pool.acquire() as conn:
            row = await conn.fetchrow(
                f"SELECT {INVITATION_COLUMNS} FROM invitations WHERE token_hash = $1",
                hash_token(token),
            )
        if row is None or row["expires_at"] <= datetime.now(UTC):
            raise NotFound("this invitation does not exist or has expired")
        invitation = Invitation(**row)
        if invitation.accepted_at is not None:
            raise Conflict("this invitation has already been used")
        if invitation.email.lower() != actor.email.lower():
            raise Forbidden("this invitation was sent to another email address")
        scope = Scope(group_id=invitation.group_id, person_id=actor.id, role=invitation.role)
        async with self.ontology.transaction(scope) as o, o.session.transaction() as conn:
            used = await conn.execute(
                "UPDATE invitations SET accepted_at = now(), accepted_by = $2 "
                "WHERE id = $1 AND accepted_at IS NULL",
                invitation.id,
                actor.id,
            )
            if used.endswith(" 0"):
                raise Conflict("this invitation has already been used")
            member = await conn.fetchrow(
                "INSERT INTO memberships (group_id, person_id, role) VALUES ($1, $2, $3) "
                "ON CONFLICT (group_id, person_id) DO NOTHING "
                "RETURNING person_id, role, created_at AS joined_at",
                invitation.group_id,
                actor.id,
                invitation.role,
            )
            if member is None:  # roles change through the members API, never by invitation
                raise Conflict("you are already a member of this group")
            await o.events.emit(
                "member_joined", {"person_id": str(actor.id), "role": invitation.role}
            )
        return Member(email=actor.email, name=actor.name, **member)

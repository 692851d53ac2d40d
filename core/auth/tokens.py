"""People, groups and API tokens: the records behind ``actor`` and ``scope``.

Tokens are shown once and stored as SHA-256 digests: they carry 256 bits of randomness,
so a fast hash is the right tool (passwords, which do not, get a memory-hard KDF).

A token may carry an expiry (refused after it with ``token_expired``) and records when it
was last used. The look-up that authenticates a request also says whether that record is
more than :data:`LAST_USED_PRECISION` old, and only then is it written: one write per token
per minute, not one per request.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from uuid import UUID

import asyncpg
import msgspec

from core.db import Database
from core.errors import (
    Conflict,
    Forbidden,
    GroupLimitReached,
    NotFound,
    Unauthorized,
    ValidationFailed,
)
from core.ontology.ids import uuid7
from core.ontology.records import Group, Page
from core.ontology.scope import GROUP_ROLES, Scope
from core.ontology.stores import check_limit, decode_cursor, encode_cursor

TOKEN_PREFIX = "cp_"
#: ``last_used_at`` is rewritten once it is older than this, so it is at most this stale.
LAST_USED_PRECISION = "1 minute"
GROUP_COLUMNS = "id, parent_id, slug, name, kind, settings, created_at"


#: The person's role in group $2: their membership there, else in the nearest ancestor
#: (a role in a parent group applies to its sub-groups). ``{person}`` is the person's id.
_ROLE_IN_GROUP = (
    "(WITH RECURSIVE chain (id, parent_id, depth) AS ("
    "   SELECT id, parent_id, 0 FROM groups WHERE id = $2"
    "   UNION ALL"
    "   SELECT g.id, g.parent_id, c.depth + 1 FROM groups g JOIN chain c ON g.id = c.parent_id"
    "   WHERE c.depth < 32)"
    " SELECT m.role FROM memberships m JOIN chain c ON c.id = m.group_id"
    " WHERE m.person_id = {person} ORDER BY c.depth LIMIT 1)"
)
#: Root groups (organisations) where person $1 is an owner.
_ORGANISATIONS_OWNED_SQL = (
    "SELECT count(*) FROM groups g JOIN memberships m ON m.group_id = g.id "
    "WHERE m.person_id = $1 AND m.role = 'org_owner' AND g.parent_id IS NULL"
)
_PLATFORM_OWNER_SEES = (
    "(p.platform_role = 'platform_owner' AND EXISTS (SELECT 1 FROM groups WHERE id = $2))"
)
#: What a token look-up reads of the token itself: its id, whether it has expired, and
#: whether its ``last_used_at`` is due a rewrite.
_TOKEN_STATE = (
    "t.id AS token_id, coalesce(t.expires_at <= now(), false) AS expired, "
    f"(t.last_used_at IS NULL OR t.last_used_at < now() - interval '{LAST_USED_PRECISION}') "
    "AS use_unrecorded"
)
#: $1 = token hash, $2 = group id.
SCOPE_FOR_TOKEN_SQL = (
    f"SELECT p.id, p.platform_role, {_ROLE_IN_GROUP.format(person='p.id')} AS role, "
    f"{_PLATFORM_OWNER_SEES} AS owner_sees, {_TOKEN_STATE} "
    "FROM api_tokens t JOIN people p ON p.id = t.person_id "
    "WHERE t.token_hash = $1 AND t.revoked_at IS NULL"
)
#: $1 = token hash.
ACTOR_FOR_TOKEN_SQL = (
    f"SELECT p.id, p.email, p.name, p.platform_role, {_TOKEN_STATE} FROM api_tokens t "
    "JOIN people p ON p.id = t.person_id WHERE t.token_hash = $1 AND t.revoked_at IS NULL"
)
#: $1 = token id. The condition again, so processes racing on one token write once.
RECORD_USE_SQL = (
    "UPDATE api_tokens SET last_used_at = now() WHERE id = $1 AND "
    f"(last_used_at IS NULL OR last_used_at < now() - interval '{LAST_USED_PRECISION}')"
)
TOKEN_COLUMNS = "id, name, created_at, revoked_at, expires_at, last_used_at"


class TokenExpired(Unauthorized):
    code = "token_expired"
    title = "API token expired"


#: $1 = person id, $2 = group id.
SCOPE_FOR_PERSON_SQL = (
    f"SELECT p.id, p.platform_role, {_ROLE_IN_GROUP.format(person='p.id')} AS role, "
    f"{_PLATFORM_OWNER_SEES} AS owner_sees FROM people p WHERE p.id = $1"
)


#: The groups of the tree below $1 (with their parent and depth) and person $2's membership
#: in each, if any.
ROLES_BELOW_SQL = (
    "WITH RECURSIVE tree (id, parent_id, depth) AS ("
    " SELECT id, parent_id, 0 FROM groups WHERE id = $1"
    " UNION ALL SELECT g.id, g.parent_id, t.depth + 1 FROM groups g"
    " JOIN tree t ON g.parent_id = t.id WHERE t.depth < 32) "
    "SELECT t.id, t.parent_id, t.depth, m.role FROM tree t "
    "LEFT JOIN memberships m ON m.group_id = t.id AND m.person_id = $2 ORDER BY t.depth"
)


def _scope(row: asyncpg.Record, group_id: UUID) -> Scope:
    role = row["role"] or ("org_owner" if row["owner_sees"] else None)
    if role is None:
        raise NotFound(f"group {group_id} not found")
    return Scope(
        group_id=group_id, person_id=row["id"], role=role, platform_role=row["platform_role"]
    )


class Actor(msgspec.Struct, frozen=True):
    """The authenticated person behind a request."""

    id: UUID
    email: str
    name: str
    platform_role: str | None = None


class ApiToken(msgspec.Struct):
    """A token as its owner sees it: never its secret. ``last_used_at`` is at most a
    minute stale."""

    id: UUID
    name: str
    created_at: datetime
    revoked_at: datetime | None = None
    expires_at: datetime | None = None
    last_used_at: datetime | None = None


def normal_email(email: str) -> str:
    """The address without surrounding blanks; a 422 naming ``email`` if it cannot be one.
    (Deliverability is for a confirmation mail to prove, not for a pattern.)"""
    email = email.strip()
    local, _, domain = email.rpartition("@")
    if not local or "." not in domain or len(email) > 320 or " " in email:
        raise ValidationFailed("email is not a valid address", field="email")
    return email


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Directory:
    """People, their tokens and memberships, and groups: everything auth reads."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def create_person(
        self, email: str, name: str = "", *, platform_role: str | None = None
    ) -> Actor:
        email = normal_email(email)
        try:
            row = await self.db.pool.fetchrow(
                "INSERT INTO people (id, email, name, platform_role) VALUES ($1, $2, $3, $4) "
                "RETURNING id, email, name, platform_role",
                uuid7(),
                email,
                name,
                platform_role,
            )
        except asyncpg.UniqueViolationError:
            raise Conflict(f"a person with email {email!r} already exists") from None
        return Actor(**row)

    async def issue_token(
        self, person_id: UUID, name: str = "api", *, expires_in: timedelta | None = None
    ) -> tuple[ApiToken, str]:
        """Create a token, valid for ``expires_in`` (``None``: until revoked); the clear
        text is returned here and never again."""
        secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
        row = await self.db.pool.fetchrow(
            "INSERT INTO api_tokens (id, person_id, name, token_hash, expires_at) "
            f"VALUES ($1, $2, $3, $4, now() + $5::interval) RETURNING {TOKEN_COLUMNS}",
            uuid7(),
            person_id,
            name,
            hash_token(secret),
            expires_in,
        )
        return ApiToken(**row), secret

    async def tokens_of(self, person_id: UUID) -> list[ApiToken]:
        """A person's tokens, live, expired and revoked, newest first (never their
        secrets)."""
        rows = await self.db.pool.fetch(
            f"SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE person_id = $1 ORDER BY id DESC",
            person_id,
        )
        return [ApiToken(**row) for row in rows]

    async def revoke_token(self, person_id: UUID, token_id: UUID) -> None:
        status = await self.db.pool.execute(
            "UPDATE api_tokens SET revoked_at = now() "
            "WHERE id = $1 AND person_id = $2 AND revoked_at IS NULL",
            token_id,
            person_id,
        )
        if status.endswith(" 0"):
            raise NotFound(f"token {token_id} not found")

    async def actor_for_token(self, token: str) -> Actor:
        row = await self.db.pool.fetchrow(ACTOR_FOR_TOKEN_SQL, hash_token(token))
        await self._accept(row)
        return Actor(
            id=row["id"], email=row["email"], name=row["name"], platform_role=row["platform_role"]
        )

    async def _accept(self, row: asyncpg.Record | None) -> None:
        """Refuse a token that is unknown, revoked or expired; record its use if due."""
        if row is None:
            raise Unauthorized("the bearer token is unknown or revoked")
        if row["expired"]:
            raise TokenExpired("the bearer token has expired; create a new one")
        if row["use_unrecorded"]:
            await self.db.pool.execute(RECORD_USE_SQL, row["token_id"])

    async def person_for_token_hash(self, token_hash: str) -> UUID | None:
        """The person of a live token by its :func:`hash_token` digest, else ``None``:
        the cheapest check that a token is real (the rate limit keys on its answer)."""
        person_id: UUID | None = await self.db.pool.fetchval(
            "SELECT person_id FROM api_tokens WHERE token_hash = $1 AND revoked_at IS NULL",
            token_hash,
        )
        return person_id

    async def scope_for_token(self, token: str, group_id: UUID) -> Scope:
        """Actor and role in one round trip. A group the person is not in is a 404:
        the API does not confirm that another tenant's group exists."""
        row = await self.db.pool.fetchrow(SCOPE_FOR_TOKEN_SQL, hash_token(token), group_id)
        await self._accept(row)
        return _scope(row, group_id)

    async def scope_for_person(self, person_id: UUID, group_id: UUID) -> Scope:
        """The scope of an already authenticated person (a browser session) in a group."""
        row = await self.db.pool.fetchrow(SCOPE_FOR_PERSON_SQL, person_id, group_id)
        if row is None:
            raise Unauthorized("the account no longer exists")
        return _scope(row, group_id)

    async def roles_below(self, scope: Scope) -> dict[UUID, str]:
        """The role ``scope``'s person holds in each group of the tree below (and at) its
        group: their membership there, else the role in the nearest group above (as for
        any group). A membership in a sub-group may be weaker than the one above it (an
        owner of the organisation who is a customer of one product), so a read across
        the tree checks each group's role, not the top one's."""
        rows = await self.db.pool.fetch(ROLES_BELOW_SQL, scope.group_id, scope.person_id)
        roles: dict[UUID, str] = {}
        for row in rows:  # parents come before their children (by depth)
            inherited = roles.get(row["parent_id"], scope.role)
            roles[row["id"]] = scope.role if row["depth"] == 0 else row["role"] or inherited
        return roles

    # -- groups -----------------------------------------------------------------------

    async def create_group(
        self,
        actor: Actor,
        *,
        slug: str,
        name: str,
        kind: str = "organization",
        parent_id: UUID | None = None,
        settings: dict[str, object] | None = None,
        max_organisations: int = 0,
    ) -> Group:
        """Create a group with ``actor`` as its ``org_owner``. A sub-group needs the actor
        to own the parent. A new organisation (no parent) is refused with
        :class:`GroupLimitReached` when the actor already owns ``max_organisations`` of
        them (``0``: no limit; platform owners are exempt)."""
        async with self.db.pool.acquire() as conn, conn.transaction():
            if parent_id is None and max_organisations and actor.platform_role != "platform_owner":
                await self._check_organisations(conn, actor, max_organisations)
            if parent_id is not None:
                row = await conn.fetchrow(SCOPE_FOR_PERSON_SQL, actor.id, parent_id)
                try:
                    parent = _scope(row, parent_id)
                except NotFound:
                    raise NotFound(f"group {parent_id} not found", field="parent_id") from None
                if parent.role != "org_owner":
                    raise Forbidden("only the parent group's owners may add sub-groups")
            try:
                row = await conn.fetchrow(
                    f"INSERT INTO groups (id, parent_id, slug, name, kind, settings) "
                    f"VALUES ($1, $2, $3, $4, $5, $6) RETURNING {GROUP_COLUMNS}",
                    uuid7(),
                    parent_id,
                    slug,
                    name,
                    kind,
                    settings or {},
                )
            except asyncpg.UniqueViolationError:
                raise Conflict(f"the slug {slug!r} is taken", field="slug") from None
            except asyncpg.CheckViolationError:
                raise ValidationFailed(
                    "slug must be 1-63 lowercase letters, digits or '-', starting with a "
                    "letter or digit",
                    field="slug",
                ) from None
            await conn.execute(
                "INSERT INTO memberships (group_id, person_id, role) VALUES ($1, $2, 'org_owner')",
                row["id"],
                actor.id,
            )
        return Group(**row)

    @staticmethod
    async def _check_organisations(conn: asyncpg.Connection, actor: Actor, limit: int) -> None:
        # one person's creates wait for each other, so concurrent ones cannot both pass
        await conn.execute(
            "SELECT pg_advisory_xact_lock(hashtext('groups-of:' || $1::uuid::text))", actor.id
        )
        owned = await conn.fetchval(_ORGANISATIONS_OWNED_SQL, actor.id)
        if owned >= limit:
            raise GroupLimitReached(
                f"you already own {owned} organisations and this server allows {limit} per "
                "person (max_groups_per_person); delete one or add a sub-group instead",
                limit=limit,
                owned=owned,
            )

    async def add_member(self, group_id: UUID, person_id: UUID, role: str) -> None:
        if role not in GROUP_ROLES:
            raise ValidationFailed(f"role must be one of {', '.join(GROUP_ROLES)}", field="role")
        await self.db.pool.execute(
            "INSERT INTO memberships (group_id, person_id, role) VALUES ($1, $2, $3) "
            "ON CONFLICT (group_id, person_id) DO UPDATE SET role = EXCLUDED.role",
            group_id,
            person_id,
            role,
        )

    async def get_group(self, group_id: UUID) -> Group:
        row = await self.db.pool.fetchrow(
            f"SELECT {GROUP_COLUMNS} FROM groups WHERE id = $1", group_id
        )
        if row is None:
            raise NotFound(f"group {group_id} not found")
        return Group(**row)

    async def groups_of(
        self, person_id: UUID, *, cursor: str | None = None, limit: int = 50
    ) -> Page[Group]:
        limit = check_limit(limit)
        after = decode_cursor(cursor)
        rows = await self.db.pool.fetch(
            f"SELECT {', '.join('g.' + c for c in GROUP_COLUMNS.split(', '))} FROM groups g "
            "JOIN memberships m ON m.group_id = g.id WHERE m.person_id = $1 "
            "AND ($2::uuid IS NULL OR g.id < $2) ORDER BY g.id DESC LIMIT $3",
            person_id,
            after,
            limit + 1,
        )
        groups = [Group(**row) for row in rows]
        if len(groups) > limit:
            groups = groups[:limit]
            return Page(items=groups, next_cursor=encode_cursor(groups[-1].id))
        return Page(items=groups)

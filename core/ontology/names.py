"""Public names: names of a kind (a site's slug, a custom domain, a handle) that are
unique across groups, each held by one thing.

A visitor names a site, not a group, so the platform must know which group's thing a
name points to, and no two groups may hold the same name. ``o.names`` (:class:`Names`,
bound to a scope like every store) claims and releases the group's own names, in the
caller's transaction, so a name changes together with the thing it names.
``ontology.names`` (:class:`PublicNames`) resolves a name across groups for public
requests, and :meth:`PublicNames.locate` finds which group holds a thing the public
may see.

Names are matched without regard to case (stored lower-cased). A claim is ``pending``
until the plugin that owns the kind has checked whatever makes it trustworthy (a DNS
record for a domain, say) and calls :meth:`Names.verify`; kinds that need no check are
claimed ``verified=True``. Only a verified claim holds a name against other groups:
several groups may each have a pending claim on one name, and the first to prove it wins
(the others stay pending and can never be verified while it holds). Otherwise whoever
claimed a domain first could keep its real owner out by never verifying it. Within a
group a name has one claimant. Soft-deleting a thing releases its names.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Literal
from uuid import UUID

import asyncpg
import msgspec

from core.errors import Conflict, NotFound, ValidationFailed
from core.ontology.records import Thing

if TYPE_CHECKING:
    from core.db import Database
    from core.ontology.stores import ScopedOntology

NameStatus = Literal["pending", "verified"]

_KIND_RE = re.compile(r"[a-z][a-z0-9_.]{0,62}")
#: Longest name: a DNS name's limit, far beyond any slug or handle.
MAX_NAME_LENGTH = 253

_COLUMNS = "kind, name, group_id, thing_id, status, claimed_at, verified_at"


class PublicName(msgspec.Struct, frozen=True):
    """A name of ``kind`` held by the thing ``thing_id`` of ``group_id``."""

    kind: str
    name: str
    group_id: UUID
    thing_id: UUID
    status: NameStatus
    claimed_at: datetime
    verified_at: datetime | None = None

    @property
    def verified(self) -> bool:
        return self.status == "verified"


class NameTaken(Conflict):
    """Another thing, of this group or another, holds the name."""

    code = "name_taken"
    title = "Name taken"


def normalize(kind: str, name: str) -> tuple[str, str]:
    """``(kind, name)`` as stored: the kind checked, the name trimmed and lower-cased."""
    if not _KIND_RE.fullmatch(kind):
        raise ValueError(f"{kind!r} is not a name kind (lower-case letters, digits, _ and .)")
    clean = name.strip().lower()
    if not clean or len(clean) > MAX_NAME_LENGTH or "\x00" in clean:
        raise ValidationFailed(f"a {kind} must be 1 to {MAX_NAME_LENGTH} characters", field="name")
    return kind, clean


class Names:
    """The names a group holds (``o.names``), written in the scope's unit of work."""

    def __init__(self, scoped: ScopedOntology) -> None:
        self._scoped = scoped
        self.session = scoped.session
        self.group_id = scoped.scope.group_id
        self._public = PublicNames(scoped.session.db)

    async def claim(
        self, kind: str, name: str, thing_id: UUID, *, verified: bool = False
    ) -> PublicName:
        """Claim ``name`` for ``thing_id`` (a live thing of this group). Claiming a name the
        same thing holds already returns it (made ``verified`` if asked). A name another
        thing of this group claims, or another group holds verified, is a
        :class:`NameTaken` conflict; another group's pending claim is not."""
        kind, name = normalize(kind, name)
        status: NameStatus = "verified" if verified else "pending"
        async with self.session.transaction() as conn:
            await self._scoped.things.get(thing_id)  # a live thing of this group, or 404
            # A pending claim beside another group's verified one could never be verified:
            # say so now. (A verified insert is refused by the unique index instead.)
            held = await self._public.resolve(kind, name, verified_only=True)
            if held is not None and held.group_id != self.group_id:
                raise NameTaken(f"the {kind} {name!r} is taken", kind=kind, name=name)
            row = await conn.fetchrow(
                f"INSERT INTO public_names (kind, name, group_id, thing_id, status, verified_at) "
                f"VALUES ($1, $2, $3, $4, $5, CASE WHEN $5 = 'verified' THEN now() END) "
                # No target: the group's own claim and another group's verified one both
                # make it do nothing.
                f"ON CONFLICT DO NOTHING RETURNING {_COLUMNS}",
                kind,
                name,
                self.group_id,
                thing_id,
                status,
            )
            if row is not None:
                return PublicName(**row)
            held = await self._get(kind, name)  # this group's claim, if that was the conflict
            if held is None or held.thing_id != thing_id:
                raise NameTaken(f"the {kind} {name!r} is taken", kind=kind, name=name)
            if verified and not held.verified:
                return await self.verify(kind, name)
            return held

    async def set(
        self, kind: str, thing_id: UUID, name: str | None, *, verified: bool = False
    ) -> PublicName | None:
        """Make ``name`` the one name of ``kind`` that ``thing_id`` holds, releasing any
        other it held (``None``: release them all). For kinds a thing has at most one of,
        such as a site's slug."""
        async with self.session.transaction() as conn:
            claim = None
            if name is not None:
                claim = await self.claim(kind, name, thing_id, verified=verified)
            await conn.execute(
                "DELETE FROM public_names WHERE group_id = $1 AND thing_id = $2 AND kind = $3 "
                "AND name IS DISTINCT FROM $4",
                self.group_id,
                thing_id,
                kind,
                claim.name if claim else None,
            )
        return claim

    async def release(self, kind: str, name: str) -> bool:
        """Give up ``name`` (held by a thing of this group); ``False`` if it held none."""
        kind, name = normalize(kind, name)
        async with self.session.transaction() as conn:
            status: str = await conn.execute(
                "DELETE FROM public_names WHERE group_id = $1 AND kind = $2 AND name = $3",
                self.group_id,
                kind,
                name,
            )
        return status != "DELETE 0"

    async def release_thing(self, thing_id: UUID) -> int:
        """Give up every name ``thing_id`` holds (its deletion does this)."""
        async with self.session.transaction() as conn:
            status: str = await conn.execute(
                "DELETE FROM public_names WHERE group_id = $1 AND thing_id = $2",
                self.group_id,
                thing_id,
            )
        return int(status.split()[-1])

    async def verify(self, kind: str, name: str, *, verified: bool = True) -> PublicName:
        """Mark this group's claim on ``name`` verified (or back to pending); another
        group holding it verified already is a :class:`NameTaken` conflict."""
        kind, name = normalize(kind, name)
        async with self.session.transaction() as conn, conn.transaction():
            # A savepoint: the caller's transaction survives a refused verification.
            try:
                row = await self._set_status(conn, kind, name, verified)
            except asyncpg.UniqueViolationError:
                raise NameTaken(
                    f"the {kind} {name!r} is held by another group", kind=kind, name=name
                ) from None
        if row is None:
            raise NotFound(f"this group holds no {kind} {name!r}")
        return PublicName(**row)

    async def _set_status(
        self, conn: asyncpg.Connection, kind: str, name: str, verified: bool
    ) -> asyncpg.Record | None:
        row: asyncpg.Record | None = await conn.fetchrow(
            f"UPDATE public_names SET status = $4, "
            f"verified_at = CASE WHEN $4 = 'verified' THEN now() END "
            f"WHERE group_id = $1 AND kind = $2 AND name = $3 RETURNING {_COLUMNS}",
            self.group_id,
            kind,
            name,
            "verified" if verified else "pending",
        )
        return row

    async def of_thing(self, thing_id: UUID, kind: str | None = None) -> list[PublicName]:
        """The names ``thing_id`` holds (of ``kind``), by kind then name."""
        async with self.session.reading() as conn:
            rows = await conn.fetch(
                f"SELECT {_COLUMNS} FROM public_names WHERE group_id = $1 AND thing_id = $2 "
                "AND ($3::text IS NULL OR kind = $3) ORDER BY kind, name",
                self.group_id,
                thing_id,
                kind,
            )
        return [PublicName(**row) for row in rows]

    async def _get(self, kind: str, name: str) -> PublicName | None:
        async with self.session.reading() as conn:
            row = await conn.fetchrow(
                f"SELECT {_COLUMNS} FROM public_names WHERE group_id = $1 "
                "AND kind = $2 AND name = $3",
                self.group_id,
                kind,
                name,
            )
        return PublicName(**row) if row else None


class PublicNames:
    """Look-ups across groups for public requests (``ontology.names``): a visitor names a
    site or a clone, not a group. They return only what is public by nature: who holds a
    name, and where a published thing lives."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def resolve(
        self, kind: str, name: str, *, verified_only: bool = False
    ) -> PublicName | None:
        """Who holds ``name`` of ``kind``: the verified claim, else the earliest pending
        one (``None``: nobody, or only pending claims when ``verified_only``)."""
        try:
            kind, name = normalize(kind, name)
        except ValidationFailed:
            return None  # a name that cannot be held is held by nobody
        async with self._db.system() as conn:
            row = await conn.fetchrow(
                f"SELECT {_COLUMNS} FROM public_names WHERE kind = $1 AND name = $2 "
                "ORDER BY status = 'verified' DESC, claimed_at, group_id LIMIT 1",
                kind,
                name,
            )
        if row is None or (verified_only and row["status"] != "verified"):
            return None
        return PublicName(**row)

    async def list(
        self,
        kind: str,
        *,
        status: NameStatus | None = None,
        after: str | None = None,
        after_group: UUID | None = None,
        limit: int = 100,
    ) -> list[PublicName]:
        """Claims on names of ``kind`` in any group (of ``status``), by name then group,
        those after ``after`` (with ``after_group``: after that group's claim on it, as
        several groups may claim one name): for platform-wide upkeep, such as re-checking
        every custom domain."""
        kind, _ = normalize(kind, "x")
        if not 1 <= limit <= 1000:
            raise ValueError("limit must be between 1 and 1000")
        async with self._db.system() as conn:
            rows = await conn.fetch(
                f"SELECT {_COLUMNS} FROM public_names WHERE kind = $1 "
                "AND ($2::text IS NULL OR status = $2) AND ($3::text IS NULL OR name > $3 "
                "OR (name = $3 AND group_id > $5)) ORDER BY name, group_id LIMIT $4",
                kind,
                status,
                after,
                limit,
                after_group,
            )
        return [PublicName(**row) for row in rows]

    async def is_taken(self, kind: str, name: str, *, by_other_than: UUID | None = None) -> bool:
        """Whether a thing (other than ``by_other_than``) holds ``name`` verified: a check
        before a write, to answer with a clear conflict early; the claim itself stays the
        judge (it also refuses a name another thing of the same group claims)."""
        held = await self.resolve(kind, name, verified_only=True)
        return held is not None and held.thing_id != by_other_than

    async def locate(
        self, thing_id: UUID, *, type: str, statuses: Sequence[str] = ("published",)
    ) -> Thing | None:
        """The thing ``thing_id`` of ``type``, in whichever group holds it, if its status
        is one of ``statuses`` (those its type shows the public), else ``None``: how a
        public surface that names a thing by id (a clone's widget) finds its group.
        Nothing else is found, so nothing private leaks."""
        from core.ontology.stores import THING_COLUMNS

        async with self._db.system() as conn:
            row = await conn.fetchrow(
                f"SELECT {THING_COLUMNS} FROM things WHERE id = $1 AND type = $2 "
                "AND status = ANY($3::text[]) AND deleted_at IS NULL",
                thing_id,
                type,
                list(statuses),
            )
        return Thing(**row) if row else None


def claim_names_statement(kind: str, thing_type: str, prop: str, *, verified: bool) -> str:
    """SQL for a plugin's migration that moves names its things kept in the property
    ``prop`` onto the registry: each live thing of ``thing_type`` claims the value as a
    name of ``kind`` (a name held already stays with its holder; two things of a group
    with one name: the first keeps it)."""
    normalize(kind, "x")
    for what, value in (("thing type", thing_type), ("property", prop)):
        if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", value):
            raise ValueError(f"{value!r} is not a plain lower-case {what}")
    status = "verified" if verified else "pending"
    at = "now()" if verified else "NULL"
    return (
        "INSERT INTO public_names (kind, name, group_id, thing_id, status, verified_at) "
        f"SELECT '{kind}', lower(btrim(properties->>'{prop}')), group_id, id, '{status}', {at} "
        f"FROM things WHERE type = '{thing_type}' AND deleted_at IS NULL "
        f"AND coalesce(btrim(properties->>'{prop}'), '') <> '' "
        "ON CONFLICT DO NOTHING"
    )

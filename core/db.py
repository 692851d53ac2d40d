"""The asyncpg pools every store shares, with JSONB (msgspec) and pgvector codecs, and the
database roles they log in as.

Three logins, so that no SQL the app runs can set tenancy aside:

* the app's pool logs in as :data:`APP_ROLE`: not a superuser, not the tables' owner,
  a member of no other role, so row-level security always applies to it;
* a small second pool for the platform's own cross-group work (:meth:`Database.system`)
  logs in as :data:`SYSTEM_ROLE`, which row-level security lets see every group
  (``BYPASSRLS``) and which may only read and write rows;
* the URL's own user (the tables' owner) runs migrations and on-demand DDL
  (:meth:`Database.as_owner`) only.

The app and system logins are ``database_app_url`` / ``database_system_url`` when an
operator's DBA made the roles; otherwise they are derived from ``database_url`` with a
password derived from the deployment's secret, and the migration step gives the roles
those passwords (:func:`core.migrations.ensure_login_roles`).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import asyncpg
import msgspec

if TYPE_CHECKING:
    from core.settings import Settings

_json_encode = msgspec.json.Encoder().encode
_json_decode = msgspec.json.Decoder().decode


def _encode_json(value: Any) -> str:
    return _json_encode(value).decode()


async def init_connection(conn: asyncpg.Connection) -> None:
    """Codecs for every pooled connection: JSON through msgspec, vectors through pgvector."""
    for name in ("jsonb", "json"):
        await conn.set_type_codec(
            name, encoder=_encode_json, decoder=_json_decode, schema="pg_catalog"
        )
    from pgvector.asyncpg import register_vector

    # Before the first migration the extension may not exist yet; vectors come later.
    with contextlib.suppress(ValueError):
        await register_vector(conn)


#: The role the app's pooled connections log in as: not a superuser, not the tables'
#: owner and a member of no other role, so row-level security always applies to it.
APP_ROLE = "creator_app"
#: The role of :meth:`Database.system` connections: it sees every group's rows
#: (``BYPASSRLS``) and may read and write rows, nothing more.
SYSTEM_ROLE = "creator_system"
#: Which groups the statements that follow may see (row-level security reads it).
SET_GROUPS_SQL = "SELECT set_config('creator.groups', $1, $2)"


def role_password(secret: str, role: str) -> str:
    """The password of ``role`` derived from the deployment's secret: every process of a
    deployment computes the same one, and it reveals nothing of the secret."""
    message = f"creator-platform database role {role}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def login_url(url: str, role: str, password: str) -> str:
    """``url`` (any PostgreSQL URL) logging in as ``role`` with ``password`` instead."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    query = [(k, v) for k, v in parse_qsl(parts.query) if k not in ("user", "password")]
    netloc = f"{quote(role, safe='')}:{quote(password, safe='')}@{host}"
    return urlunsplit(parts._replace(netloc=netloc, query=urlencode(query, safe="/")))


@dataclass(frozen=True)
class Logins:
    """Where each of the platform's three database logins connects."""

    #: The tables' owner: migrations and on-demand DDL only.
    owner: str
    #: :data:`APP_ROLE`: every request's and job's work, under row-level security.
    app: str
    #: :data:`SYSTEM_ROLE`: the platform's own cross-group work.
    system: str
    #: Passwords the migration step gives the roles it manages, by role: those whose
    #: login was derived from ``owner`` (not set by an operator's URL).
    managed: Mapping[str, str] = field(default_factory=dict)


def database_logins(settings: Settings) -> Logins:
    """The logins of ``settings``: ``database_app_url`` and ``database_system_url`` when
    set, else ``database_url`` as :data:`APP_ROLE` / :data:`SYSTEM_ROLE` with passwords
    derived from the deployment's secret."""
    from core.auth.secrets import signing_secret

    owner = settings.database_url
    if not owner:
        raise RuntimeError("database_url is not set (see Runtime)")
    explicit = {APP_ROLE: settings.database_app_url, SYSTEM_ROLE: settings.database_system_url}
    derived = [role for role, url in explicit.items() if not url]
    secret = signing_secret(settings) if derived else ""
    managed = {role: role_password(secret, role) for role in derived}
    urls = {role: url or login_url(owner, role, managed[role]) for role, url in explicit.items()}
    return Logins(owner=owner, app=urls[APP_ROLE], system=urls[SYSTEM_ROLE], managed=managed)


class Database:
    """Two lazily opened asyncpg pools on one PostgreSQL database: the app's (:attr:`pool`)
    and the system's (:meth:`system`), each logged in as its own role.

    ``RESET ALL`` on release clears the group setting, so a connection never carries one
    unit of work's groups into the next.
    """

    def __init__(
        self, logins: Logins, *, min_size: int = 2, max_size: int = 10, system_max_size: int = 4
    ) -> None:
        self.logins = logins
        self.min_size = min_size
        self.max_size = max_size
        self.system_max_size = system_max_size
        self._pool: asyncpg.Pool | None = None
        self._system_pool: asyncpg.Pool | None = None

    async def open(self) -> None:
        if self._pool is None:
            self._pool = await self._create_pool(self.logins.app, self.min_size, self.max_size)
        if self._system_pool is None:
            # One kept open: public look-ups (a site's name) go through it.
            self._system_pool = await self._create_pool(
                self.logins.system, min(1, self.min_size), self.system_max_size
            )

    @staticmethod
    async def _create_pool(url: str, min_size: int, max_size: int) -> asyncpg.Pool:
        try:
            return await asyncpg.create_pool(
                dsn=url, min_size=min_size, max_size=max_size, init=init_connection
            )
        except (
            asyncpg.InvalidAuthorizationSpecificationError,
            asyncpg.InvalidPasswordError,
        ) as exc:
            role = urlsplit(url).username or "?"
            raise RuntimeError(
                f"cannot log in to the database as {role!r}: {exc}. Run `creator migrate` "
                "(it gives the platform's roles their passwords), or check "
                "database_app_url / database_system_url"
            ) from exc

    @contextlib.asynccontextmanager
    async def system(self) -> AsyncIterator[asyncpg.Connection]:
        """A connection that sees every group, for the platform's own cross-group work (the
        outbox relay, dead letters, re-embedding, public look-ups). Callers say so
        explicitly; it comes from a pool of its own, logged in as :data:`SYSTEM_ROLE`."""
        async with self._running(self._system_pool).acquire() as conn:
            yield conn

    @contextlib.asynccontextmanager
    async def as_owner(self) -> AsyncIterator[asyncpg.Connection]:
        """A connection of its own as the database URL's user (the tables' owner), for DDL
        such as creating an index on demand. Not pooled."""
        conn = await asyncpg.connect(self.logins.owner)
        try:
            yield conn
        finally:
            await conn.close()

    async def close(self) -> None:
        for name in ("_pool", "_system_pool"):
            pool = getattr(self, name)
            if pool is not None:
                setattr(self, name, None)
                await pool.close()

    @property
    def pool(self) -> asyncpg.Pool:
        """The app's pool (:data:`APP_ROLE`)."""
        return self._running(self._pool)

    @staticmethod
    def _running(pool: asyncpg.Pool | None) -> asyncpg.Pool:
        if pool is None:
            raise RuntimeError("the database pool is not open; the app has not started")
        return pool

    async def ping(self) -> bool:
        async with self.pool.acquire() as conn:
            return bool(await conn.fetchval("SELECT 1") == 1)

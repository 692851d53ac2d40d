"""Browser sessions: a signed, HttpOnly, SameSite cookie naming a server-side session row.

The cookie carries a random secret signed with the deployment secret (itsdangerous), so a
forged or tampered cookie is refused without touching the database; the row (keyed by the
secret's SHA-256) makes log-out and expiry immediate. Each session has a CSRF token that
cookie-authenticated writes must echo in ``X-CSRF-Token``.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta
from uuid import UUID

import msgspec
from itsdangerous import BadSignature, Signer

from core.auth.tokens import Actor
from core.db import Database
from core.errors import Forbidden, Unauthorized

COOKIE_NAME = "creator_session"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class CsrfFailed(Forbidden):
    code = "csrf_failed"
    title = "CSRF token missing or wrong"


class SessionInfo(msgspec.Struct):
    person: Actor
    csrf_token: str
    expires_at: datetime


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class Sessions:
    def __init__(self, db: Database, signing_secret: str, lifetime: timedelta) -> None:
        self.db = db
        self.signer = Signer(signing_secret, salt="creator.session")
        self.lifetime = lifetime

    async def open(self, person_id: UUID, *, user_agent: str = "") -> tuple[str, str]:
        """Start a session; returns (cookie value, CSRF token)."""
        secret = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(24)
        await self.db.pool.execute(
            "INSERT INTO sessions (id, person_id, csrf_token, expires_at, user_agent) "
            "VALUES ($1, $2, $3, $4, $5)",
            _digest(secret),
            person_id,
            csrf,
            datetime.now(UTC) + self.lifetime,
            user_agent[:300],
        )
        return self.signer.sign(secret).decode(), csrf

    def decoy(self) -> tuple[str, str]:
        """A cookie and CSRF token shaped like :meth:`open`'s that name no session: what a
        sign-up with a taken email answers, so the answer does not tell it was taken."""
        return self.signer.sign(secrets.token_urlsafe(32)).decode(), secrets.token_urlsafe(24)

    def _secret(self, cookie: str) -> str:
        try:
            return str(self.signer.unsign(cookie).decode())
        except BadSignature:
            raise Unauthorized("the session cookie is not valid; log in again") from None

    async def resolve(self, cookie: str, *, method: str, csrf_header: str | None) -> SessionInfo:
        """The session's person; for unsafe methods the CSRF token must match."""
        row = await self.db.pool.fetchrow(
            "SELECT s.csrf_token, s.expires_at, p.id, p.email, p.name, p.platform_role "
            "FROM sessions s JOIN people p ON p.id = s.person_id "
            "WHERE s.id = $1 AND s.expires_at > now()",
            _digest(self._secret(cookie)),
        )
        if row is None:
            raise Unauthorized("the session has ended; log in again")
        if method not in SAFE_METHODS and not (
            csrf_header and secrets.compare_digest(csrf_header.encode(), row["csrf_token"].encode())
        ):
            raise CsrfFailed(
                "cookie-authenticated writes need the session's CSRF token in X-CSRF-Token"
            )
        person = Actor(
            id=row["id"], email=row["email"], name=row["name"], platform_role=row["platform_role"]
        )
        return SessionInfo(
            person=person, csrf_token=row["csrf_token"], expires_at=row["expires_at"]
        )

    def digest_of(self, cookie: str) -> str | None:
        """The session row's key for a cookie whose signature holds, else ``None`` (no
        database work: a forged cookie costs an HMAC)."""
        try:
            return _digest(self.signer.unsign(cookie).decode())
        except (BadSignature, UnicodeDecodeError):
            return None

    async def person_for_digest(self, digest: str) -> UUID | None:
        """The person of a live session by its row key (no CSRF check: the rate limit
        only asks who is calling)."""
        person_id: UUID | None = await self.db.pool.fetchval(
            "SELECT person_id FROM sessions WHERE id = $1 AND expires_at > now()", digest
        )
        return person_id

    async def close(self, cookie: str) -> None:
        await self.db.pool.execute(
            "DELETE FROM sessions WHERE id = $1", _digest(self._secret(cookie))
        )

"""Sign-up and log-in: passwords checked with Argon2id, attempts limited per account and
per address, so guessing is slow whichever way it is spread."""

from __future__ import annotations

import asyncpg

from core.auth.passwords import check_strength, hash_password, needs_rehash, verify_password
from core.auth.ratelimit import AttemptLimiter, Limit
from core.auth.tokens import Actor, normal_email
from core.db import Database
from core.errors import Conflict, Unauthorized
from core.ontology.ids import uuid7

LOGIN_PER_ACCOUNT = Limit("login_account", attempts=10, window_seconds=900)
LOGIN_PER_ADDRESS = Limit("login_address", attempts=50, window_seconds=900)
SIGNUP_PER_ADDRESS = Limit("signup_address", attempts=20, window_seconds=3600)


class Accounts:
    def __init__(self, db: Database, limiter: AttemptLimiter) -> None:
        self.db = db
        self.limiter = limiter

    async def sign_up(self, email: str, password: str, name: str = "", *, address: str) -> Actor:
        email = normal_email(email)
        check_strength(password)
        await self.limiter.hit(SIGNUP_PER_ADDRESS, address)
        password_hash = await hash_password(password)
        try:
            row = await self.db.pool.fetchrow(
                "INSERT INTO people (id, email, name, password_hash) VALUES ($1, $2, $3, $4) "
                "RETURNING id, email, name, platform_role",
                uuid7(),
                email,
                name,
                password_hash,
            )
        except asyncpg.UniqueViolationError:
            raise Conflict("an account with this email already exists", field="email") from None
        return Actor(**row)

    async def log_in(self, email: str, password: str, *, address: str) -> Actor:
        await self.limiter.hit(LOGIN_PER_ADDRESS, address)
        await self.limiter.hit(LOGIN_PER_ACCOUNT, email.strip())
        row = await self.db.pool.fetchrow(
            "SELECT id, email, name, platform_role, password_hash FROM people "
            "WHERE lower(email) = lower($1)",
            email.strip(),
        )
        stored = row["password_hash"] if row is not None else None
        if row is None or not await verify_password(stored, password):
            raise Unauthorized("email or password is wrong")
        await self.limiter.reset(LOGIN_PER_ACCOUNT, email.strip())
        if stored is not None and needs_rehash(stored):
            await self.db.pool.execute(
                "UPDATE people SET password_hash = $2 WHERE id = $1",
                row["id"],
                await hash_password(password),
            )
        return Actor(
            id=row["id"], email=row["email"], name=row["name"], platform_role=row["platform_role"]
        )

"""Sign-up and log-in: passwords checked with Argon2id, attempts limited per address and
slowed per account, so guessing is slow whichever way it is spread.

Per address, log-in is a lock-out (:data:`LOGIN_PER_ADDRESS`): one address trying many
accounts is refused until its window ends. Per account it is a progressive delay
(:data:`LOGIN_DELAY`, see :mod:`core.auth.ratelimit`): after a few failures each further
attempt waits twice as long, at most 15 minutes, and an attempt that comes too early is
refused before the password is looked at. A lock-out per account would let anyone keep
its owner out; the delay only slows the guesser, and the owner's right password logs in
once the current wait is over. A browser that logged in to the account before carries a
device cookie (:mod:`core.auth.devices`), and its attempts wait on a delay of their own
(:data:`DEVICE_DELAY`), so a guesser who takes every turn the account gets still cannot
keep its owner out.

Sign-up does not say whether an email is registered. There is no mail yet to answer
"check your inbox" in both cases, and an account usable at once is the point of signing up
without mail, so :meth:`Accounts.sign_up` reports whether it created the account and the
route answers both cases alike: 201, the same body shape, a session cookie of the same
shape, after the same Argon2 work. For a taken email nothing changes (no password is set,
nobody is logged in) and the cookie names no session. What that leaves is plain: the
caller learns the answer by using the session, one more request after a sign-up that is
limited per address (:data:`SIGNUP_PER_ADDRESS`), where a 409 used to tell at once and
invited scripted checks. Confirming the address by mail, which closes that too, comes with
mail.
"""

from __future__ import annotations

import msgspec

from core.auth.passwords import check_strength, hash_password, needs_rehash, verify_password
from core.auth.ratelimit import AttemptLimiter, Backoff, Limit
from core.auth.tokens import Actor, normal_email
from core.db import Database
from core.errors import Unauthorized
from core.ontology.ids import uuid7

LOGIN_DELAY = Backoff(
    "log_in",
    free_attempts=5,
    first_delay_seconds=1.0,
    max_delay_seconds=900.0,
    forget_after_seconds=86400,
)
#: The same delay for one known device's attempts (a device cookie's own line).
DEVICE_DELAY = Backoff(
    "log_in_device",
    free_attempts=5,
    first_delay_seconds=1.0,
    max_delay_seconds=900.0,
    forget_after_seconds=86400,
)
LOGIN_PER_ADDRESS = Limit("login_address", attempts=50, window_seconds=900)
SIGNUP_PER_ADDRESS = Limit("signup_address", attempts=20, window_seconds=3600)


class SignUpResult(msgspec.Struct, frozen=True):
    """The person as the sign-up answers it, and whether the account was created now
    (``False``: the email was taken; ``person`` is then the caller's input under an id
    that no account has)."""

    person: Actor
    created: bool


class Accounts:
    def __init__(self, db: Database, limiter: AttemptLimiter) -> None:
        self.db = db
        self.limiter = limiter
        self.login_delay = LOGIN_DELAY
        self.device_delay = DEVICE_DELAY
        self.login_per_address = LOGIN_PER_ADDRESS

    async def sign_up(
        self, email: str, password: str, name: str = "", *, address: str
    ) -> SignUpResult:
        """Create the account, or leave a taken email's account as it is (module doc). Both
        paths hash the password and run the same statement, so they take the same time."""
        email = normal_email(email)
        check_strength(password)
        await self.limiter.hit(SIGNUP_PER_ADDRESS, address)
        password_hash = await hash_password(password)
        person_id = uuid7()
        row = await self.db.pool.fetchrow(
            "INSERT INTO people (id, email, name, password_hash) VALUES ($1, $2, $3, $4) "
            "ON CONFLICT DO NOTHING RETURNING id, email, name, platform_role",
            person_id,
            email,
            name,
            password_hash,
        )
        if row is None:
            return SignUpResult(Actor(id=person_id, email=email, name=name), created=False)
        return SignUpResult(Actor(**row), created=True)

    async def log_in(
        self, email: str, password: str, *, address: str, device: str | None = None
    ) -> Actor:
        """Check the password; ``device`` is the id of a known device's cookie for this
        account (:meth:`core.auth.devices.Devices.known`), whose attempts wait on their own
        delay instead of the account's."""
        await self.limiter.hit(self.login_per_address, address)
        # Keyed by the address as typed, account or not: the answer is the same either way.
        delay, subject = (
            (self.device_delay, device) if device else (self.login_delay, email.strip())
        )
        await self.limiter.take_turn(delay, subject)
        row = await self.db.pool.fetchrow(
            "SELECT id, email, name, platform_role, password_hash FROM people "
            "WHERE lower(email) = lower($1)",
            email.strip(),
        )
        stored = row["password_hash"] if row is not None else None
        if row is None or not await verify_password(stored, password):
            raise Unauthorized("email or password is wrong")
        await self.limiter.forgive(delay, subject)
        if stored is not None and needs_rehash(stored):
            await self.db.pool.execute(
                "UPDATE people SET password_hash = $2 WHERE id = $1",
                row["id"],
                await hash_password(password),
            )
        return Actor(
            id=row["id"], email=row["email"], name=row["name"], platform_role=row["platform_role"]
        )

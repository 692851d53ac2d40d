"""Password hashing with Argon2id (argon2-cffi): memory-hard, salted, self-describing."""

from __future__ import annotations

import anyio
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from core.errors import ValidationFailed

MIN_LENGTH = 10
MAX_LENGTH = 1024  # a cap, so a megabyte "password" cannot burn a core

_hasher = PasswordHasher()


def check_strength(password: str) -> None:
    if len(password) < MIN_LENGTH:
        raise ValidationFailed(
            f"password must be at least {MIN_LENGTH} characters", field="password"
        )
    if len(password) > MAX_LENGTH:
        raise ValidationFailed(
            f"password must be at most {MAX_LENGTH} characters", field="password"
        )


def _hash(password: str) -> str:
    return str(_hasher.hash(password))


def _verify(stored_hash: str | None, password: str) -> bool:
    if not stored_hash:
        _hasher.hash(password)  # the same work as a real check, so timing does not tell
        return False
    try:
        return bool(_hasher.verify(stored_hash, password))
    except (VerificationError, InvalidHashError):
        return False


# Argon2 is CPU-heavy by design: run it in a worker thread, never on the event loop.
async def hash_password(password: str) -> str:
    return await anyio.to_thread.run_sync(_hash, password)


async def verify_password(stored_hash: str | None, password: str) -> bool:
    """Constant-work check: with no stored hash, hash anyway so timing does not tell."""
    return await anyio.to_thread.run_sync(_verify, stored_hash, password)


def needs_rehash(stored_hash: str) -> bool:
    return bool(_hasher.check_needs_rehash(stored_hash))

"""Password hashing with Argon2id (argon2-cffi): memory-hard, salted, self-describing."""

from __future__ import annotations

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


def hash_password(password: str) -> str:
    return str(_hasher.hash(password))


def verify_password(stored_hash: str | None, password: str) -> bool:
    """Constant-work check: with no stored hash, hash anyway so timing does not tell."""
    if not stored_hash:
        _hasher.hash(password)
        return False
    try:
        return bool(_hasher.verify(stored_hash, password))
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    return bool(_hasher.check_needs_rehash(stored_hash))

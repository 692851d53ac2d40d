"""The deployment's signing secret: ``CREATOR_SECRET_KEY``, or one kept in the data dir.

Every process of a deployment must share it; set ``CREATOR_SECRET_KEY`` when processes do
not share a data directory.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from core.settings import MIN_SECRET_KEY_LENGTH, Settings, SettingsError


def signing_secret(settings: Settings) -> str:
    """``secret_key`` (its length checked with the settings), else the kept key, made on
    first use; a kept key someone shortened by hand is refused like a short setting."""
    if settings.secret_key:
        return settings.secret_key
    path: Path = settings.data_dir.expanduser() / "secret_key"
    try:
        return _checked(path, path.read_text().strip())
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(48)
    # O_EXCL: when two processes race, one writes and both read the winner's key.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _checked(path, path.read_text().strip())
    with os.fdopen(fd, "w") as handle:
        handle.write(secret)
    return secret


def _checked(path: Path, secret: str) -> str:
    if len(secret) < MIN_SECRET_KEY_LENGTH:
        raise SettingsError(
            f"the signing key in {path} is shorter than {MIN_SECRET_KEY_LENGTH} characters: "
            "delete the file to have a new one made (every session ends), or set secret_key"
        )
    return secret

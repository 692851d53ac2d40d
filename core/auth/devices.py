"""Known devices: a browser that has logged in to an account keeps a signed cookie saying
so, and its log-in attempts wait in a line of their own.

The per-account delay (:data:`core.auth.accounts.LOGIN_DELAY`) slows a guesser without
locking the owner out, but a guesser who fires the moment each wait ends takes every turn
the account gets, so the owner's right password keeps meeting a 429. A device cookie
(signed with the deployment secret, naming the account by a digest of its email and the
device by a random nonce) takes the owner's browser out of that line: its attempts are
slowed by a delay keyed to that device only, which a guesser without the cookie cannot
touch and a guesser with a stolen cookie cannot use for more than that one slow line.
"""

from __future__ import annotations

import hashlib
import secrets

from itsdangerous import BadSignature, URLSafeTimedSerializer

#: The cookie's name; it is sent only to the log-in route (its path).
DEVICE_COOKIE = "creator_device"
DEVICE_COOKIE_PATH = "/api/v1/auth/login"
#: How long a device stays known without logging in again (each log-in renews it).
DEVICE_DAYS = 180


def _account(email: str) -> str:
    """The account as the cookie names it: a digest, so the cookie does not carry the
    email in the clear."""
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]


class Devices:
    """Issues and checks device cookies."""

    def __init__(self, signing_secret: str, *, days: int = DEVICE_DAYS) -> None:
        self._serializer = URLSafeTimedSerializer(signing_secret, salt="creator.device")
        self.max_age = days * 86400

    def issue(self, email: str, device: str | None = None) -> str:
        """A cookie value naming ``device`` (a new one if ``None``) known to the account of
        ``email``; renewing keeps the id, so the device keeps its own line."""
        payload = {"a": _account(email), "d": device or secrets.token_urlsafe(16)}
        return str(self._serializer.dumps(payload))

    def known(self, cookie: str | None, email: str) -> str | None:
        """The device id if ``cookie`` is a valid, unexpired device cookie of the account of
        ``email``; ``None`` otherwise (absent, forged, expired, or another account's)."""
        if not cookie:
            return None
        try:
            payload = self._serializer.loads(cookie, max_age=self.max_age)
        except BadSignature:  # also SignatureExpired
            return None
        if not isinstance(payload, dict) or payload.get("a") != _account(email):
            return None
        device = payload.get("d")
        return device if isinstance(device, str) and device else None

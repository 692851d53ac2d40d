"""API rate limiting per client, on Litestar's ``RateLimitMiddleware`` and a Redis store.

* The limit is ``rate_limit_per_minute`` requests per client per minute (``0`` turns it
  off); ``/health``, ``/ready``, ``/metrics`` and ``/schema`` are never limited, nor is a
  route whose handler has ``opt=NO_API_RATE_LIMIT`` (``sdk.NO_API_RATE_LIMIT``; with other
  options, ``opt={"public": True, **NO_API_RATE_LIMIT}``) — for content served
  to the public (a published page), where one address may be a whole office or a CDN and
  a request costs a memory lookup, not an API call.
* A client is the person whose credentials a request carries, once they verify (an API
  token that is live, a session cookie whose signature holds and whose session has not
  ended), else the client's address: credentials that fail verification, or none, count
  against the address, so a made-up ``Bearer`` value per request is no new client. One
  person's tokens and browser sessions share one budget. The address is what the ASGI
  server says (uvicorn's ``forwarded_allow_ips`` decides when ``X-Forwarded-For`` is
  believed). :class:`Principals` verifies with one indexed query per credential and
  remembers the answer in this process for :data:`VERIFIED_SECONDS`, so a steady client
  costs a hash and a dictionary look-up per request; made-up credentials are remembered
  apart, so they cannot push real ones out.
* Counts live in Redis (``litestar.stores.redis.RedisStore``, registered as the app's
  ``rate_limit`` store), so every process of a deployment shares them. The Redis URL is
  only known once the lifespan has started (embedded servers start there), so
  :class:`PlatformRedisStore` makes its ``RedisStore`` on first use from
  ``platform.redis``.
* Over the limit: 429 problem+json, code ``rate_limited``, with ``Retry-After`` and the
  ``RateLimit-*`` headers (which every limited response carries).

Litestar's stock middleware keeps a JSON list of every request's timestamp per client and
does get-then-set under an in-process lock: O(limit) work and two Redis round trips per
request, and two processes can both let the last request through.
:class:`RedisRateLimitMiddleware` keeps the middleware's configuration (exclusions,
identifier, header names, store) and swaps the bookkeeping for an atomic Redis counter per
client and fixed one-minute window, leased to each process in small batches
(:meth:`PlatformRedisStore.take`), so a busy client costs one Redis round trip per batch.
With any other store it behaves exactly like Litestar's.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Mapping
from datetime import timedelta
from time import time
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final

from litestar.exceptions import TooManyRequestsException
from litestar.middleware.rate_limit import (
    DURATION_VALUES,
    RateLimitConfig,
    RateLimitMiddleware,
    get_remote_address,
)
from litestar.stores.base import NamespacedStore
from litestar.stores.redis import RedisStore

from core.auth.sessions import COOKIE_NAME

if TYPE_CHECKING:
    import redis.asyncio as aioredis
    from litestar import Request
    from litestar.middleware.base import DefineMiddleware
    from litestar.stores.base import Store
    from litestar.types import ASGIApp, Message, Receive, Scope, Send

    from core.platform import Platform
    from core.settings import Settings

STORE_NAME = "rate_limit"
EXCLUDE = ["^/health$", "^/ready$", "^/metrics$", "^/schema"]
#: A route handler's ``opt`` key that exempts it from the API rate limit.
EXEMPT_OPT_KEY = "exclude_from_rate_limit"
#: A route handler's ``opt`` (or part of it) that exempts it from the API rate limit.
NO_API_RATE_LIMIT: Final[Mapping[str, bool]] = MappingProxyType({EXEMPT_OPT_KEY: True})

# Lease ``ARGV[1]`` requests of the window's count at once; the key dies with the window.
_LEASE_SCRIPT = b"""
local n = redis.call('INCRBY', KEYS[1], ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[2])
return n
"""


#: How long this process trusts a credential it verified before asking the database again
#: (a revoked token or ended session may count against its person's budget that long; it
#: is refused by authentication all the same).
VERIFIED_SECONDS = 60.0
#: Credentials remembered per process, verified and refused apart.
REMEMBERED = 10_000


def client_identifier(request: Request[Any, Any, Any]) -> str:
    """The client's address: what Litestar's stock middleware (any store other than
    :class:`PlatformRedisStore`) keys on, for it cannot verify credentials."""
    return "address:" + get_remote_address(request)


def _credential(request: Request[Any, Any, Any], platform: Platform) -> str | None:
    """``token:<hash>`` or ``session:<row key>`` of the request's credentials, when it
    carries some that could be real; reads the raw ASGI headers (this runs on every
    request)."""
    with_cookie = False
    for name, value in request.scope["headers"]:
        if name == b"authorization":
            scheme, _, token = value.partition(b" ")
            token = token.strip()
            if token and scheme.lower() == b"bearer":
                return "token:" + hashlib.sha256(token).hexdigest()
            return None  # a malformed Authorization header is refused: no credentials
        with_cookie = with_cookie or name == b"cookie"
    cookie = request.cookies.get(COOKIE_NAME) if with_cookie else None
    if cookie:
        digest = platform.sessions.digest_of(cookie)
        return None if digest is None else "session:" + digest
    return None


class _Remembered:
    """A bounded map of credential -> (answer, until when), oldest dropped first."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[str, tuple[str | None, float]] = OrderedDict()

    def get(self, key: str, now: float) -> tuple[bool, str | None]:
        found = self._items.get(key)
        if found is None or found[1] < now:
            return False, None
        return True, found[0]

    def put(self, key: str, value: str | None, until: float) -> None:
        self._items[key] = (value, until)
        self._items.move_to_end(key)
        while len(self._items) > self.size:
            self._items.popitem(last=False)


class Principals:
    """Who a request's credentials verify as, for the rate limit: ``person:<id>``, or
    ``None`` for none or made-up ones (module doc)."""

    def __init__(self, platform: Platform, size: int = REMEMBERED) -> None:
        self.platform = platform
        self._verified = _Remembered(size)
        self._refused = _Remembered(size)

    async def of(self, request: Request[Any, Any, Any]) -> str | None:
        credential = _credential(request, self.platform)
        if credential is None:
            return None
        now = time()
        for remembered in (self._verified, self._refused):
            known, principal = remembered.get(credential, now)
            if known:
                return principal
        kind, _, digest = credential.partition(":")
        if kind == "token":
            person = await self.platform.directory.person_for_token_hash(digest)
        else:
            person = await self.platform.sessions.person_for_digest(digest)
        if person is None:  # neither can become real later: remember it for good
            self._refused.put(credential, None, float("inf"))
            return None
        principal = f"person:{person}"
        self._verified.put(credential, principal, now + VERIFIED_SECONDS)
        return principal


class PlatformRedisStore(NamespacedStore):
    """A :class:`~litestar.stores.redis.RedisStore` on ``platform.redis``, made on first
    use (and again if the platform restarted with a new client)."""

    def __init__(self, platform: Platform, namespace: str = "creator") -> None:
        self.platform = platform
        self.namespace = namespace
        #: Who requests' credentials verify as; here because Litestar makes a middleware
        #: per route, and this store is the app's one.
        self.principals = Principals(platform)
        self._client: aioredis.Redis | None = None
        self._store: RedisStore | None = None
        self._lease: Any = None
        # this process's leases in the current window: key -> [left, window total seen]
        self._window_start = 0
        self._leases: dict[str, list[int]] = {}

    @property
    def store(self) -> RedisStore:
        client = self.platform.redis
        if self._store is None or self._client is not client:
            self._client = client
            self._store = RedisStore(client, namespace=self.namespace)
            self._lease = client.register_script(_LEASE_SCRIPT)
        return self._store

    def with_namespace(self, namespace: str) -> PlatformRedisStore:
        return PlatformRedisStore(self.platform, f"{self.namespace}_{namespace}")

    async def set(
        self, key: str, value: str | bytes, expires_in: int | timedelta | None = None
    ) -> None:
        await self.store.set(key, value, expires_in)

    async def get(self, key: str, renew_for: int | timedelta | None = None) -> bytes | None:
        return await self.store.get(key, renew_for)

    async def delete(self, key: str) -> None:
        await self.store.delete(key)

    async def delete_all(self) -> None:
        await self.store.delete_all()

    async def exists(self, key: str) -> bool:
        return await self.store.exists(key)

    async def expires_in(self, key: str) -> int | None:
        return await self.store.expires_in(key)

    async def take(self, key: str, limit: int, window: int) -> tuple[bool, int, int]:
        """Count one request of ``key`` against ``limit`` per ``window`` seconds:
        ``(allowed, remaining, seconds until the window resets)``.

        Windows are fixed and aligned (every process agrees where a minute starts). Redis
        holds the window's count; a process leases a batch of requests at a time (1 for
        small limits, up to 50 for large ones: a twentieth of the limit) and serves the
        lease from memory, so a busy client costs one Redis round trip per batch, not per
        request. Unused leases of other processes can refuse a client slightly early
        (by less than a batch per process), never let it through over the limit. A
        refused client is remembered until the window ends."""
        now = time()
        start = int(now // window) * window
        if start != self._window_start:
            self._window_start, self._leases = start, {}
        reset = max(start + window - int(now), 1)
        lease = self._leases.get(key)
        if lease is not None:
            if lease[0] > 0:
                lease[0] -= 1
                return True, max(limit - lease[1] + lease[0], 0), reset
            if lease[0] < 0:
                return False, 0, reset
        batch = max(1, min(limit // 20, 50))
        redis_key = self.store._make_key(f"{key}:{start}")
        total = int(await self._lease(keys=[redis_key], args=[batch, window + 1]))
        granted = min(batch, limit - (total - batch))
        lease = self._leases.setdefault(key, [0, total])
        lease[1] = total
        if granted <= 0:
            if lease[0] <= 0:
                lease[0] = -1
                return False, 0, reset
            granted = 0  # a concurrent lease of this process still has some
        else:
            lease[0] = max(lease[0], 0) + granted
        lease[0] -= 1
        return True, max(limit - total + lease[0], 0), reset


class RedisRateLimitMiddleware(RateLimitMiddleware):
    """Litestar's rate limit middleware with an atomic Redis counter (module doc)."""

    def __init__(self, app: ASGIApp, config: RateLimitConfig) -> None:
        super().__init__(app, config)
        self.window = DURATION_VALUES[self.unit]
        self._name = type(self).__name__
        # header names and the fixed values, encoded once
        self._fixed = [
            (config.rate_limit_policy_header_key, f"{self.max_requests}; w={self.window}"),
            (config.rate_limit_limit_header_key, str(self.max_requests)),
        ]
        self._fixed_raw = [(k.lower().encode(), v.encode()) for k, v in self._fixed]
        self._remaining_raw = config.rate_limit_remaining_header_key.lower().encode()
        self._reset_raw = config.rate_limit_reset_header_key.lower().encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        app = scope["litestar_app"]
        store = self.config.get_store_from_app(app)
        if not isinstance(store, PlatformRedisStore):
            await super().__call__(scope, receive, send)
            return
        request: Request[Any, Any, Any] = app.request_class(scope)
        if await self.should_check_request(request=request):
            principal = await store.principals.of(request)
            key = (
                f"{self._name}::{principal}"
                if principal is not None
                else self.cache_key_from_request(request)
            )
            allowed, remaining, reset = await store.take(key, self.max_requests, self.window)
            if not allowed:
                config = self.config
                raise TooManyRequestsException(
                    detail=f"more than {self.max_requests} requests per {self.unit}; "
                    f"try again in {reset}s",
                    headers={
                        **dict(self._fixed),
                        config.rate_limit_remaining_header_key: "0",
                        config.rate_limit_reset_header_key: str(reset),
                        "Retry-After": str(reset),
                    },
                )
            if self.config.set_rate_limit_headers:
                extra = [
                    *self._fixed_raw,
                    (self._remaining_raw, b"%d" % remaining),
                    (self._reset_raw, b"%d" % reset),
                ]
                send = _send_with(send, extra)
        await self.app(scope, receive, send)


def _send_with(send: Send, extra: list[tuple[bytes, bytes]]) -> Send:
    async def send_wrapper(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = message.get("headers")
            if isinstance(headers, list):
                headers.extend(extra)
            else:
                message["headers"] = [*(headers or ()), *extra]
        await send(message)

    return send_wrapper


def rate_limit_config(settings: Settings) -> RateLimitConfig | None:
    """The app's rate limit, or ``None`` when ``rate_limit_per_minute`` is 0."""
    per_minute = settings.rate_limit_per_minute
    if per_minute <= 0:
        return None
    return RateLimitConfig(
        rate_limit=("minute", per_minute),
        exclude=EXCLUDE,
        exclude_opt_key=EXEMPT_OPT_KEY,
        identifier_for_request=client_identifier,
        middleware_class=RedisRateLimitMiddleware,
        store=STORE_NAME,
    )


def rate_limit_middleware(settings: Settings) -> list[DefineMiddleware]:
    """For ``Litestar(middleware=...)``: the rate limit, if on."""
    config = rate_limit_config(settings)
    return [config.middleware] if config is not None else []


def rate_limit_stores(platform: Platform) -> dict[str, Store]:
    """For ``Litestar(stores=...)``: the Redis store the rate limit counts in."""
    return {STORE_NAME: PlatformRedisStore(platform)}

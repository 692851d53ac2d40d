"""Which hosts answer what: the platform's own host (admin UI, API) and tenant hosts
(``public_sites_origin``'s host and tenants' custom domains, which serve published sites).

Creators' pages are content the platform does not control. If they shared an origin with
the admin UI, a page's script (or a look-alike log-in form on a creator's domain) could
act with a visitor's session. So:

* With ``public_sites_origin`` set, tenant content (routes whose ``opt`` holds
  :data:`TENANT_CONTENT`: published pages, public files) is served there; asked for on
  the platform's host it is redirected (308) to the same path there. The session cookie
  is host-only (no ``Domain``), so it never travels to that origin.
* A tenant host answers tenant content and routes marked :data:`ANY_HOST` (probes, a
  widget's public endpoints and scripts, static files) only; anything else is a 404
  ``not_on_this_host``, whether or not ``public_sites_origin`` is set.

A host is the platform's when it is ``public_url``'s host, the ``host`` setting, a
loopback name, an IP address or a name without a dot; any other name is a tenant's (a
deployment reached by a domain name sets ``public_url``). Core knows no feature: plugins
mark their routes, and read :meth:`Hosts.kind` (``sdk.host_kind(request)``) when one
handler answers differently per host.
"""

from __future__ import annotations

import enum
import ipaddress
from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit

import msgspec
from litestar.enums import ScopeType

from core.errors import problem_body

if TYPE_CHECKING:
    from litestar import Request
    from litestar.types import ASGIApp, Receive, Scope, Send

    from core.settings import Settings

#: A route handler's ``opt`` key naming the hosts it answers on.
SURFACE_OPT_KEY = "tenant_surface"
#: ``opt`` of tenant content (a published page, a public file): answered on tenant hosts,
#: and on the platform's host only while ``public_sites_origin`` is unset (else redirected).
TENANT_CONTENT: Final[Mapping[str, str]] = MappingProxyType({SURFACE_OPT_KEY: "content"})
#: ``opt`` of a route answered on every host (the handler may still look at the host).
ANY_HOST: Final[Mapping[str, str]] = MappingProxyType({SURFACE_OPT_KEY: "any"})
WRONG_HOST_CODE = "not_on_this_host"


class HostKind(enum.Enum):
    """What a request's host is."""

    #: The platform's own: admin UI and API.
    PLATFORM = "platform"
    #: ``public_sites_origin``'s host: every site at ``/sites/{slug}``.
    SITES = "sites"
    #: Any other name: a tenant's custom domain (served or not).
    TENANT = "tenant"


def host_name(header: str) -> str:
    """A ``Host`` header's name: lower case, without port or a trailing dot."""
    host = header.strip().lower()
    if host.startswith("["):  # an IPv6 literal
        return host.split("]", 1)[0] + "]"
    return host.rsplit(":", 1)[0].rstrip(".")


def sites_origin(value: str) -> str:
    """``public_sites_origin`` checked and normalised: ``scheme://host[:port]``, lower
    case, no path, query, fragment or credentials; ``ValueError`` otherwise."""
    try:
        parts = urlsplit(value.strip())
        port = parts.port
    except ValueError:
        raise ValueError("is not a URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be http:// or https:// and a host name")
    if parts.username is not None or parts.password is not None:
        raise ValueError("must not carry credentials")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError("must be an origin only (scheme, host and port; no path)")
    host = parts.hostname.lower()
    if "." not in host or _is_ip(host):
        raise ValueError(
            "must be a domain name (IP addresses and names without a dot are the platform's own)"
        )
    return f"{parts.scheme}://{host}" + (f":{port}" if port is not None else "")


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


class Hosts:
    """The platform's host names and ``public_sites_origin``, from the settings."""

    def __init__(self, settings: Settings) -> None:
        #: ``public_sites_origin`` normalised, or ``None`` (sites are on the platform's).
        self.sites_origin = (
            sites_origin(settings.public_sites_origin) if settings.public_sites_origin else None
        )
        self.sites_host = urlsplit(self.sites_origin).hostname if self.sites_origin else None
        names = {"localhost", "127.0.0.1", "::1", "[::1]", settings.host.lower()}
        public = urlsplit(settings.base_url).hostname
        if public:
            names.add(public.lower())
        #: The platform's own host names (besides IP addresses and names without a dot).
        self.platform_names = frozenset(names)
        #: Where published sites are: ``public_sites_origin``, else ``base_url``.
        self.sites_url = self.sites_origin or settings.base_url

    def kind(self, host: str) -> HostKind:
        """What ``host`` (a name as :func:`host_name` gives it) is."""
        if host == self.sites_host:
            return HostKind.SITES
        if host in self.platform_names or "." not in host or _is_ip(host):
            return HostKind.PLATFORM
        return HostKind.TENANT

    def own_names(self) -> frozenset[str]:
        """Names no tenant may claim as a custom domain: the platform's and the sites'."""
        return self.platform_names | ({self.sites_host} if self.sites_host else set())


def host_kind(request: Request[Any, Any, Any]) -> HostKind:
    """What the host this request reached is."""
    hosts: Hosts = request.app.state.platform.hosts
    return hosts.kind(host_name(request.headers.get("host", "")))


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope.get("headers", ()):
        if key == name:
            return str(value.decode("latin-1"))
    return ""


async def _send(send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
    headers = [*headers, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


def host_guard(app: ASGIApp) -> ASGIApp:
    """Refuse what a tenant host does not serve (404 ``not_on_this_host``) and move
    tenant content asked for on the platform's host to ``public_sites_origin`` (308)."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
            return
        hosts: Hosts = scope["litestar_app"].state.platform.hosts
        handler = scope.get("route_handler")
        surface = handler.opt.get(SURFACE_OPT_KEY) if handler is not None else None
        kind = hosts.kind(host_name(_header(scope, b"host")))
        path = scope["path"]
        if kind is HostKind.PLATFORM:
            if surface == "content" and hosts.sites_origin is not None:
                target = hosts.sites_origin + scope.get("raw_path", path.encode()).decode("latin-1")
                if scope.get("query_string"):
                    target += "?" + scope["query_string"].decode("latin-1")
                await _send(send, 308, [(b"location", target.encode("latin-1"))], b"")
                return
        elif surface is None:
            body = problem_body(
                404,
                WRONG_HOST_CODE,
                "Not found on this host",
                "this host serves published sites only (if it is the platform's own "
                "address, the operator sets public_url to it)",
                instance=path[:200],
            )
            await _send(
                send,
                404,
                [(b"content-type", b"application/problem+json")],
                msgspec.json.encode(body),
            )
            return
        await app(scope, receive, send)

    return middleware

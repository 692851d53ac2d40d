"""DNS TXT look-ups: how the platform checks that someone controls a name (a website's
custom domain carries a verification record).

``platform.resolve_txt(name)`` asks the ``resolve_txt`` hook first, so a plugin can answer
from a resolver of its own (DNS over HTTPS, a company's split-horizon DNS); when no plugin
answers, dnspython's asynchronous resolver asks the ``dns_nameservers`` setting's servers
(unset: the system's), giving up after ``dns_timeout_seconds``. Tests and air-gapped
deployments point that setting at a server of their own.
"""

from __future__ import annotations

import ipaddress
import logging
from typing import TYPE_CHECKING

import dns.asyncresolver
import dns.exception
import dns.nameserver
import dns.rdatatype
import dns.resolver

from core.errors import PlatformError

if TYPE_CHECKING:
    from core.plugins import PluginManager
    from core.settings import Settings

log = logging.getLogger(__name__)
DNS_PORT = 53


class DnsUnavailable(PlatformError):
    """No answer could be had (a timeout, a failing server): whether the record exists is
    not known, so nothing should be decided on it."""

    status = 503
    code = "dns_unavailable"
    title = "DNS look-up failed"


def parse_nameserver(text: str) -> tuple[str, int]:
    """``"192.0.2.1"``, ``"192.0.2.1:5353"``, ``"::1"`` or ``"[::1]:5353"`` →
    ``(address, port)``; a ``ValueError`` for anything else (a host name included: the
    resolver itself must be reachable without DNS)."""
    text = text.strip()
    port = DNS_PORT
    if text.startswith("["):
        address, _, rest = text[1:].partition("]")
        if rest:
            if not rest.startswith(":"):
                raise ValueError(f"{text!r} is not an address or [address]:port")
            port = int(rest[1:])
    elif text.count(":") == 1:
        address, _, port_text = text.partition(":")
        port = int(port_text)
    else:
        address = text
    ipaddress.ip_address(address)  # raises ValueError
    if not 0 < port < 65536:
        raise ValueError(f"port {port} is out of range")
    return address, port


class TxtResolver:
    """TXT records of a name, from the hook's first answer or from DNS."""

    def __init__(self, settings: Settings, plugins: PluginManager) -> None:
        self.plugins = plugins
        self.timeout = settings.dns_timeout_seconds
        self._resolver = dns.asyncresolver.Resolver(configure=settings.dns_nameservers is None)
        if settings.dns_nameservers is not None:
            self._resolver.nameservers = [
                dns.nameserver.Do53Nameserver(*parse_nameserver(server))
                for server in settings.dns_nameservers
            ]
        self._resolver.cache = None  # a verification must see the record as it is now

    async def __call__(self, name: str) -> list[str]:
        """The TXT strings published at ``name`` (each record's strings joined, as RFC
        7208 reads them); ``[]`` when the name or the record does not exist. Raises
        :class:`DnsUnavailable` when no answer could be had."""
        answer = await self.plugins.first_answer(
            "resolve_txt", accept=_is_text_list, name=name.rstrip(".").lower()
        )
        if answer is not None:
            return list(answer)
        return await self._lookup(name)

    async def _lookup(self, name: str) -> list[str]:
        try:
            answer = await self._resolver.resolve(
                name, dns.rdatatype.TXT, lifetime=self.timeout, search=False
            )
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return []
        except (dns.exception.DNSException, OSError) as error:
            log.info("TXT look-up of %s failed: %s", name, error)
            raise DnsUnavailable(f"DNS did not answer for {name}; try again later") from None
        return [
            b"".join(rdata.strings).decode("utf-8", errors="replace")  # type: ignore[attr-defined]
            for rdata in answer
        ]


def _is_text_list(answer: object) -> bool:
    return isinstance(answer, list) and all(isinstance(item, str) for item in answer)

"""A DNS server for tests: answers TXT queries from records the test sets, on 127.0.0.1.

Every platform the fixtures start asks it (``dns_nameservers``), so no test reaches the
real DNS and a test decides what a name publishes::

    creator_platform.dns.set_txt("_creator-verify.www.example.org", "creator-verify=...")

dnspython parses the queries and builds the answers; the server is one UDP endpoint on an
ephemeral port, in the test's own event loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import dns.exception
import dns.flags
import dns.message
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import pytest_asyncio


class LocalDNS(asyncio.DatagramProtocol):
    """TXT records by name (lower case, no trailing dot), served over UDP. A name with no
    records is NXDOMAIN; ``failing = True`` answers every query with SERVFAIL."""

    def __init__(self) -> None:
        self.records: dict[str, list[str]] = {}
        self.failing = False
        self.queries: list[str] = []
        self._transport: asyncio.DatagramTransport | None = None

    @property
    def nameserver(self) -> str:
        """``address:port``, as the ``dns_nameservers`` setting takes it."""
        if self._transport is None:
            raise RuntimeError("the DNS server has not started")
        host, port = self._transport.get_extra_info("sockname")[:2]
        return f"{host}:{port}"

    def set_txt(self, name: str, *values: str) -> None:
        """Publish ``values`` as the TXT strings of ``name`` (none: remove the name)."""
        key = name.rstrip(".").lower()
        if values:
            self.records[key] = list(values)
        else:
            self.records.pop(key, None)

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        await loop.create_datagram_endpoint(lambda: self, local_addr=("127.0.0.1", 0))

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()
            self._transport = None

    # -- the protocol ---------------------------------------------------------------------

    def connection_made(self, transport: Any) -> None:
        self._transport = transport

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        try:
            query = dns.message.from_wire(data)
        except dns.exception.DNSException:
            return
        if not query.question or self._transport is None:
            return
        question = query.question[0]
        name = question.name.to_text(omit_final_dot=True).lower()
        self.queries.append(name)
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        values = self.records.get(name)
        if self.failing:
            response.set_rcode(dns.rcode.SERVFAIL)
        elif values is None:
            response.set_rcode(dns.rcode.NXDOMAIN)
        elif question.rdtype == dns.rdatatype.TXT:
            quoted = ['"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"' for v in values]
            txt = dns.rrset.from_text(
                question.name, 60, dns.rdataclass.IN, dns.rdatatype.TXT, *quoted
            )
            response.answer.append(txt)
        self._transport.sendto(response.to_wire(), addr)


@pytest_asyncio.fixture
async def creator_dns() -> AsyncIterator[LocalDNS]:
    """A :class:`LocalDNS` server for this test; ``creator_platform`` asks it."""
    server = LocalDNS()
    await server.start()
    try:
        yield server
    finally:
        server.close()

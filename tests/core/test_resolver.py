"""DNS TXT look-ups (``platform.resolve_txt``): from DNS at the ``dns_nameservers``
setting's servers (here the test's own, ``creator_dns``), or from a plugin's
``resolve_txt`` hook first."""

from __future__ import annotations

import pytest

from core.resolver import DnsUnavailable, parse_nameserver
from core.settings import SettingsError, load_settings
from sdk import hookimpl

pytestmark = pytest.mark.creator_plugins()


async def test_txt_records_come_from_the_configured_server(creator_platform) -> None:
    dns = creator_platform.dns
    resolve = creator_platform.platform.resolve_txt
    dns.set_txt("_check.example.org", "first", 'with "quotes"')
    assert sorted(await resolve("_check.Example.org.")) == ["first", 'with "quotes"']
    assert await resolve("nothing.example.org") == []  # NXDOMAIN
    dns.set_txt("_check.example.org")
    assert await resolve("_check.example.org") == []  # not cached: the record as it is now
    assert dns.queries.count("_check.example.org") == 2


async def test_a_server_that_fails_is_unavailable_not_empty(creator_platform) -> None:
    creator_platform.dns.failing = True
    with pytest.raises(DnsUnavailable):
        await creator_platform.platform.resolve_txt("any.example.org")


async def test_a_silent_server_times_out(creator_platform_factory) -> None:
    # nothing answers DNS on the discard port: the look-up fails, it does not hang
    harness = await creator_platform_factory(
        plugins=[], dns_nameservers=["127.0.0.1:9"], dns_timeout_seconds=0.3
    )
    with pytest.raises(DnsUnavailable):
        await harness.platform.resolve_txt("any.example.org")


class _FixedAnswers:
    def __init__(self) -> None:
        self.asked: list[str] = []

    @hookimpl
    async def resolve_txt(self, name: str) -> list[str] | None:
        self.asked.append(name)
        if name.endswith(".internal"):
            return ["from-the-plugin"] if name.startswith("_yes") else []
        return None  # the rest is DNS's


class _Broken:
    @hookimpl
    def resolve_txt(self, name: str) -> list[str] | None:
        raise RuntimeError("resolver down")


_fixed = _FixedAnswers()


@pytest.mark.creator_plugins(extra={"a_broken": _Broken(), "fixed": _fixed})
async def test_hook_resolve_txt(creator_platform) -> None:
    resolve = creator_platform.platform.resolve_txt
    creator_platform.dns.set_txt("public.example.org", "from-dns")
    assert await resolve("_yes.corp.internal") == ["from-the-plugin"]
    assert await resolve("_no.corp.INTERNAL.") == []  # an empty answer is an answer
    assert await resolve("public.example.org") == ["from-dns"]  # nobody answered: DNS
    assert _fixed.asked == ["_yes.corp.internal", "_no.corp.internal", "public.example.org"]
    assert "_no.corp.internal" not in creator_platform.dns.queries


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("192.0.2.1", ("192.0.2.1", 53)),
        ("127.0.0.1:5353", ("127.0.0.1", 5353)),
        ("::1", ("::1", 53)),
        ("[::1]:5353", ("::1", 5353)),
    ],
)
def test_nameservers_are_addresses(text: str, parsed: tuple[str, int]) -> None:
    assert parse_nameserver(text) == parsed


@pytest.mark.parametrize("bad", ["dns.example.org", "127.0.0.1:0", "1.2.3.4:x", "[::1]x"])
def test_a_nameserver_that_is_not_an_address_is_refused(bad: str) -> None:
    with pytest.raises(SettingsError, match=r"dns-nameservers.*not an address"):
        load_settings(environ={}, dns_nameservers=[bad])

"""Custom domains are verified: a site's domain is served only once a DNS TXT record
carries the site's token.

A site that sets a domain gets a random token, kept in its properties: a token derived
from the platform's secret would change with the secret and silently unverify every
domain at the next re-check, and a domain set again gets a new token, so a record left
behind by an earlier holder proves nothing. The owner publishes
``_creator-verify.<domain> TXT "creator-verify=<token>"``; ``POST .../domain/verify``
checks now, and a cron job re-checks every claimed domain each hour: a record that
appeared verifies the domain, one that is gone puts it back to ``pending``, which the
public pages and ``public_url_group`` (so the clone widget's origin and framing checks)
do not serve. A DNS server that does not answer changes nothing: a domain is neither
dropped for someone else's outage nor verified without its record.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import msgspec

import sdk
from plugins.website.cache import PageCache, PurgeListener
from plugins.website.live import DOMAIN_NAME
from plugins.website.services.base import (
    VERIFY_RECORD_PREFIX,
    VERIFY_VALUE_PREFIX,
    WebsiteContext,
    domain_record,
)
from plugins.website.types import WebsiteProps, WebsiteView

log = logging.getLogger(__name__)
RECHECK_JOB = "website.recheck_domains"
#: Names read from the registry per batch of the re-check, and looked up at once.
RECHECK_BATCH = 100
RECHECK_CONCURRENCY = 10
#: One run of the re-check may take this long (retried from the start if it does not end).
RECHECK_TIMEOUT_SECONDS = 45 * 60


def new_token() -> str:
    return secrets.token_urlsafe(24)


class DomainNotVerified(sdk.ValidationFailed):
    """The domain's TXT record is missing or does not carry the site's token; the
    problem names the record to create (``record``)."""

    code = "domain_not_verified"
    title = "Domain not verified"


@dataclass(frozen=True)
class Finding:
    """What DNS said about a domain's record: ``found``, else ``reason``."""

    found: bool
    reason: str = ""


async def look_up(platform: sdk.Platform, domain: str, token: str) -> Finding:
    """Whether ``domain``'s verification record carries ``token``. Raises
    :class:`sdk.DnsUnavailable` when DNS gives no answer."""
    name = VERIFY_RECORD_PREFIX + domain
    values = [value.strip() for value in await platform.resolve_txt(name)]
    if VERIFY_VALUE_PREFIX + token in values:
        return Finding(True)
    if not any(value.startswith(VERIFY_VALUE_PREFIX) for value in values):
        return Finding(False, f"no TXT record {VERIFY_VALUE_PREFIX}... at {name}")
    return Finding(False, f"the TXT record at {name} carries another token than this site's")


async def record_finding(
    o: sdk.ScopedOntology, site_id: UUID, domain: str, finding: Finding
) -> bool:
    """Set the domain's claim to what DNS said, in ``o``'s transaction, with an event when
    its status changes (a failure of a pending domain is reported by the caller, not
    recorded again at every re-check); ``True`` if it changed."""
    claims = await o.names.of_thing(site_id, DOMAIN_NAME)
    claim = next((c for c in claims if c.name == domain), None)
    if claim is None or claim.verified == finding.found:
        return False
    await o.names.verify(DOMAIN_NAME, domain, verified=finding.found)
    payload = {"site_id": str(site_id), "domain": domain}
    if finding.found:
        await o.events.emit("domain_verified", payload, target_id=site_id)
    else:
        await o.events.emit(
            "domain_verification_failed", {**payload, "reason": finding.reason}, target_id=site_id
        )
    return True


class Domains:
    """Verifying a group's custom domains on request."""

    def __init__(self, context: WebsiteContext) -> None:
        self.context = context

    async def verify(self, group: sdk.GroupContext, site_id: UUID) -> WebsiteView:
        """Check the site's domain record now: verified, the site is answered at its
        domain; not, a :class:`DomainNotVerified` problem naming the record to create (and
        a domain verified before goes back to pending)."""
        group.require("website.manage")
        context = self.context
        site = await context.get_site_thing(group, site_id)
        props = msgspec.convert(site.properties, WebsiteProps)
        if not props.custom_domain:
            raise sdk.ValidationFailed(
                "this website has no custom domain to verify", field="custom_domain"
            )
        if props.domain_token is None:  # a site from before tokens
            async with context.transaction(group) as o:
                site = await context.lock_site(o, site_id)
                if site.properties.get("domain_token") is None:
                    site = await o.things.update(site_id, properties={"domain_token": new_token()})
            props = msgspec.convert(site.properties, WebsiteProps)
        domain, token = (props.custom_domain or "").lower(), props.domain_token or ""
        finding = await look_up(context.platform, domain, token)  # outside any transaction
        async with context.transaction(group) as o:
            site = await context.lock_site(o, site_id)
            now = msgspec.convert(site.properties, WebsiteProps)
            if (now.custom_domain or "").lower() != domain or now.domain_token != token:
                raise sdk.Conflict(
                    "the website's domain changed while it was checked; verify again",
                    field="custom_domain",
                )
            held = await o.names.of_thing(site_id, DOMAIN_NAME)
            if not any(claim.name == domain for claim in held):
                # a site from before the registry whose domain another site had claimed
                raise sdk.Conflict(
                    f"the domain {domain!r} is held by another website", field="custom_domain"
                )
            try:
                changed = await record_finding(o, site_id, domain, finding)
            except sdk.NameTaken:
                raise sdk.Conflict(
                    f"the domain {domain!r} is verified by another website; its claim ends "
                    "when its record is gone at the next hourly re-check",
                    field="custom_domain",
                ) from None
            view = await context.full_site_view(o, site)
        if changed:
            await context.purge.publish(site_id)
        if not finding.found:
            record = domain_record(domain, token)
            raise DomainNotVerified(
                f"{domain} is not verified: {finding.reason}. Create the TXT record "
                f'{record.name} with the value "{record.value}", then verify again (DNS '
                "changes can take a while to reach every server).",
                field="custom_domain",
                record=msgspec.to_builtins(record),
            )
        return view


async def recheck_domains(ctx: dict[str, Any]) -> dict[str, int]:
    """The cron job: every claimed domain, verified or pending, checked against DNS in
    batches from the public-names registry; a change of status is recorded in the site's
    group (with its event) and the public caches of every process are purged."""
    platform: sdk.Platform = ctx["platform"]
    purge = PurgeListener(platform.redis, PageCache(0))
    counts = {"checked": 0, "verified": 0, "unverified": 0, "unanswered": 0}
    slots = asyncio.Semaphore(RECHECK_CONCURRENCY)

    async def recheck(claim: sdk.PublicName) -> bool | None:
        async with slots:  # a DNS timeout holds one slot, not the whole run
            return await _recheck(platform, claim)

    after: str | None = None
    after_group: UUID | None = None
    while True:
        batch = await platform.ontology.names.list(
            DOMAIN_NAME, after=after, after_group=after_group, limit=RECHECK_BATCH
        )
        changes = await asyncio.gather(*(recheck(claim) for claim in batch))
        for claim, change in zip(batch, changes, strict=True):
            counts["checked"] += 1
            if change is None:
                counts["unanswered"] += 1
            elif change:
                counts["verified" if not claim.verified else "unverified"] += 1
                await purge.publish(claim.thing_id)
        if len(batch) < RECHECK_BATCH:
            return counts
        after, after_group = batch[-1].name, batch[-1].group_id


async def _recheck(platform: sdk.Platform, claim: sdk.PublicName) -> bool | None:
    """Check one claim; whether its status changed (``None``: DNS did not answer)."""
    scope = sdk.Scope.system(claim.group_id)
    stores = platform.ontology.scoped(scope)
    try:
        site = await stores.things.get(claim.thing_id, type="website")
    except sdk.NotFound:
        return False  # released with its site meanwhile
    token = site.properties.get("domain_token")
    try:
        if token:
            finding = await look_up(platform, claim.name, token)
        else:
            finding = Finding(False, "the site has no verification token yet")
    except sdk.DnsUnavailable:
        log.warning("DNS did not answer for the domain %s; its status stays", claim.name)
        return None
    try:
        async with platform.ontology.transaction(scope) as o:
            return await record_finding(o, claim.thing_id, claim.name, finding)
    except sdk.NameTaken:  # another group holds it verified: this claim stays pending
        return False

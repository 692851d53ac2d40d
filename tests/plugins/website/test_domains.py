"""Custom domains are verified: a claimed domain is pending, and not served, until a DNS
TXT record carries the site's token; the hourly re-check finds records that appeared or
went away. DNS answers come from the test's own server (``creator_platform.dns``)."""

from __future__ import annotations

import pytest

from plugins.website.services.domains import RECHECK_JOB, recheck_domains
from sdk.testing import assert_problem, wait_until

pytestmark = pytest.mark.creator_plugins("website")
DOMAIN = "www.studio.test"


async def recheck(creator_platform) -> dict[str, int]:
    """Run the re-check job as the worker's cron would."""
    return await recheck_domains({"platform": creator_platform.platform})


async def test_a_claimed_domain_is_pending_and_not_served(web, visitor) -> None:
    site, _ = await web.published_site("studio", custom_domain=DOMAIN)
    domain = site["domain"]
    token = domain["record"]["value"].removeprefix("creator-verify=")
    assert domain["name"] == DOMAIN and domain["status"] == "pending"
    assert domain["verified_at"] is None
    assert domain["record"]["name"] == f"_creator-verify.{DOMAIN}"
    assert domain["record"]["type"] == "TXT" and len(token) >= 16
    assert (await web.client.get(web.site_url(site["id"]))).json()["domain"] == domain
    r = await visitor.get("/", headers={"Host": DOMAIN})
    assert r.status_code == 404 and "Welcome home" not in r.text
    assert (await visitor.get("/robots.txt", headers={"Host": DOMAIN})).status_code == 404
    # the platform's own address serves it meanwhile
    assert "Welcome home" in (await visitor.get("/sites/studio")).text


async def test_verify_without_the_record_keeps_it_pending(web, visitor, creator_platform) -> None:
    site, _ = await web.published_site("studio", custom_domain=DOMAIN)
    verify = web.site_url(site["id"], "/domain/verify")
    body = assert_problem(
        await web.client.post(verify), 422, "domain_not_verified", field="custom_domain"
    )
    assert body["record"] == site["domain"]["record"]
    assert f"_creator-verify.{DOMAIN}" in body["detail"] and "no TXT record" in body["detail"]
    # a record with another token (another site's, an old one) is not this site's
    creator_platform.dns.set_txt(f"_creator-verify.{DOMAIN}", "creator-verify=someone-elses-token")
    body = assert_problem(await web.client.post(verify), 422, "domain_not_verified")
    assert "another token" in body["detail"]
    # other TXT strings beside it do not matter once the right one is there
    creator_platform.dns.set_txt(f"_creator-verify.{DOMAIN}", "v=spf1 -all")
    assert_problem(await web.client.post(verify), 422, "domain_not_verified")
    after = (await web.client.get(web.site_url(site["id"]))).json()
    assert after["domain"]["status"] == "pending"
    assert (await visitor.get("/", headers={"Host": DOMAIN})).status_code == 404


async def test_the_right_record_verifies_and_serves(web, visitor, events, owner) -> None:
    site, _ = await web.published_site("studio", custom_domain=DOMAIN)
    assert (await visitor.get("/", headers={"Host": DOMAIN})).status_code == 404  # cached 404
    record = site["domain"]["record"]
    web.dns.set_txt(record["name"], "v=spf1 -all", record["value"])
    r = await web.client.post(web.site_url(site["id"], "/domain/verify"))
    assert r.status_code == 200, r.text
    assert r.json()["domain"]["status"] == "verified" and r.json()["domain"]["verified_at"]
    r = await visitor.get("/", headers={"Host": DOMAIN.upper()})
    assert r.status_code == 200 and "Welcome home" in r.text
    (event,) = await events(owner, "domain_verified")
    assert event["payload"] == {"site_id": site["id"], "domain": DOMAIN}
    # verifying again changes nothing
    r = await web.client.post(web.site_url(site["id"], "/domain/verify"))
    assert r.status_code == 200 and len(await events(owner, "domain_verified")) == 1


async def test_the_recheck_unverifies_a_domain_whose_record_is_gone(
    creator_platform, web, visitor, events, owner
) -> None:
    site, _ = await web.published_site("studio", custom_domain=DOMAIN, verify=True)
    assert creator_platform.platform.jobs.jobs[RECHECK_JOB][1].cron is not None
    assert (await recheck(creator_platform))["unverified"] == 0  # the record is there
    assert (await visitor.get("/", headers={"Host": DOMAIN})).status_code == 200

    creator_platform.dns.set_txt(site["domain"]["record"]["name"])  # removed
    counts = await recheck(creator_platform)
    assert counts == {"checked": 1, "verified": 0, "unverified": 1, "unanswered": 0}
    assert (await web.client.get(web.site_url(site["id"]))).json()["domain"]["status"] == (
        "pending"
    )
    (failed,) = await events(owner, "domain_verification_failed")
    assert failed["payload"]["domain"] == DOMAIN and "no TXT record" in failed["payload"]["reason"]

    async def not_served() -> bool:
        return (await visitor.get("/", headers={"Host": DOMAIN})).status_code == 404

    await wait_until(not_served, message="every process's cache purged")
    # a pending domain's record appearing is found by the next re-check
    web.publish_record(site)
    assert (await recheck(creator_platform))["verified"] == 1
    await wait_until(lambda: _served(visitor), message="served again")
    assert len(await events(owner, "domain_verified")) == 2


async def _served(visitor) -> bool:
    return (await visitor.get("/", headers={"Host": DOMAIN})).status_code == 200


async def test_dns_that_does_not_answer_decides_nothing(creator_platform, web, visitor) -> None:
    site, _ = await web.published_site("studio", custom_domain=DOMAIN, verify=True)
    creator_platform.dns.failing = True
    assert_problem(
        await web.client.post(web.site_url(site["id"], "/domain/verify")), 503, "dns_unavailable"
    )
    assert (await recheck(creator_platform))["unanswered"] == 1
    assert (await web.client.get(web.site_url(site["id"]))).json()["domain"]["status"] == (
        "verified"
    )
    assert (await visitor.get("/", headers={"Host": DOMAIN})).status_code == 200


async def test_a_new_domain_needs_a_new_record(web, visitor) -> None:
    site = await web.site("studio", custom_domain=DOMAIN, verify=True)
    r = await web.client.patch(web.site_url(site["id"]), json={"custom_domain": "studio.test"})
    moved = r.json()["domain"]
    assert moved["status"] == "pending" and moved["record"]["name"] == "_creator-verify.studio.test"
    assert moved["record"]["value"] != site["domain"]["record"]["value"]
    await web.verify_domain(r.json())
    # a change of something else keeps the domain's token and status
    r = await web.client.patch(web.site_url(site["id"]), json={"description": "New words"})
    assert r.json()["domain"]["status"] == "verified"
    assert r.json()["domain"]["record"] == moved["record"]
    # released: no domain, nothing to verify
    r = await web.client.patch(web.site_url(site["id"]), json={"custom_domain": None})
    assert r.status_code == 200 and r.json().get("domain") is None, r.text
    assert_problem(
        await web.client.post(web.site_url(site["id"], "/domain/verify")),
        422,
        "validation_failed",
        field="custom_domain",
    )


async def test_a_pending_claim_does_not_keep_a_domains_owner_out(
    creator_platform, web, web_for, visitor
) -> None:
    """The review's squatting case: another group claimed the domain first and can never
    publish its record. The group that can still claims it and, once verified, holds it."""
    squatter = web_for(await creator_platform.tenant(name="Squatter"))
    theirs = await squatter.site("theirs", custom_domain=DOMAIN)
    assert theirs["domain"]["status"] == "pending"
    ours = await web.site("ours", custom_domain=DOMAIN)
    assert ours["domain"]["status"] == "pending"
    web.publish_record(ours)
    await web.verify_domain(ours)
    # The squatter's record is not there (DNS carries our token): it stays pending, its
    # site is not served at the domain, and nobody else can claim the domain now.
    r = await squatter.client.post(squatter.site_url(theirs["id"], "/domain/verify"))
    assert_problem(r, 422, "domain_not_verified", field="custom_domain")
    r = await squatter.client.post(
        squatter.base + "/sites", json={"name": "T", "slug": "third", "custom_domain": DOMAIN}
    )
    assert_problem(r, 409, "conflict", field="custom_domain")
    counts = await recheck(creator_platform)
    assert counts["checked"] == 2 and counts["unverified"] == 0


async def test_a_domain_verified_elsewhere_is_a_conflict_until_it_is_released(
    creator_platform, web, web_for
) -> None:
    """A domain that changed hands: the new owner's record is up before the hourly
    re-check has unverified the old owner's claim."""
    old_owner = web_for(await creator_platform.tenant(name="Old owner"))
    old = await old_owner.site("old", custom_domain=DOMAIN)
    await old_owner.verify_domain(old)
    r = await web.client.post(
        web.base + "/sites", json={"name": "Ours", "slug": "ours", "custom_domain": DOMAIN}
    )
    assert_problem(r, 409, "conflict", field="custom_domain")
    # The domain's new owner removes the old record: the re-check releases the old claim.
    record = old["domain"]["record"]["name"]
    creator_platform.dns.set_txt(record)
    assert (await recheck(creator_platform))["unverified"] == 1
    ours = await web.site("ours", custom_domain=DOMAIN)
    # Both records published at once (TXT may carry several strings): the old owner
    # verifies first, and ours is told who holds it instead of a DNS error.
    creator_platform.dns.set_txt(
        record, old["domain"]["record"]["value"], ours["domain"]["record"]["value"]
    )
    r = await old_owner.client.post(old_owner.site_url(old["id"], "/domain/verify"))
    assert r.status_code == 200, r.text
    r = await web.client.post(web.site_url(ours["id"], "/domain/verify"))
    assert_problem(r, 409, "conflict", field="custom_domain")
    assert "verified by another website" in r.json()["detail"]


async def test_verifying_is_for_the_sites_managers(creator_platform, web) -> None:
    site = await web.site("studio", custom_domain=DOMAIN)
    customer = await creator_platform.client_as("customer", group=web.tenant)
    r = await customer.client.post(web.site_url(site["id"], "/domain/verify"))
    assert r.status_code in (403, 404), r.text
    stranger = await creator_platform.tenant(name="Stranger")
    r = await stranger.client.post(web.site_url(site["id"], "/domain/verify"))
    assert_problem(r, 404)


async def test_a_site_from_before_tokens_gets_one_at_its_first_verify(
    creator_platform, web
) -> None:
    """Domains claimed before verification existed have no token: the site's view shows
    the record without a value, and the first verify gives the site its token."""
    from sdk import Scope

    site = await web.site("studio", custom_domain=DOMAIN)
    stores = creator_platform.ontology(Scope.system(web.group_id))
    await stores.things.update(site["id"], properties={"domain_token": None})
    old = (await web.client.get(web.site_url(site["id"]))).json()["domain"]
    assert old["status"] == "pending" and old["record"]["value"] == ""
    verify = web.site_url(site["id"], "/domain/verify")
    body = assert_problem(await web.client.post(verify), 422, "domain_not_verified")
    assert body["record"]["value"].startswith("creator-verify=")
    now = (await web.client.get(web.site_url(site["id"]))).json()
    assert now["domain"]["record"] == body["record"]
    await web.verify_domain(now)

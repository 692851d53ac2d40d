"""Websites through the API: create, list, read, change, delete; public names are unique
across the platform; validation answers problem+json naming the field."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from sdk.testing import assert_problem

pytestmark = pytest.mark.creator_plugins("website")


async def test_create_returns_the_site_with_etag(web, owner) -> None:
    r = await web.client.post(
        web.base + "/sites",
        json={"name": "Ada's garden", "slug": "adas-garden", "description": "Plants"},
    )
    assert r.status_code == 201, r.text
    site = r.json()
    assert site["name"] == "Ada's garden" and site["slug"] == "adas-garden"
    assert site["theme"] == "classic" and site["custom_domain"] is None
    assert site["description"] == "Plants" and site["language"] == "en"
    assert site["settings"].get("home_page", "home") == "home"  # defaults may be omitted
    assert site["url"].endswith("/sites/adas-garden/")
    assert uuid.UUID(site["id"])
    assert r.headers["etag"] == f'"{site["version"]}"'

    got = await web.client.get(web.site_url(site["id"]))
    assert got.status_code == 200 and got.json() == site
    assert got.headers["etag"] == r.headers["etag"]


async def test_create_with_theme_domain_and_settings(web) -> None:
    site = await web.site(
        "shop",
        theme="midnight",
        custom_domain="www.example.org",
        settings={"color_mode": "dark", "footer_text": "Hi", "home_page": "start"},
    )
    assert site["theme"] == "midnight"
    assert site["custom_domain"] == "www.example.org"
    assert site["url"] == "https://www.example.org/"
    assert site["settings"]["color_mode"] == "dark"
    assert site["settings"]["home_page"] == "start"


async def test_list_pages_through_with_a_cursor(web) -> None:
    made = [await web.site(f"site-{i}") for i in range(5)]
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        r = await web.client.get(web.base + "/sites", params=params)
        assert r.status_code == 200, r.text
        body = r.json()
        assert len(body["items"]) <= 2
        seen += [s["id"] for s in body["items"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert sorted(seen) == sorted(s["id"] for s in made) and len(set(seen)) == 5


async def test_list_limit_is_checked(web) -> None:
    for limit in (0, 201, "many"):
        r = await web.client.get(web.base + "/sites", params={"limit": limit})
        assert_problem(r, 400 if r.status_code == 400 else 422)


async def test_patch_changes_theme_settings_and_slug(web, events, owner) -> None:
    site = await web.site("before")
    url = web.site_url(site["id"])
    r = await web.client.patch(url, json={"theme": "sunrise", "name": "Renamed"})
    assert r.status_code == 200, r.text
    assert r.json()["theme"] == "sunrise" and r.json()["name"] == "Renamed"
    assert r.headers["etag"] == f'"{r.json()["version"]}"'
    assert r.json()["version"] > site["version"]

    r = await web.client.patch(url, json={"settings": {"color_mode": "dark", "footer_text": "x"}})
    assert r.status_code == 200, r.text
    assert r.json()["settings"]["color_mode"] == "dark"
    assert r.json()["settings"]["footer_text"] == "x"

    r = await web.client.patch(url, json={"slug": "after"})
    assert r.status_code == 200, r.text
    assert r.json()["slug"] == "after" and r.json()["url"].endswith("/sites/after/")
    got = (await web.client.get(url)).json()
    assert got["slug"] == "after" and got["theme"] == "sunrise" and got["name"] == "Renamed"

    updated = await events(owner, "website_updated", site["id"])
    changed = [e["payload"]["changed"] for e in updated]
    assert ["slug"] in changed and ["settings"] in changed
    assert any("theme" in c and "name" in c for c in changed)


async def test_patch_without_change_keeps_the_version(web) -> None:
    site = await web.site("same")
    r = await web.client.patch(web.site_url(site["id"]), json={"slug": "same"})
    assert r.status_code == 200, r.text
    assert r.json()["version"] == site["version"]


async def test_custom_domain_set_change_and_remove(web, events, owner) -> None:
    site = await web.site("domains")
    url = web.site_url(site["id"])
    r = await web.client.patch(url, json={"custom_domain": "www.example.org"})
    assert r.status_code == 200, r.text
    assert r.json()["custom_domain"] == "www.example.org"
    assert r.json()["url"] == "https://www.example.org/"

    r = await web.client.patch(url, json={"custom_domain": "shop.example.org"})
    assert r.status_code == 200 and r.json()["custom_domain"] == "shop.example.org"

    r = await web.client.patch(url, json={"custom_domain": None})
    assert r.status_code == 200, r.text
    assert r.json()["custom_domain"] is None
    assert r.json()["url"].endswith("/sites/domains/")
    assert (await web.client.get(url)).json()["custom_domain"] is None

    configured = await events(owner, "domain_configured", site["id"])
    assert [(e["payload"]["domain"], e["payload"].get("previous")) for e in configured] == [
        (None, "shop.example.org"),
        ("shop.example.org", "www.example.org"),
        ("www.example.org", None),
    ]
    # once removed, another site may take the domain
    other = await web.site("other", custom_domain="www.example.org")
    assert other["custom_domain"] == "www.example.org"


async def test_create_records_website_created_and_domain_configured(web, events, owner) -> None:
    site = await web.site("evented", custom_domain="evented.example.org")
    created = await events(owner, "website_created")
    assert [e["payload"] for e in created] == [{"site_id": site["id"], "slug": "evented"}]
    assert created[0]["target_id"] == site["id"]
    assert created[0]["actor_id"] == str(owner.person.id)
    configured = await events(owner, "domain_configured")
    assert configured[0]["payload"]["domain"] == "evented.example.org"
    assert configured[0]["payload"]["site_id"] == site["id"]


async def test_delete_site(web) -> None:
    site = await web.site("gone")
    page = await web.page(site["id"])
    r = await web.client.delete(web.site_url(site["id"]))
    assert r.status_code == 204, r.text
    assert_problem(await web.client.get(web.site_url(site["id"])), 404, "not_found")
    assert_problem(await web.client.get(web.page_url(site["id"], page["id"])), 404, "not_found")
    listed = (await web.client.get(web.base + "/sites")).json()["items"]
    assert site["id"] not in [s["id"] for s in listed]
    assert_problem(await web.client.delete(web.site_url(site["id"])), 404, "not_found")
    # the slug is free again
    again = await web.site("gone")
    assert again["id"] != site["id"]


BAD_SITES = [
    ({"slug": "Upper"}, "slug"),
    ({"slug": "has space"}, "slug"),
    ({"slug": "a" * 64}, "slug"),
    ({"slug": "-dash"}, "slug"),
    ({"slug": ""}, "slug"),
    ({"theme": "nope"}, "theme"),
    ({"custom_domain": "http://x.com"}, "custom_domain"),
    ({"custom_domain": "localhost"}, "custom_domain"),
    ({"custom_domain": "a..b.com"}, "custom_domain"),
    ({"custom_domain": "x.com/path"}, "custom_domain"),
    ({"custom_domain": "x.com:8080"}, "custom_domain"),
    ({"name": ""}, "name"),
    ({"settings": {"color_mode": "pink"}}, "settings.color_mode"),
    ({"settings": {"home_page": "Home Page"}}, "settings.home_page"),
    ({"colour": "red"}, "colour"),
]


async def test_create_refusals_name_the_field(web) -> None:
    for change, field in BAD_SITES:
        body = {"name": "S", "slug": "valid", **change}
        r = await web.client.post(web.base + "/sites", json=body)
        err = assert_problem(r, 422)
        assert err["code"] in {"validation_failed"}, (body, err)
        assert field in (err.get("field") or ""), (body, err)
    assert (await web.client.get(web.base + "/sites")).json()["items"] == []


async def test_bad_language_is_refused(web) -> None:
    r = await web.client.post(
        web.base + "/sites", json={"name": "S", "slug": "lang", "language": "not a language"}
    )
    err = assert_problem(r, 422, "validation_failed")
    assert err["field"] == "language", err  # the field as the client named it
    site = await web.site("lang")
    r = await web.client.patch(web.site_url(site["id"]), json={"language": "English!"})
    err = assert_problem(r, 422, "validation_failed")
    assert err["field"] == "language", err
    r = await web.client.patch(web.site_url(site["id"]), json={"language": "pt-BR"})
    assert r.status_code == 200 and r.json()["language"] == "pt-BR"


async def test_patch_refusals_name_the_field(web) -> None:
    site = await web.site("patchme")
    for change, field in BAD_SITES:
        r = await web.client.patch(web.site_url(site["id"]), json=change)
        err = assert_problem(r, 422)
        assert field in (err.get("field") or ""), (change, err)
    got = (await web.client.get(web.site_url(site["id"]))).json()
    assert got == site


async def test_slug_is_unique_across_tenants(creator_platform, web, web_for) -> None:
    await web.site("taken")
    other = web_for(await creator_platform.tenant())
    r = await other.client.post(other.base + "/sites", json={"name": "Mine", "slug": "taken"})
    err = assert_problem(r, 409, "conflict")
    assert err["field"] == "slug"
    mine = await other.site("mine")
    r = await other.client.patch(other.site_url(mine["id"]), json={"slug": "taken"})
    assert assert_problem(r, 409, "conflict")["field"] == "slug"
    # and within one tenant
    r = await web.client.post(web.base + "/sites", json={"name": "Again", "slug": "taken"})
    assert assert_problem(r, 409, "conflict")["field"] == "slug"


async def test_a_verified_custom_domain_is_unique(creator_platform, web, web_for) -> None:
    await web.site("one", custom_domain="www.example.org", verify=True)
    other = web_for(await creator_platform.tenant())
    r = await other.client.post(
        other.base + "/sites",
        json={"name": "Two", "slug": "two", "custom_domain": "www.example.org"},
    )
    assert assert_problem(r, 409, "conflict")["field"] == "custom_domain"
    two = await other.site("two")
    r = await other.client.patch(
        other.site_url(two["id"]), json={"custom_domain": "www.example.org"}
    )
    assert assert_problem(r, 409, "conflict")["field"] == "custom_domain"
    three = await web.site("three")
    r = await web.client.patch(web.site_url(three["id"]), json={"custom_domain": "WWW.Example.org"})
    # either refused as not lower-case, or refused as taken: never a second owner
    assert assert_problem(r)["status"] in {409, 422}


async def test_if_match_mismatch_is_412(web) -> None:
    site = await web.site("versioned")
    url = web.site_url(site["id"])
    r = await web.client.patch(url, json={"name": "A"}, headers={"If-Match": '"999"'})
    assert_problem(r, 412, "version_mismatch")
    stale = f'"{site["version"]}"'
    r = await web.client.patch(url, json={"name": "A"}, headers={"If-Match": stale})
    assert r.status_code == 200, r.text
    r = await web.client.patch(url, json={"name": "B"}, headers={"If-Match": stale})
    assert_problem(r, 412, "version_mismatch")
    r = await web.client.delete(url, headers={"If-Match": stale})
    assert_problem(r, 412, "version_mismatch")
    r = await web.client.patch(url, json={"name": "B"}, headers={"If-Match": "garbage"})
    assert_problem(r, 422)
    assert (await web.client.get(url)).json()["name"] == "A"
    assert_problem(await web.client.delete(url, headers={"If-Match": "garbage"}), 422)
    current = (await web.client.get(url)).headers["etag"]
    r = await web.client.delete(url, headers={"If-Match": current})
    assert r.status_code == 204, r.text


async def test_unknown_site_is_404(web) -> None:
    missing = uuid.uuid4()
    assert_problem(await web.client.get(web.site_url(str(missing))), 404, "not_found")
    assert_problem(await web.client.patch(web.site_url(str(missing)), json={"name": "x"}), 404)
    assert_problem(await web.client.delete(web.site_url(str(missing))), 404)
    r = await web.client.get(web.base + "/sites/not-a-uuid")
    assert r.status_code in {400, 404, 422}, r.text


async def test_catalogue_of_components_and_themes(web) -> None:
    r = await web.client.get(web.base + "/components")
    assert r.status_code == 200, r.text
    by_type = {c["type"]: c for c in r.json()}
    assert {"heading", "text", "button", "image", "section", "columns", "embed"} <= set(by_type)
    assert by_type["section"]["container"] and not by_type["heading"]["container"]
    assert by_type["heading"]["defaults"] == {"text": "Heading", "level": 2, "align": "start"}
    assert by_type["heading"]["plugin"] == "website"
    assert "properties" in by_type["heading"]["schema"] or "$ref" in by_type["heading"]["schema"]
    r = await web.client.get(web.base + "/themes")
    assert r.status_code == 200, r.text
    assert {"classic", "midnight", "sunrise"} <= {t["name"] for t in r.json()}


async def test_concurrent_claims_of_one_slug_or_domain(creator_platform, web, web_for) -> None:
    other = web_for(await creator_platform.tenant())
    results = await asyncio.gather(
        web.client.post(web.base + "/sites", json={"name": "A", "slug": "contested"}),
        other.client.post(other.base + "/sites", json={"name": "B", "slug": "contested"}),
    )
    assert sorted(r.status_code for r in results) == [201, 409], [r.text for r in results]
    assert_problem(next(r for r in results if r.status_code == 409), 409, "conflict")
    # A domain is held once verified: both may claim it pending, and of two verifications
    # at once (the record carrying both tokens) one wins.
    domain = {"custom_domain": "contested.example"}
    ours = await web.site("x-a", **domain)
    theirs = await other.site("x-b", **domain)
    record = ours["domain"]["record"]
    creator_platform.dns.set_txt(
        record["name"], record["value"], theirs["domain"]["record"]["value"]
    )
    results = await asyncio.gather(
        web.client.post(web.site_url(ours["id"], "/domain/verify")),
        other.client.post(other.site_url(theirs["id"], "/domain/verify")),
    )
    assert sorted(r.status_code for r in results) == [200, 409], [r.text for r in results]
    assert_problem(next(r for r in results if r.status_code == 409), 409, "conflict")


async def test_the_platforms_own_address_is_not_a_custom_domain(creator_platform_factory) -> None:
    """Visitors of the platform's own host get the platform, never a site: a site must not
    claim that host (its links, canonical URLs and sitemap would point at the platform)."""
    platform = await creator_platform_factory(
        plugins=["website"], public_url="https://creator.example.com"
    )
    tenant = await platform.tenant()
    tenant.client.base_url = "https://creator.example.com"  # the API answers there only
    base = f"/api/v1/website/groups/{tenant.group.id}"
    body = {"name": "S", "slug": "s", "custom_domain": "creator.example.com"}
    r = await tenant.client.post(base + "/sites", json=body)
    assert assert_problem(r)["field"] == "custom_domain"
    assert r.status_code in {409, 422}
    r = await tenant.client.post(base + "/sites", json={"name": "S", "slug": "s"})
    assert r.status_code == 201, r.text
    r = await tenant.client.patch(
        f"{base}/sites/{r.json()['id']}", json={"custom_domain": "creator.example.com"}
    )
    assert assert_problem(r)["field"] == "custom_domain"


async def test_settings_and_seo_patches_merge(web):
    site = await web.site(slug="merging", settings={"color_mode": "dark", "footer_text": "Hi"})
    r = await web.client.patch(web.site_url(site["id"]), json={"settings": {"footer_text": "Bye"}})
    assert r.status_code == 200, r.text
    assert r.json()["settings"] == {"color_mode": "dark", "footer_text": "Bye"}
    bad = await web.client.patch(web.site_url(site["id"]), json={"settings": {"color_mode": "x"}})
    assert bad.status_code == 422 and bad.json()["field"].startswith("settings")
    page = await web.page(site["id"], seo={"description": "About us", "noindex": True})
    patched = await web.patch_page(site["id"], page["id"], seo={"description": "New"})
    assert patched["seo"] == {"description": "New", "noindex": True}


async def test_names_under_the_platforms_address_are_not_custom_domains(creator_platform_factory):
    harness = await creator_platform_factory(
        plugins=["website"],
        public_url="https://creator.example.com",
        public_sites_origin="https://sites.example.net",
    )
    t = await harness.tenant()
    t.client.base_url = "https://creator.example.com"  # the API answers there only
    base = f"/api/v1/website/groups/{t.group.id}/sites"
    for domain in ("creator.example.com", "login.creator.example.com", "sites.example.net"):
        r = await t.client.post(base, json={"name": "S", "slug": "s1", "custom_domain": domain})
        assert r.status_code == 422 and r.json()["field"] == "custom_domain", domain


async def test_concurrent_settings_changes_are_all_kept(web):
    site = await web.site(slug="busy-settings")
    url = web.site_url(site["id"])
    changes = [
        {"settings": {"footer_text": "Footer"}},
        {"description": "About"},
        {"settings": {"color_mode": "dark"}},
        {"name": "Renamed"},
    ]
    results = await asyncio.gather(*(web.client.patch(url, json=c) for c in changes))
    assert [r.status_code for r in results] == [200] * 4
    final = (await web.client.get(url)).json()
    assert final["settings"] == {"footer_text": "Footer", "color_mode": "dark"}
    assert final["description"] == "About" and final["name"] == "Renamed"

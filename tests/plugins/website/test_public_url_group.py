"""Core's ``public_url_group`` hook as the website plugin answers it: which group's site a
public URL shows (a ``/sites/{slug}`` path on the platform's address, or a custom
domain), asked the way another plugin asks, through ``sdk.group_serving_url``."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import pytest

import sdk
from sdk import hookimpl

pytestmark = pytest.mark.creator_plugins("website")
PLATFORM = "http://testserver.local"  # the tests' public_url


async def test_hook_public_url_group(creator_platform, web, web_for) -> None:
    app = creator_platform.app
    other = web_for(await creator_platform.tenant(name="Other"))
    alpha, _ = await web.published_site("alpha", custom_domain="www.alpha.test", verify=True)
    await web.site("beta-draft")  # a site with nothing published still names its group
    await other.site("gamma", custom_domain="gamma.test", verify=True)
    await other.site("delta", custom_domain="delta.test")  # pending: nobody's yet
    mine, theirs = UUID(str(web.group_id)), UUID(str(other.group_id))
    assert creator_platform.platform.plugins.implementers("public_url_group") == ["website"]

    answers = {
        f"{PLATFORM}/sites/alpha": mine,
        f"{PLATFORM}/sites/alpha/": mine,
        f"{PLATFORM}/sites/alpha/about?x=1#top": mine,
        f"{PLATFORM}/sites/beta-draft/home": mine,
        f"{PLATFORM}/sites/gamma/home": theirs,
        "http://localhost:8000/sites/gamma": theirs,  # the platform by another of its names
        "https://www.alpha.test": mine,  # an Origin
        "https://WWW.Alpha.Test./pricing": mine,
        "http://www.alpha.test:8080/": mine,
        "https://gamma.test/": theirs,
        # a custom domain shows its own site only, whatever the path names
        "https://gamma.test/sites/alpha": theirs,
        # nothing is served there
        f"{PLATFORM}/sites/nobody": None,
        f"{PLATFORM}/sites/Not_A_Slug": None,
        f"{PLATFORM}/": None,
        f"{PLATFORM}/builder": None,
        f"{PLATFORM}/website/sites/alpha": None,
        "https://unknown.test/": None,
        "https://delta.test/": None,
        f"{PLATFORM}/sites/delta": theirs,
        "https://alpha.test/": None,  # not www.alpha.test
        "http://[::1": None,
        "not a url": None,
        "": None,
    }
    for url, group in answers.items():
        assert await sdk.group_serving_url(app, url) == group, url
    # asked again (now from the website's cache of site lookups): the same answers
    for url, group in answers.items():
        assert await sdk.group_serving_url(app, url) == group, url

    # a renamed site answers at its new names only
    r = await web.client.patch(
        web.site_url(alpha["id"]), json={"slug": "alpha-two", "custom_domain": "alpha.test"}
    )
    assert r.status_code == 200, r.text
    assert await sdk.group_serving_url(app, f"{PLATFORM}/sites/alpha") is None
    assert await sdk.group_serving_url(app, "https://www.alpha.test") is None
    assert await sdk.group_serving_url(app, f"{PLATFORM}/sites/alpha-two/home") == mine
    assert await sdk.group_serving_url(app, "https://alpha.test/") is None  # new: pending
    await web.verify_domain(r.json())
    assert await sdk.group_serving_url(app, "https://alpha.test/") == mine

    # a deleted site answers nothing
    assert (await web.client.delete(web.site_url(alpha["id"]))).status_code == 204
    assert await sdk.group_serving_url(app, f"{PLATFORM}/sites/alpha-two") is None
    assert await sdk.group_serving_url(app, "https://alpha.test/") is None
    assert await sdk.group_serving_url(app, "https://gamma.test/") == theirs


PARTNER = UUID("01900000-0000-7000-8000-00000000beef")


class Silent:
    """A plugin that implements the hook and never knows (a sync ``None``)."""

    @hookimpl
    def public_url_group(self, url: str) -> UUID | None:
        return None


class Partner:
    """A plugin serving pages of its own on a host of its own."""

    @hookimpl
    async def public_url_group(self, url: str) -> UUID | None:
        return PARTNER if url.startswith("https://partner.test") else None


@pytest.mark.creator_plugins("website", extra={"silent": Silent(), "partner": Partner()})
async def test_the_first_plugin_that_knows_answers(creator_platform, web) -> None:
    """Implementations run in plugin order and may be coroutines: an answer of ``None``
    (or a coroutine that will answer ``None``) does not stop the others."""
    app = creator_platform.app
    await web.site("alpha")
    assert await sdk.group_serving_url(app, f"{PLATFORM}/sites/alpha") == UUID(str(web.group_id))
    assert await sdk.group_serving_url(app, "https://partner.test/shop") == PARTNER
    assert await sdk.group_serving_url(app, "https://nobody.test/") is None


class Broken:
    """A plugin that fails, and one that answers with something that is not a group id."""

    @hookimpl
    async def public_url_group(self, url: str) -> UUID | None:
        raise RuntimeError("the partner's directory is down")


class Sloppy:
    @hookimpl
    def public_url_group(self, url: str) -> Any:
        return str(PARTNER)


@pytest.mark.creator_plugins("website", extra={"broken": Broken(), "sloppy": Sloppy()})
async def test_a_plugin_that_fails_or_answers_no_group_is_skipped(
    creator_platform, web, caplog
) -> None:
    """A public request never fails because one plugin does: its failure, or an answer
    that is no group id, is logged and the next plugin asked."""
    app = creator_platform.app
    await web.site("alpha")
    assert await sdk.group_serving_url(app, f"{PLATFORM}/sites/alpha") == UUID(str(web.group_id))
    assert await sdk.group_serving_url(app, "https://nobody.test/") is None
    logged = caplog.text
    assert "'broken' failed in public_url_group" in logged
    assert "'sloppy' answered public_url_group" in logged


@pytest.mark.creator_plugins("clone")
async def test_without_the_website_no_url_names_a_group(creator_platform) -> None:
    app = creator_platform.app
    assert creator_platform.platform.plugins.implementers("public_url_group") == []
    assert await sdk.group_serving_url(app, f"{PLATFORM}/sites/alpha") is None
    assert await sdk.group_serving_url(app, "https://www.alpha.test") is None

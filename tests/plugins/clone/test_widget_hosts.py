"""The widget on tenant hosts: with ``public_sites_origin`` set, published pages load the
widget's script, frame and public API from that origin (same-origin there), the snippet
creators paste names it, and the member API is not answered there."""

from __future__ import annotations

import pytest

from sdk.testing import assert_problem

SITES = "https://sites.example.test"

pytestmark = [
    pytest.mark.creator_plugins("clone", "website"),
    pytest.mark.clone_settings(public_sites_origin=SITES),
]


async def test_the_widget_runs_on_the_sites_origin(clone_platform, api, owner, docs) -> None:
    clone = await api.clone("Ada", welcome_message="Hello from Ada!")
    await api.text(clone["id"], "Refunds", docs["refunds"])
    await api.train(clone["id"])
    visitor = clone_platform.client
    # requests to the sites origin by its URL (https, as a browser there sends them)
    script = await visitor.get(SITES + "/clone/embed.js")
    assert script.status_code == 200 and "cp-clone-bubble" in script.text
    frame = await visitor.get(
        f"{SITES}/clone/widget/{clone['id']}", headers={"Referer": SITES + "/sites/a/home"}
    )
    assert frame.status_code == 200 and "Hello from Ada!" in frame.text
    assert (await visitor.get(SITES + "/static/clone/widget.js")).status_code == 200
    started = await visitor.post(
        f"{SITES}/api/v1/clone/widget/{clone['id']}/sessions", headers={"Origin": SITES}
    )
    assert started.status_code == 201, started.text
    assert "access-control-allow-origin" not in started.headers  # same origin there
    # a preflight reaches the widget's own CORS answer on any host (here: refused)
    preflight = await visitor.options(
        f"https://www.brand.example/api/v1/clone/widget/{clone['id']}/messages",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert_problem(preflight, 403, "origin_not_allowed")
    # the snippet to paste names the sites origin
    page = await owner.client.get(f"/clones/{owner.group.id}/{clone['id']}")
    assert page.status_code == 200, page.text
    assert f"&lt;script src=&#34;{SITES}/clone/embed.js&#34;" in page.text
    # the member API and the management pages are not on the sites origin
    assert_problem(await api.client.get(SITES + api.url(clone["id"])), 404, "not_on_this_host")
    response = await owner.client.get(f"{SITES}/clones/{owner.group.id}")
    assert_problem(response, 404, "not_on_this_host")

"""The embed widget: embed.js, the framed chat page, anonymous sessions, origins (CORS
and frame-ancestors), limits, and tenancy between creators with overlapping content."""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from sdk.testing import assert_problem

pytestmark = pytest.mark.creator_plugins("clone")

REFUND_QUESTION = "How many days do I have to ask for a refund?"
SITE = "https://mara.example"


def widget(clone_id: str, path: str = "") -> str:
    return f"/api/v1/clone/widget/{clone_id}{path}"


async def active_clone(api, docs, **patch) -> dict:
    clone = await api.clone("Ada", welcome_message="Hello from Ada!")
    await api.text(clone["id"], "Refunds", docs["refunds"])
    await api.train(clone["id"])
    if patch:
        r = await api.client.patch(api.url(clone["id"]), json=patch)
        assert r.status_code == 200, r.text
    return await api.get(clone["id"])


async def session(client, clone_id: str, **headers: str) -> dict:
    r = await client.post(widget(clone_id, "/sessions"), headers=headers)
    assert r.status_code == 201, r.text
    return r.json()


async def test_embed_script_and_widget_page(clone_platform, api, docs) -> None:
    visitor = clone_platform.client
    r = await visitor.get("/clone/embed.js")
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/javascript; charset=utf-8"  # one charset
    assert "data-clone" in r.text and "/clone/widget/" in r.text
    assert "\\uD83D" not in r.text and "<svg" not in r.text  # icons drawn as SVG elements
    assert "createElementNS" in r.text and "/look.js" in r.text  # the saved colour

    draft = await api.clone("Draft")
    r = await visitor.get(f"/clone/widget/{draft['id']}")
    assert r.status_code == 404 and "not available" in r.text  # drafts are not public

    clone = await active_clone(
        api,
        docs,
        allowed_origins=[SITE + "/", "HTTPS://Shop.Mara.Example"],
        widget_theme={"accent": "#aa3300"},
    )
    assert clone["allowed_origins"] == [SITE, "https://shop.mara.example"]
    assert clone["widget_theme"] == {"accent": "#aa3300"}
    # the saved look as a script, for a bubble whose page names no colour
    r = await visitor.get(f"/clone/widget/{clone['id']}/look.js")
    assert r.status_code == 200 and r.headers["content-type"] == "text/javascript; charset=utf-8"
    assert r.text == (
        f'(window.cpCloneLook = window.cpCloneLook || {{}})["{clone["id"]}"] = '
        '{"accent":"#aa3300"};\n'
    )
    assert (await visitor.get(f"/clone/widget/{draft['id']}/look.js")).status_code == 404
    r = await visitor.get(f"/clone/widget/{clone['id']}")
    assert r.status_code == 200 and "Hello from Ada!" in r.text
    assert 'data-accent="#aa3300"' in r.text
    csp = r.headers["content-security-policy"]
    assert f"frame-ancestors 'self' {SITE} https://shop.mara.example" in csp
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "x-frame-options" not in r.headers


async def test_patching_widget_settings_validates(api) -> None:
    clone = await api.clone("Ada")
    for bad in (
        {"allowed_origins": ["javascript:alert(1)"]},
        {"allowed_origins": ["https://a.example/path"]},
        {"allowed_origins": "https://a.example"},
        {"widget_theme": {"accent": "red"}},
        {"widget_theme": {"avatar_url": "http://insecure.example/a.png"}},
        {"widget_theme": {"font": "Comic Sans"}},
    ):
        assert_problem(await api.client.patch(api.url(clone["id"]), json=bad), 422)
    r = await api.client.patch(
        api.url(clone["id"]), json={"allowed_origins": ["https://a.example", "ftp://b"]}
    )
    body = assert_problem(r, 422)
    assert body["field"] == "allowed_origins[1]"  # the schema's pattern refuses it
    r = await api.client.patch(
        api.url(clone["id"]), json={"allowed_origins": ["https://a.example:99999"]}
    )
    assert assert_problem(r, 422)["field"] == "allowed_origins[0]"
    r = await api.client.patch(
        api.url(clone["id"]),
        json={"allowed_origins": ["https://a.example:443", "http://b.example:8080/"]},
    )
    assert r.json()["allowed_origins"] == ["https://a.example", "http://b.example:8080"]


async def test_an_anonymous_visitor_chats(clone_platform, api, docs, sse, events, owner) -> None:
    clone = await active_clone(api, docs)
    visitor = clone_platform.client
    r = await visitor.get(widget(clone["id"], "/config"))
    assert r.json() == {
        "clone_id": clone["id"],
        "name": "Ada",
        "welcome_message": "Hello from Ada!",
        "theme": {},
    }
    started = await session(visitor, clone["id"])
    assert started["expires_in"] == 24 * 3600 and len(started["session"]) >= 40
    headers = {"X-Clone-Session": started["session"]}

    r = await visitor.post(
        widget(clone["id"], "/messages"),
        json={"content": REFUND_QUESTION},
        params={"stream": "true"},
        headers=headers,
    )
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    streamed = sse(r.text)
    names = [name for name, _ in streamed]
    assert names[0] == "question" and names[-1] == "done" and "delta" in names
    answer = streamed[-1][1]
    assert answer["citations"] and answer["citations"][0]["title"] == "Refunds"
    assert "30 days" in answer["content"]

    r = await visitor.get(widget(clone["id"], "/messages"), headers=headers)
    assert [m["role"] for m in r.json()] == ["user", "assistant"]
    r = await visitor.post(
        widget(clone["id"], f"/messages/{answer['id']}/feedback"),
        json={"feedback": "up"},
        headers=headers,
    )
    assert r.status_code == 200 and r.json()["feedback"] == "up"

    # the creator sees the conversation, with the anonymous visitor's id
    threads = (await api.client.get(api.url(clone["id"], "/threads"))).json()["items"]
    assert [t["id"] for t in threads] == [started["thread_id"]]
    assert threads[0]["visitor"].startswith("visitor:")
    (answered,) = await events(owner, "message_answered")
    assert answered["actor_id"] is None  # no person acted


async def test_sessions_are_required_and_belong_to_one_clone(clone_platform, api, docs) -> None:
    first = await active_clone(api, docs)
    second = await active_clone(api, docs)
    visitor = clone_platform.client
    url = widget(first["id"], "/messages")
    assert_problem(await visitor.post(url, json={"content": "hi"}), 401, "unauthorized")
    assert_problem(await visitor.get(url, headers={"X-Clone-Session": "made-up"}), 401)
    other = await session(visitor, second["id"])
    assert_problem(await visitor.get(url, headers={"X-Clone-Session": other["session"]}), 401)
    mine = {"X-Clone-Session": (await session(visitor, first["id"]))["session"]}
    assert_problem(await visitor.post(url, json={"content": ""}, headers=mine), 422)
    assert_problem(await visitor.post(url, json={"content": "x" * 4001}, headers=mine), 422)
    assert_problem(await visitor.post(url, content=b"{", headers=mine), 400)
    assert_problem(await visitor.post(widget(first["id"], "/sessions/x")), 404)
    assert_problem(await visitor.get(widget("not-a-uuid", "/config")), 404)
    missing = "01900000-0000-7000-8000-000000000000"
    assert_problem(await visitor.get(widget(missing, "/config")), 404, "not_found")
    draft = await api.clone("Draft")
    assert_problem(await visitor.post(widget(draft["id"], "/sessions")), 404)


async def test_only_allowed_origins_get_in(clone_platform, api, docs) -> None:
    clone = await active_clone(api, docs, allowed_origins=[SITE])
    visitor = clone_platform.client
    body = assert_problem(
        await visitor.post(
            widget(clone["id"], "/sessions"), headers={"Origin": "https://evil.example"}
        ),
        403,
        "origin_not_allowed",
    )
    assert "evil.example" in body["detail"]
    r = await visitor.options(
        widget(clone["id"], "/messages"),
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert r.status_code == 403 and "access-control-allow-origin" not in r.headers

    r = await visitor.options(
        widget(clone["id"], "/messages"),
        headers={
            "Origin": SITE,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type, x-clone-session",
        },
    )
    assert r.status_code == 204
    assert r.headers["access-control-allow-origin"] == SITE
    assert "X-Clone-Session" in r.headers["access-control-allow-headers"]
    started = await session(visitor, clone["id"], Origin=SITE)
    r = await visitor.post(
        widget(clone["id"], "/messages"),
        json={"content": REFUND_QUESTION},
        headers={"Origin": SITE, "X-Clone-Session": started["session"]},
    )
    assert r.status_code == 201 and r.headers["access-control-allow-origin"] == SITE
    # errors carry CORS headers too, so the site's script can read them
    r = await visitor.get(widget(clone["id"], "/messages"), headers={"Origin": SITE})
    assert r.status_code == 401 and r.headers["access-control-allow-origin"] == SITE
    # the platform's own pages (the widget frame) are always allowed
    own = await session(visitor, clone["id"], Origin="http://testserver.local")
    assert own["session"]
    # an Origin that is no URL at all is refused like any other, never a 500
    for bad in ("http://[", "null", "http://x:99999"):
        assert_problem(
            await visitor.get(widget(clone["id"], "/config"), headers={"Origin": bad}),
            403,
            "origin_not_allowed",
        )


@pytest.mark.clone_settings(
    plugin_settings={"clone": {"widget_sessions_per_hour": 2, "widget_messages_per_minute": 2}}
)
async def test_visitors_are_rate_limited(clone_platform, api, docs) -> None:
    clone = await active_clone(api, docs)
    visitor = clone_platform.client
    first = await session(visitor, clone["id"])
    await session(visitor, clone["id"])
    r = await visitor.post(widget(clone["id"], "/sessions"))
    assert_problem(r, 429, "rate_limited")
    assert 1 <= int(r.headers["retry-after"]) <= 3600
    headers = {"X-Clone-Session": first["session"]}
    for _ in range(2):
        r = await visitor.post(
            widget(clone["id"], "/messages"), json={"content": REFUND_QUESTION}, headers=headers
        )
        assert r.status_code == 201, r.text
    r = await visitor.post(
        widget(clone["id"], "/messages"), json={"content": REFUND_QUESTION}, headers=headers
    )
    assert_problem(r, 429, "rate_limited")
    assert 1 <= int(r.headers["retry-after"]) <= 60


@pytest.mark.clone_settings(plugin_settings={"clone": {"widget_questions_per_day": 3}})
async def test_a_clones_widget_answers_so_many_questions_a_day(clone_platform, api, docs) -> None:
    """All visitors together, each within their own limits, ask one clone at most
    ``widget_questions_per_day`` questions a UTC day; the creator's own chat and the
    creator's other clones go on."""
    clone = await active_clone(api, docs)
    visitor = clone_platform.client
    sessions = [await session(visitor, clone["id"]) for _ in range(3)]
    asked = []
    for started in (*sessions, sessions[0]):
        asked.append(
            await visitor.post(
                widget(clone["id"], "/messages"),
                json={"content": REFUND_QUESTION},
                headers={"X-Clone-Session": started["session"]},
            )
        )
    assert [r.status_code for r in asked[:3]] == [201, 201, 201]
    body = assert_problem(asked[3], 429, "rate_limited")
    assert "today" in body["detail"]
    now = datetime.now(UTC)
    tomorrow = datetime.combine(now.date() + timedelta(days=1), time.min, UTC)
    # until the next UTC day (a second or two of the test's own running aside)
    assert abs(int(asked[3].headers["retry-after"]) - (tomorrow - now).total_seconds()) < 30

    # a new visitor is refused too; the creator's own chat is not capped
    late = await session(visitor, clone["id"])
    r = await visitor.post(
        widget(clone["id"], "/messages"),
        json={"content": REFUND_QUESTION},
        headers={"X-Clone-Session": late["session"]},
    )
    assert_problem(r, 429, "rate_limited")
    thread = await api.thread(clone["id"])
    for _ in range(4):
        answer = (await api.ask(clone["id"], thread["id"], REFUND_QUESTION))["answer"]
        assert "30 days" in answer["content"]
    other = await active_clone(api, docs)
    started = await session(visitor, other["id"])
    r = await visitor.post(
        widget(other["id"], "/messages"),
        json={"content": REFUND_QUESTION},
        headers={"X-Clone-Session": started["session"]},
    )
    assert r.status_code == 201, r.text


@pytest.mark.clone_settings(plugin_settings={"clone": {"widget_questions_per_address_per_day": 2}})
async def test_one_address_cannot_spend_a_clones_whole_day(clone_platform, api, docs) -> None:
    """One address asks at most ``widget_questions_per_address_per_day`` of a clone's
    daily questions, however many sessions it starts; what it is refused does not count
    against the clone's day."""
    clone = await active_clone(api, docs)
    visitor = clone_platform.client
    statuses = []
    for _ in range(4):
        started = await session(visitor, clone["id"])
        r = await visitor.post(
            widget(clone["id"], "/messages"),
            json={"content": REFUND_QUESTION},
            headers={"X-Clone-Session": started["session"]},
        )
        statuses.append(r.status_code)
    assert statuses == [201, 201, 429, 429]
    assert "from your address today" in assert_problem(r, 429, "rate_limited")["detail"]
    today = datetime.now(UTC).date().isoformat()
    spent = await clone_platform.platform.redis.get(f"clone:widget:day:{clone['id']}:{today}")
    assert int(spent) == 2


async def test_a_visitor_of_one_creator_never_reaches_anothers_knowledge(
    clone_platform, api, api_for
) -> None:
    """Two creators with overlapping content: each widget answers from its own."""
    other = api_for(await clone_platform.tenant(name="Other Studio"))
    mine = await api.clone("Ada")
    theirs = await other.clone("Bea")
    await api.text(mine["id"], "Refunds", "Refund policy. Ask for a refund within 30 days.")
    await other.text(theirs["id"], "Refunds", "Refund policy. Ask for a refund within 7 days.")
    await api.train(mine["id"])
    await other.train(theirs["id"])
    visitor = clone_platform.client
    for clone, days, wrong in ((mine, "30 days", "7 days"), (theirs, "7 days", "30 days")):
        started = await session(visitor, clone["id"])
        r = await visitor.post(
            widget(clone["id"], "/messages"),
            json={"content": REFUND_QUESTION},
            headers={"X-Clone-Session": started["session"]},
        )
        answer = r.json()["answer"]
        assert days in answer["content"] and wrong not in answer["content"]
        owner_api = api if clone is mine else other
        own_sources = {s["id"] for s in await owner_api.sources(clone["id"])}
        assert {c["source_id"] for c in answer["citations"]} <= own_sources
    # one creator's visitor session does not open the other's clone
    started = await session(visitor, mine["id"])
    assert_problem(
        await visitor.get(
            widget(theirs["id"], "/messages"), headers={"X-Clone-Session": started["session"]}
        ),
        401,
    )
    # and the member API stays closed to anonymous visitors
    assert_problem(await visitor.get(other.url(theirs["id"], "/threads")), 401)


async def test_a_clone_retraining_keeps_answering(clone_platform, api, docs, owner) -> None:
    clone = await active_clone(api, docs)
    from sdk import Scope

    stores = clone_platform.platform.ontology.scoped(Scope.system(owner.group.id))
    await stores.things.update(clone["id"], status="training")  # as a new training runs
    visitor = clone_platform.client
    assert (await visitor.get(f"/clone/widget/{clone['id']}")).status_code == 200
    started = await session(visitor, clone["id"])
    r = await visitor.post(
        widget(clone["id"], "/messages"),
        json={"content": REFUND_QUESTION},
        headers={"X-Clone-Session": started["session"]},
    )
    assert r.status_code == 201 and "30 days" in r.json()["answer"]["content"]
    never = await api.clone("New")  # never trained: not public while training
    await stores.things.update(never["id"], status="training")
    assert (await visitor.get(f"/clone/widget/{never['id']}")).status_code == 404


async def site_on(tenant, slug: str, domain: str, dns=None) -> None:
    """A website of ``tenant``'s group on ``domain``; with ``dns`` (the test's DNS server)
    the domain is verified, else it stays pending."""
    base = f"/api/v1/website/groups/{tenant.group.id}/sites"
    r = await tenant.client.post(base, json={"name": slug, "slug": slug, "custom_domain": domain})
    assert r.status_code == 201, r.text
    if dns is not None:
        record = r.json()["domain"]["record"]
        dns.set_txt(record["name"], record["value"])
        r = await tenant.client.post(f"{base}/{r.json()['id']}/domain/verify")
        assert r.status_code == 200 and r.json()["domain"]["status"] == "verified", r.text


async def start_on(client, clone_id: str, host: str, origin: str):
    """Start a session as a page of ``origin`` calling this server by the name ``host``."""
    return await client.post(
        widget(clone_id, "/sessions"), headers={"Host": host, "Origin": origin}
    )


@pytest.mark.creator_plugins("clone", "website")
async def test_the_platforms_origin_is_its_public_url(clone_platform, api, api_for, docs) -> None:
    """With ``public_url`` set (the tests' http://testserver.local), a ``Host`` header
    makes no origin the platform's; the custom domains of the clone's group's websites
    are its own (their pages run the widget there), another group's are not."""
    clone = await active_clone(api, docs)
    other = api_for(await clone_platform.tenant(name="Other"))
    await site_on(api.tenant, "nova", "studio-nova.example", clone_platform.dns)
    await site_on(other.tenant, "rival", "rival.example", clone_platform.dns)
    visitor = clone_platform.client
    body = assert_problem(
        await start_on(visitor, clone["id"], "alias.example", "http://alias.example"),
        403,
        "origin_not_allowed",
    )
    assert "alias.example" in body["detail"]
    r = await start_on(visitor, clone["id"], "alias.example", "http://testserver.local")
    assert r.status_code == 201, r.text
    assert r.headers["access-control-allow-origin"] == "http://testserver.local"
    r = await start_on(visitor, clone["id"], "studio-nova.example", "http://studio-nova.example")
    assert r.status_code == 201, r.text
    assert "access-control-allow-origin" not in r.headers  # same origin: no CORS needed
    r = await start_on(visitor, clone["id"], "rival.example", "https://rival.example")
    assert_problem(r, 403, "origin_not_allowed")
    # the other group's widget on its own domain works; this group's domain cannot use it
    theirs = await other.clone("Bea")
    await other.text(theirs["id"], "Refunds", "Refunds within 7 days.")
    await other.train(theirs["id"])
    r = await start_on(visitor, theirs["id"], "rival.example", "https://rival.example")
    assert r.status_code == 201, r.text
    r = await start_on(visitor, theirs["id"], "studio-nova.example", "https://studio-nova.example")
    assert_problem(r, 403, "origin_not_allowed")


@pytest.mark.creator_plugins("clone", "website")
async def test_a_pending_custom_domain_is_not_trusted(clone_platform, api, docs) -> None:
    """A domain the group claimed but has not verified (no DNS record yet) is not its
    own: anyone can claim any name, so the widget's origin check and its framing check
    trust verified domains only."""
    clone = await active_clone(api, docs)
    await site_on(api.tenant, "nova", "studio-nova.example")  # pending
    visitor = clone_platform.client
    r = await start_on(visitor, clone["id"], "studio-nova.example", "https://studio-nova.example")
    assert_problem(r, 403, "origin_not_allowed")
    # a page on the pending domain does not name the group as its framer either
    r = await visitor.get(
        f"/clone/widget/{clone['id']}",
        headers={"Host": "studio-nova.example", "Referer": "https://studio-nova.example/"},
    )
    assert "frame-ancestors 'self'" in r.headers["content-security-policy"]
    assert "studio-nova.example" not in r.headers["content-security-policy"]
    # verified, the same origin is the group's
    sites = await api.tenant.client.get(f"/api/v1/website/groups/{api.tenant.group.id}/sites")
    site = sites.json()["items"][0]
    record = site["domain"]["record"]
    clone_platform.dns.set_txt(record["name"], record["value"])
    r = await api.tenant.client.post(
        f"/api/v1/website/groups/{api.tenant.group.id}/sites/{site['id']}/domain/verify"
    )
    assert r.status_code == 200, r.text
    r = await start_on(visitor, clone["id"], "studio-nova.example", "https://studio-nova.example")
    assert r.status_code == 201, r.text


@pytest.mark.creator_plugins("clone", "website")
# the tests' client calls the API as testserver.local: without public_url, that name is the
# platform's only as its ``host`` setting (any other name is a tenant's, without the API)
@pytest.mark.clone_settings(public_url=None, host="testserver.local")
async def test_without_a_public_url_the_host_is_the_platform(
    clone_platform, api, api_for, docs
) -> None:
    """No ``public_url``: the request's ``Host`` is the platform's origin, unless it is
    another group's website's custom domain."""
    clone = await active_clone(api, docs)
    other = api_for(await clone_platform.tenant(name="Other"))
    await site_on(other.tenant, "rival", "rival.example", clone_platform.dns)
    visitor = clone_platform.client
    r = await start_on(visitor, clone["id"], "alias.example", "http://alias.example")
    assert r.status_code == 201, r.text
    r = await start_on(visitor, clone["id"], "rival.example", "http://rival.example")
    assert_problem(r, 403, "origin_not_allowed")
    r = await start_on(visitor, clone["id"], "alias.example", "http://elsewhere.example")
    assert_problem(r, 403, "origin_not_allowed")


async def test_without_the_website_plugin_no_url_names_a_group(clone_platform, api, docs) -> None:
    """Only the website plugin says which group's site a URL shows (``public_url_group``):
    without it a Referer naming ``/sites/...`` is any page of the platform's, and no
    origin is a group's custom domain (it must be one of the clone's allowed origins)."""
    assert clone_platform.platform.plugins.implementers("public_url_group") == []
    clone = await active_clone(api, docs, allowed_origins=[SITE])
    visitor = clone_platform.client
    for referer in ("http://testserver.local/sites/theirs/home", "https://studio.example/"):
        r = await visitor.get(f"/clone/widget/{clone['id']}", headers={"Referer": referer})
        assert r.status_code == 200 and "Hello from Ada!" in r.text, referer
    r = await start_on(visitor, clone["id"], "studio.example", "https://studio.example")
    assert_problem(r, 403, "origin_not_allowed")
    r = await start_on(visitor, clone["id"], "alias.example", SITE)
    assert r.status_code == 201 and r.headers["access-control-allow-origin"] == SITE


SECRET = "db=postgres://admin:hunter2@10.2.3.4 key=sk-proj-LEAKED0123456789"


@contextlib.contextmanager
def failing_llm_server() -> Iterator[str]:
    """An OpenAI-compatible chat completions API on 127.0.0.1 that refuses every request
    with an error message holding something secret-looking; yields its base URL."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            body = json.dumps({"error": {"message": f"upstream exploded: {SECRET}"}}).encode()
            self.send_response(400)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()


async def test_visitors_see_a_generic_error_with_a_reference(
    clone_platform, api, api_for, owner, docs, caplog
) -> None:
    """What a failing provider said goes to the log, under the request id; visitors and
    customers see a generic message naming that id; the creator keeps the details."""
    clone = await active_clone(api, docs, provider="openai")
    with failing_llm_server() as url:
        openai = clone_platform.app.state.clone.providers["openai"]
        await openai.aclose()
        openai.base_url, openai.max_retries = url, 0
        visitor = clone_platform.client
        headers = {"X-Clone-Session": (await session(visitor, clone["id"]))["session"]}
        for params in ({}, {"stream": "true"}):
            caplog.clear()
            r = await visitor.post(
                widget(clone["id"], "/messages"),
                json={"content": REFUND_QUESTION},
                params=params,
                headers=headers,
            )
            body = assert_problem(r, 502, "llm_unavailable")
            assert "hunter2" not in r.text and "LEAKED" not in r.text and "127.0.0.1" not in r.text
            assert body["reference"] == r.headers["x-request-id"]
            assert r.headers["x-request-id"] in body["detail"] and "kept" in body["detail"]
            logged = [rec for rec in caplog.records if "hunter2" in rec.getMessage()]
            assert logged and all(
                getattr(rec, "request_id", None) == body["reference"] for rec in logged
            )

        customer = api_for(await clone_platform.client_as("customer", group=owner))
        thread = await customer.thread(clone["id"])
        r = await customer.client.post(
            customer.thread_url(clone["id"], thread["id"], "/messages"),
            json={"content": REFUND_QUESTION},
        )
        assert_problem(r, 502, "llm_unavailable")
        assert "hunter2" not in r.text and "reference" in r.json()

        # the creator, who manages the clone's provider, sees what the provider said
        thread = await api.thread(clone["id"])
        r = await api.client.post(
            api.thread_url(clone["id"], thread["id"], "/messages"),
            json={"content": REFUND_QUESTION},
        )
        body = assert_problem(r, 502, "llm_unavailable")
        assert "upstream exploded" in body["detail"] and body["provider"] == "openai"

"""pytest fixtures that boot the platform on real PostgreSQL (+pgvector) and Redis.

Installed as a pytest plugin (entry point ``pytest11``), so a plugin's own test suite has
these fixtures with no set-up. The same fixtures test Creator Platform itself.

* one embedded PostgreSQL and Redis per test session (or the servers named by
  ``CREATOR_DATABASE_URL`` / ``CREATOR_REDIS_URL``), with a template database migrated
  once;
* per test, a fresh database cloned from the template and an empty Redis database;
* ``creator_platform``: the started app with the chosen plugins, and helpers to make
  people, groups and authenticated clients;
* for browser tests, ``creator_live_server`` (that app on a real HTTP port) and
  ``creator_browser`` (headless Chromium through Playwright; skips without them).
* for tests of a plugin's pages, plain helpers (the platform's own UI tests use them):

  - over HTTP: ``await sign_up(client)`` (a new person through the JSON API; the client
    keeps the session; returns it, with ``csrf_token``) and ``assert_ui_page(response,
    *landmarks)`` (a whole HTML page with a strict CSP and nothing inline; returns the
    HTML), ``assert_login_redirect(response, path)`` (no session: to the log-in page
    and back to ``path``);
  - in the browser: ``page, errors = await open_page(creator_browser)`` (a fresh context
    collecting console errors and uncaught exceptions; at the end ``assert
    real_errors(errors) == []``), ``await sign_up_in_browser(page, base, "/yours")``
    (from the log-in redirect through sign-up and back) and ``await
    assert_accessible(page, "where")`` (no serious or critical axe-core violation).

* for any test, plain helpers:

  - ``await creator_platform.client_as("org_user", group=tenant)``: a new person with
    that role (``org_owner``, ``org_user`` or ``customer``) in ``group`` (a
    :class:`Tenant` or a group; none: a new group with an owner of its own), returned as
    a :class:`Tenant` whose ``client`` sends their API token; with ``session=True`` the
    client is signed in with a browser session cookie instead and sends its CSRF token
    (what HTML pages and cookie-authenticated writes need). ``tenant()`` (a new owner of
    a new group) and ``member(of, role)`` are the same with the role fixed first;
  - ``body = assert_problem(response, 404, "not_found", field="slug")``: the response is
    an RFC 9457 problem (``application/problem+json``, ``type``, ``title``, ``status``
    equal to the HTTP status, a stable ``code`` that ``type`` ends with), not a server
    error unless ``status`` says so, with the given status, code and field (each
    optional); returns the body for further checks;
  - ``value = await wait_until(lambda: condition, within=10, message="job done")``:
    polls a sync or async callable until it returns something truthy and returns that;
    an ``AssertionError`` raised by the callable counts as "not yet". At the deadline it
    fails naming ``message`` (or the callable), the last value and the last assertion.
    For what completes in the background: jobs, event handlers, caches.

Choose plugins with ``@pytest.mark.creator_plugins("website", "clone")`` (no names: only
core); without the marker every installed plugin is enabled. Pass plugin objects that
are not installed with ``creator_plugins(extra={"name": module})``.

This is one module past the usual size because it is the pytest plugin third parties
install: its fixtures and helpers are imported from ``sdk.testing`` alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import os
import re
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit, urlunsplit

import asyncpg
import httpx
import msgspec
import pytest
import pytest_asyncio
from litestar import Litestar

from core.app import create_app
from core.auth.sessions import COOKIE_NAME, CSRF_HEADER
from core.auth.tokens import Actor
from core.errors import PROBLEM_CONTENT_TYPE
from core.migrations import migrate
from core.ontology.records import Group
from core.ontology.scope import GROUP_ROLES, Scope
from core.ontology.stores import ScopedOntology
from core.platform import Platform
from core.runtime import Runtime
from core.settings import Settings, load_settings

if TYPE_CHECKING:
    from playwright.async_api import Browser, ConsoleMessage, Page

BASE_URL = "http://testserver.local"


def database_url(server_url: str, name: str) -> str:
    """``server_url`` with its database replaced by ``name``."""
    parts = urlsplit(server_url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@dataclass
class Servers:
    """The session's PostgreSQL and Redis, and the migrated template database."""

    database_url: str
    redis_url: str
    template: str
    migrated_apps: set[str]
    data_dir: Path
    spare: list[str] = field(default_factory=list)

    async def create_database(self, *, empty: bool = False) -> str:
        """A new database: a copy of the migrated template, or with nothing in it."""
        name = f"creator_test_{uuid.uuid4().hex[:12]}"
        template = "" if empty else f" TEMPLATE {_quote(self.template)}"
        conn = await asyncpg.connect(self.database_url)
        try:
            await conn.execute(f"CREATE DATABASE {_quote(name)}{template}")
        finally:
            await conn.close()
        return name

    async def checkout_database(self) -> str:
        """A database equal to the migrated template: a recycled one, else a new copy.

        Recycling (``TRUNCATE``) is an order of magnitude cheaper than copying the
        template, which is most of a database test's cost."""
        return self.spare.pop() if self.spare else await self.create_database()

    async def checkin_database(self, name: str, *, reusable: bool) -> None:
        """Empty every table and keep the database for the next test; drop it instead when
        the test may have changed its schema (it ran migrations of its own)."""
        if not reusable:
            await self.drop_database(name)
            return
        conn = await asyncpg.connect(database_url(self.database_url, name))
        try:
            tables = [
                row[0]
                for row in await conn.fetch(
                    "SELECT quote_ident(tablename) FROM pg_tables "
                    "WHERE schemaname = 'public' AND tablename <> 'migration'"
                )
            ]
            if tables:
                await conn.execute(f"TRUNCATE {', '.join(tables)} CASCADE")
        finally:
            await conn.close()
        self.spare.append(name)

    async def drop_database(self, name: str) -> None:
        conn = await asyncpg.connect(self.database_url)
        try:
            await conn.execute(f"DROP DATABASE IF EXISTS {_quote(name)} WITH (FORCE)")
        finally:
            await conn.close()


async def _create_template(servers_url: str, template: str, settings: Settings) -> set[str]:
    conn = await asyncpg.connect(servers_url)
    try:
        await conn.execute(f"DROP DATABASE IF EXISTS {_quote(template)} WITH (FORCE)")
        await conn.execute(f"CREATE DATABASE {_quote(template)}")
    finally:
        await conn.close()
    apps = Platform.load(settings).migration_apps()
    await migrate(database_url(servers_url, template), apps)
    return {app.app_name for app in apps}


@pytest.fixture(scope="session")
def creator_servers() -> Iterator[Servers]:
    """Start (or reach) PostgreSQL and Redis once per session; build the template DB."""
    data_dir = Path(tempfile.mkdtemp(prefix="creator-test-"))
    settings = load_settings(environ={
        key: value for key, value in os.environ.items()
        if key in ("CREATOR_DATABASE_URL", "CREATOR_REDIS_URL")
    }, data_dir=data_dir)  # fmt: skip
    runtime = Runtime(settings).start()
    template = f"creator_template_{os.getpid()}"
    servers: Servers | None = None
    try:
        migrated = asyncio.run(_create_template(runtime.database_url, template, settings))
        servers = Servers(runtime.database_url, runtime.redis_url, template, migrated, data_dir)
        yield servers
    finally:
        try:

            async def drop() -> None:
                for name in [template, *(servers.spare if servers else [])]:
                    conn = await asyncpg.connect(runtime.database_url)
                    await conn.execute(f"DROP DATABASE IF EXISTS {_quote(name)} WITH (FORCE)")
                    await conn.close()

            asyncio.run(drop())
        finally:
            runtime.stop()
            shutil.rmtree(data_dir, ignore_errors=True)


@dataclass
class Tenant:
    """A person who belongs to a group with a role, and a client authenticated as them."""

    person: Actor
    token: str
    group: Group
    role: str
    client: httpx.AsyncClient
    #: With a session-signed-in client: the session's CSRF token (the client sends it).
    csrf_token: str | None = None

    @property
    def scope(self) -> Scope:
        return Scope(group_id=self.group.id, person_id=self.person.id, role=self.role)

    def url(self, path: str = "") -> str:
        """``/api/v1/groups/<this group>`` + ``path``."""
        return f"/api/v1/groups/{self.group.id}{path}"


@dataclass
class CreatorPlatform:
    """A started platform for one test: the app, its kernel, and helpers."""

    app: Litestar
    platform: Platform
    settings: Settings
    _counter: int = 0
    _clients: list[httpx.AsyncClient] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.client = self._client()  # anonymous

    def _client(self, headers: Mapping[str, str] | None = None) -> httpx.AsyncClient:
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app),  # type: ignore[arg-type]
            base_url=BASE_URL,
            headers=headers,
        )
        self._clients.append(client)
        return client

    async def person(
        self, email: str | None = None, *, platform_role: str | None = None
    ) -> tuple[Actor, str]:
        """A new person and an API token for them."""
        self._counter += 1
        email = email or f"person{self._counter}-{uuid.uuid4().hex[:6]}@example.test"
        actor = await self.platform.directory.create_person(
            email, f"Person {self._counter}", platform_role=platform_role
        )
        _, token = await self.platform.directory.issue_token(actor.id, "test")
        return actor, token

    async def tenant(
        self, slug: str | None = None, *, name: str | None = None, session: bool = False
    ) -> Tenant:
        """A new person owning a new group (``org_owner``); ``session`` as in
        :meth:`client_as`."""
        actor, token = await self.person()
        slug = slug or f"group-{uuid.uuid4().hex[:10]}"
        group = await self.platform.directory.create_group(actor, slug=slug, name=name or slug)
        return await self._signed_in(actor, token, group, "org_owner", session=session)

    async def member(self, of: Tenant | Group, role: str, *, session: bool = False) -> Tenant:
        """A new person with ``role`` in the group of ``of``; ``session`` as in
        :meth:`client_as`."""
        group = of.group if isinstance(of, Tenant) else of
        actor, token = await self.person()
        await self.platform.directory.add_member(group.id, actor.id, role)
        return await self._signed_in(actor, token, group, role, session=session)

    async def client_as(
        self, role: str, *, group: Tenant | Group | None = None, session: bool = False
    ) -> Tenant:
        """A new person with ``role`` (one of ``GROUP_ROLES``) in ``group``, and a client
        signed in as them.

        Without ``group``: a new group, owned by this person when ``role`` is
        ``org_owner``, else by another new person. The client sends the person's API
        token; with ``session=True`` it carries a browser session cookie and its CSRF
        token instead, as a person who logged in through the pages does."""
        if role not in GROUP_ROLES:
            raise ValueError(f"role must be one of {', '.join(GROUP_ROLES)}, not {role!r}")
        if group is None:
            if role == "org_owner":
                return await self.tenant(session=session)
            group = await self.tenant()
        return await self.member(group, role, session=session)

    async def _signed_in(
        self, actor: Actor, token: str, group: Group, role: str, *, session: bool
    ) -> Tenant:
        if not session:
            return Tenant(actor, token, group, role, self.authed(token))
        cookie, csrf_token = await self.platform.sessions.open(actor.id, user_agent="test")
        client = self._client({CSRF_HEADER: csrf_token})
        client.cookies.set(COOKIE_NAME, cookie, domain=urlsplit(BASE_URL).hostname or "")
        return Tenant(actor, token, group, role, client, csrf_token)

    def authed(self, token: str) -> httpx.AsyncClient:
        """A client sending ``Authorization: Bearer <token>``."""
        return self._client({"Authorization": f"Bearer {token}"})

    def ontology(self, of: Tenant | Scope) -> ScopedOntology:
        """Stores scoped as the tenant (or any scope), for arranging and asserting."""
        scope = of.scope if isinstance(of, Tenant) else of
        return self.platform.ontology.scoped(scope)

    async def aclose(self) -> None:
        for client in self._clients:
            await client.aclose()


async def _start_lifespan(app: Litestar, stack: AsyncExitStack) -> None:
    """Run the app's lifespan in a task of the test's own loop (so the pools and the app
    share that loop) until the stack closes. One task enters and exits it, as anyio
    requires."""
    started, stop = asyncio.Event(), asyncio.Event()

    async def hold() -> None:
        async with app.lifespan():
            started.set()
            await stop.wait()

    task = asyncio.ensure_future(hold())
    waiter = asyncio.ensure_future(started.wait())
    await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
    if task.done():
        waiter.cancel()
        error = task.exception()
        # Litestar's lifespan runs in a task group: unwrap a lone error so the test sees it.
        while isinstance(error, BaseExceptionGroup) and len(error.exceptions) == 1:
            error = error.exceptions[0]
        if error is not None:
            raise error

    async def finish() -> None:
        stop.set()
        await task

    stack.push_async_callback(finish)


PlatformFactory = Callable[..., Awaitable[CreatorPlatform]]


@pytest_asyncio.fixture
async def creator_platform_factory(
    creator_servers: Servers,
) -> AsyncIterator[PlatformFactory]:
    """``await factory(plugins=[...], extra_plugins={...}, **settings)`` → a started
    :class:`CreatorPlatform` on its own fresh database; all are stopped after the test."""
    async with AsyncExitStack() as stack:
        redis_db = 0

        async def make(
            plugins: list[str] | None = None,
            extra_plugins: Mapping[str, object] | None = None,
            **overrides: Any,
        ) -> CreatorPlatform:
            nonlocal redis_db
            name = await creator_servers.checkout_database()
            recycle = False

            async def checkin() -> None:
                await creator_servers.checkin_database(name, reusable=recycle)

            stack.push_async_callback(checkin)
            redis_url = creator_servers.redis_url.rsplit("/", 1)[0] + f"/{redis_db}"
            redis_db += 1
            settings = load_settings(
                environ={},
                data_dir=creator_servers.data_dir,
                database_url=database_url(creator_servers.database_url, name),
                redis_url=redis_url,
                plugins=plugins,
                migrate_on_start=True,
                db_pool_min_size=1,
                # Links the platform makes point where the test client sends requests.
                **{"public_url": BASE_URL, **overrides},
            )
            app = create_app(settings, extra_plugins=extra_plugins)
            platform: Platform = app.state.platform
            needed = {a.app_name for a in platform.migration_apps()}
            if needed <= creator_servers.migrated_apps and "migrate_on_start" not in overrides:
                platform.settings = msgspec.structs.replace(settings, migrate_on_start=False)
            await _start_lifespan(app, stack)
            recycle = not platform.settings.migrate_on_start
            await platform.redis.flushdb()
            harness = CreatorPlatform(app=app, platform=platform, settings=settings)
            stack.push_async_callback(harness.aclose)
            return harness

        yield make


@pytest_asyncio.fixture
async def creator_platform(
    request: pytest.FixtureRequest, creator_platform_factory: PlatformFactory
) -> CreatorPlatform:
    """The platform with the plugins of the ``creator_plugins`` marker (default: all)."""
    marker = request.node.get_closest_marker("creator_plugins")
    if marker is None:
        return await creator_platform_factory()
    return await creator_platform_factory(
        plugins=list(marker.args), extra_plugins=marker.kwargs.get("extra")
    )


@pytest_asyncio.fixture
async def creator_tenant(creator_platform: CreatorPlatform) -> Tenant:
    """A person owning a fresh group, with an authenticated client."""
    return await creator_platform.tenant()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "creator_plugins(*names, extra=None): plugins enabled for the creator_platform "
        "fixture (no names: core only); extra maps names to plugin objects to register.",
    )


# -- assertions and waiting ---------------------------------------------------------------

_PROBLEM_KEYS = ("type", "title", "status", "code")


def assert_problem(
    response: httpx.Response,
    status: int | None = None,
    code: str | None = None,
    *,
    field: str | None = None,
) -> dict[str, Any]:
    """``response`` is an RFC 9457 problem as every platform route answers errors, with
    ``status``, our stable ``code`` and the offending ``field`` when given; returns its
    body.

    Always checked: ``application/problem+json``; ``type``, ``title``, ``status`` and
    ``code`` present; the body's ``status`` equal to the HTTP status; ``code`` a
    non-empty string that ``type`` ends with; and no server error (5xx) unless
    ``status`` names one (a plugin answers 502 when a provider it calls fails)."""
    context = (response.request.method, str(response.request.url), response.status_code)
    if status is None:
        assert response.status_code < 500, (*context, response.text[:500])
    content_type = response.headers.get("content-type", "")
    shown = (*context, content_type, response.text[:500])
    assert content_type.startswith(PROBLEM_CONTENT_TYPE), shown
    body = response.json()
    assert isinstance(body, dict), (*context, body)
    for key in _PROBLEM_KEYS:
        assert key in body, (*context, f"no {key!r}", body)
    assert body["status"] == response.status_code, (*context, body)
    assert isinstance(body["code"], str) and body["code"], (*context, body)
    assert isinstance(body["title"], str) and body["title"], (*context, body)
    assert str(body["type"]).endswith(body["code"].replace("_", "-")), (*context, body)
    if status is not None:
        assert response.status_code == status, (*context, f"expected {status}", body)
    if code is not None:
        assert body["code"] == code, (*context, f"expected code {code!r}", body)
    if field is not None:
        assert body.get("field") == field, (*context, f"expected field {field!r}", body)
    return body


async def wait_until(
    condition: Callable[[], Any],
    *,
    within: float = 10.0,
    interval: float = 0.02,
    message: str | None = None,
) -> Any:
    """Call ``condition`` (sync, or returning an awaitable) every ``interval`` seconds
    until it returns something truthy, and return that.

    An ``AssertionError`` from ``condition`` means "not yet" (so it may assert what it
    waits for). After ``within`` seconds fail with an ``AssertionError`` naming
    ``message`` (or the callable), the last value it returned and the last assertion it
    raised."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    last_value: Any = None
    last_error: AssertionError | None = None
    while True:
        try:
            value = condition()
            if inspect.isawaitable(value):
                value = await value
        except AssertionError as error:
            last_error = error
        else:
            if value:
                return value
            last_value, last_error = value, None
        if loop.time() >= deadline:
            what = message or getattr(condition, "__qualname__", repr(condition))
            last = f"assertion: {last_error}" if last_error else f"value: {last_value!r}"
            raise AssertionError(f"waited {within:g} s for {what}; last {last}") from last_error
        await asyncio.sleep(interval)


# -- browser tests ------------------------------------------------------------------------

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest_asyncio.fixture
async def creator_live_server(creator_platform: CreatorPlatform) -> AsyncIterator[str]:
    """The ``creator_platform`` app served over real HTTP by uvicorn on 127.0.0.1 (a free
    port), inside the test's event loop; yields the base URL (``http://127.0.0.1:<port>``).

    The app's lifespan is already running (the ``creator_platform`` fixture started it),
    so uvicorn runs with ``lifespan="off"``."""
    import socket

    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        creator_platform.app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="off",
        forwarded_allow_ips=creator_platform.platform.settings.forwarded_allow_ips,
    )
    server = uvicorn.Server(config)
    task = asyncio.ensure_future(server.serve(sockets=[sock]))
    try:
        for _ in range(400):  # up to 10 s
            if server.started or task.done():
                break
            await asyncio.sleep(0.025)
        if task.done():
            task.result()  # raises what stopped the server
            raise RuntimeError("the live server stopped before it started")
        if not server.started:
            raise RuntimeError("the live server did not start within 10 s")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        try:
            await asyncio.wait_for(asyncio.shield(task), timeout=10)
        except TimeoutError:
            server.force_exit = True
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        finally:
            sock.close()


def _find_chromium() -> str | None:
    """``$CREATOR_CHROMIUM``, ``/usr/bin/chromium`` or ``chromium`` on the PATH."""
    candidates = (os.environ.get("CREATOR_CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium"))
    for candidate in candidates:
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


def _chromium_or_install() -> str | None:
    """Chromium's path; with ``CREATOR_INSTALL_CHROMIUM=1``, on Debian as root, install
    Debian's package first when it is missing (this project's CI asks for it in
    ``tests/conftest.py``)."""
    found = _find_chromium()
    if found is not None:
        return found
    wanted = os.environ.get("CREATOR_INSTALL_CHROMIUM") == "1"
    can = (
        hasattr(os, "geteuid")
        and os.geteuid() == 0
        and Path("/etc/debian_version").exists()
        and shutil.which("apt-get") is not None
    )
    if not (wanted and can):
        return None
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    print("creator_browser: Chromium is missing; running apt-get install -y chromium")

    def run(*args: str) -> bool:
        done = subprocess.run(["apt-get", *args], env=env, capture_output=True, text=True)
        if done.returncode != 0:
            print(f"creator_browser: apt-get {' '.join(args)} failed:\n{done.stderr[-2000:]}")
        return done.returncode == 0

    lists = Path("/var/lib/apt/lists")
    if not any(lists.glob("*_Packages*")):
        print("creator_browser: no apt package lists; running apt-get update first")
        run("update")
    # Stale package lists name files the mirror no longer has: refresh them and retry.
    if not run("install", "-y", "chromium") and run("update"):
        run("install", "-y", "chromium")
    return _find_chromium()


@pytest_asyncio.fixture
async def creator_browser() -> AsyncIterator[Browser]:
    """A headless Chromium (Debian's, not a downloaded one) driven by async Playwright.

    Skips the test when Playwright or Chromium is missing (see ``_chromium_or_install``
    for when it is installed instead). Function-scoped: Playwright's objects belong to the
    event loop that made them, and each test has its own loop."""
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        pytest.skip("Playwright is not installed: pip install playwright (no browser download)")
    executable = await asyncio.to_thread(_chromium_or_install)
    if executable is None:
        pytest.skip("Chromium is not installed: apt-get install chromium (see README)")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            await browser.close()


# -- UI tests: pages over HTTP and in the browser ------------------------------------------

#: The password the sign-up helpers use (long enough for the platform's rule).
TEST_PASSWORD = "correct horse battery staple"


async def sign_up(
    client: httpx.AsyncClient, name: str = "Ada", password: str = TEST_PASSWORD
) -> dict[str, Any]:
    """Sign up a new person (a unique email) through the JSON API; ``client`` keeps the
    session cookie. Returns the session (``csrf_token``, the person)."""
    email = f"{name.lower()}-{uuid.uuid4().hex[:8]}@example.test"
    r = await client.post(
        "/api/v1/auth/signup", json={"email": email, "password": password, "name": name}
    )
    assert r.status_code == 201, r.text
    session: dict[str, Any] = r.json()
    return session


def assert_ui_page(response: httpx.Response, *landmarks: str) -> str:
    """``response`` is a platform HTML page as every plugin's pages must be: 200, a whole
    document (doctype, ``lang``, a title, ``<header>`` and ``<main>``, and each of
    ``landmarks`` as text), never cached, with a strict Content-Security-Policy and nothing
    inline for it to block (no inline script, event handler attribute or style). Returns
    the HTML."""
    assert response.status_code == 200, response.text[:500]
    assert response.headers["content-type"].startswith("text/html")
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "style-src 'self'" in csp
    assert "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-content-type-options"] == "nosniff"
    html = response.text
    assert html.startswith("<!doctype html>")
    assert '<html lang="en">' in html
    assert re.search(r"<title>[^<]+</title>", html)
    for landmark in ("<main", "<header", *landmarks):
        assert landmark in html, landmark
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), "inline script"
    assert not re.search(r"\son[a-z]+\s*=", html), "inline event handler"
    assert not re.search(r"\sstyle\s*=", html), "inline style"
    return html


def assert_login_redirect(response: httpx.Response, next_path: str) -> None:
    """``response`` sends the browser to the log-in page, which brings it back to
    ``next_path`` (its query included) afterwards; never cached."""
    assert response.status_code == 302, response.text[:500]
    location = urlsplit(response.headers["location"])
    assert location.path == "/account/login"
    assert parse_qs(location.query) == {"next": [next_path]}
    assert response.headers["cache-control"] == "no-store"


async def open_page(
    browser: Browser, *, timeout_ms: float = 15_000, width: int = 1400, height: int = 1000
) -> tuple[Page, list[str]]:
    """A page in a fresh browser context (its own cookies) and the list it collects console
    errors and uncaught exceptions into (a CSP violation is a console error). Reduced
    motion: animations (SortableJS moves, transitions) do not make a test depend on how
    fast the machine is."""
    context = await browser.new_context(
        viewport={"width": width, "height": height}, reduced_motion="reduce"
    )
    page = await context.new_page()
    page.set_default_timeout(timeout_ms)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(f"uncaught: {exc}"))

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            errors.append(f"console: {message.text}")

    page.on("console", on_console)
    return page, errors


def real_errors(errors: list[str]) -> list[str]:
    """``errors`` from :func:`open_page` less failed loads of resources (the favicon, an
    off-line https image, a 404 the page handles), which are no bug of the page's."""
    return [e for e in errors if "Failed to load resource" not in e]


async def assert_accessible(page: Page, where: str) -> None:
    """axe-core finds no violation of impact serious or critical on ``page`` (the others
    are printed, named by ``where``)."""
    from axe_playwright_python.async_playwright import Axe

    results = await Axe().run(page)
    violations: list[dict[str, Any]] = results.response["violations"]
    for v in violations:
        print(f"axe [{where}] {v['impact']}: {v['id']} — {v['help']} ({len(v['nodes'])} nodes)")
    serious = [v for v in violations if v["impact"] in ("serious", "critical")]
    assert not serious, "\n".join(
        f"{v['id']} ({v['impact']}): {v['help']}: {[n['target'] for n in v['nodes']][:5]}"
        for v in serious
    )


async def sign_up_in_browser(page: Page, base: str, path: str, name: str = "Ada") -> None:
    """Open ``base + path`` with no session, follow the log-in page's "Create an account"
    link, sign up a new person, and land back on ``path`` (the ``next`` it was given)."""
    from playwright.async_api import expect

    await page.goto(base + path)
    back = re.escape(path).replace("/", "(/|%2F)")
    await expect(page).to_have_url(re.compile(rf"/account/login\?next={back}$"))
    await page.get_by_role("link", name="Create an account").click()
    await expect(page.get_by_role("heading", name="Create your account")).to_be_visible()
    await page.wait_for_load_state()
    await page.get_by_label("Your name").fill(name)
    await page.get_by_label("Email").fill(f"{name.lower()}-{uuid.uuid4().hex[:8]}@example.test")
    await page.get_by_label("Password").fill(TEST_PASSWORD)
    await page.get_by_role("button", name="Create account").click()
    await expect(page).to_have_url(base + path)
    await page.wait_for_load_state()

"""A started platform per test (:class:`CreatorPlatform`), with helpers that make people,
groups and signed-in clients, and the fixtures that build it.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx
import msgspec
import pytest
import pytest_asyncio
from litestar import Litestar

from core.app import create_app
from core.auth.sessions import COOKIE_NAME, CSRF_HEADER
from core.auth.tokens import Actor
from core.ontology.records import Group
from core.ontology.scope import GROUP_ROLES, Scope
from core.ontology.stores import ScopedOntology
from core.platform import Platform
from core.settings import Settings, load_settings

if TYPE_CHECKING:
    pass

from sdk.testing.dns import LocalDNS
from sdk.testing.fuzz import FuzzReport, fuzz_api
from sdk.testing.servers import BASE_URL, Servers, database_url


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
    #: The DNS server the platform asks (``dns.set_txt(name, *values)``); ``None`` when the
    #: test set ``dns_nameservers`` itself.
    dns: LocalDNS | None = None
    #: Examples per operation for :meth:`fuzz` (pytest's ``--fuzz-examples``; ``None``:
    #: the default).
    fuzz_examples: int | None = None
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

    async def fuzz(
        self,
        tenant: Tenant | None = None,
        *,
        paths: str | Sequence[str] = (),
        ids: Mapping[str, str] | None = None,
        examples: int | None = None,
        seed: int | None = None,
        coverage: bool = False,
        stateful: bool = False,
        check: bool = True,
    ) -> FuzzReport:
        """Fuzz the served API under ``paths`` from its OpenAPI document as ``tenant``
        (default: a new group's owner); fails the test on a 5xx or an undocumented
        response. See :func:`sdk.testing.fuzz.fuzz_api`."""
        return await fuzz_api(
            self,
            tenant,
            paths=paths,
            ids=ids,
            examples=examples,
            seed=seed,
            coverage=coverage,
            stateful=stateful,
            check=check,
        )

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
    creator_servers: Servers, creator_dns: LocalDNS, pytestconfig: pytest.Config
) -> AsyncIterator[PlatformFactory]:
    """``await factory(plugins=[...], extra_plugins={...}, **settings)`` → a started
    :class:`CreatorPlatform` on its own fresh database; all are stopped after the test.
    Its DNS look-ups go to the test's ``creator_dns`` server unless ``dns_nameservers``
    is given."""
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
                # DNS answers come from the test's own server, never the network.
                **{
                    "public_url": BASE_URL,
                    "dns_nameservers": [creator_dns.nameserver],
                    "dns_timeout_seconds": 2.0,
                    **overrides,
                },
            )
            app = create_app(settings, extra_plugins=extra_plugins)
            platform: Platform = app.state.platform
            needed = {a.app_name for a in platform.migration_apps()}
            if needed <= creator_servers.migrated_apps and "migrate_on_start" not in overrides:
                platform.settings = msgspec.structs.replace(settings, migrate_on_start=False)
            await _start_lifespan(app, stack)
            recycle = not platform.settings.migrate_on_start
            await platform.redis.flushdb()
            harness = CreatorPlatform(
                app=app,
                platform=platform,
                settings=settings,
                dns=None if "dns_nameservers" in overrides else creator_dns,
                fuzz_examples=pytestconfig.getoption("fuzz_examples", None),
            )
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

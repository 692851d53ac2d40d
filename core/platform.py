"""The assembled kernel: enabled plugins, their types, handlers and jobs, and the stores.

``Platform.load(settings)`` does everything that needs no server (plugin discovery, the
type registry), so a bad plugin or a type clash fails before anything starts.
``await platform.start()`` migrates and opens connections.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from datetime import timedelta
from typing import TypeVar

import redis.asyncio as aioredis
from piccolo.conf.apps import AppConfig

from core import cpu
from core.auth.accounts import Accounts
from core.auth.devices import Devices
from core.auth.members import Members
from core.auth.permissions import Permissions
from core.auth.ratelimit import AttemptLimiter
from core.auth.secrets import signing_secret
from core.auth.sessions import Sessions
from core.auth.tokens import Directory
from core.db import Database, database_logins
from core.events import EventBus
from core.hosts import Hosts
from core.jobs import DuplicateJobError, JobRegistry
from core.knowledge.providers import Metered
from core.knowledge.registry import Embedders, collect_embedders
from core.knowledge.service import KnowledgeService
from core.limits import RateLimiter
from core.migrations import migrate
from core.ontology.stores import Ontology
from core.ontology.types import DuplicateTypeError, TypeRegistry
from core.plugins import PluginManager
from core.quotas import Quotas
from core.resolver import TxtResolver
from core.settings import Settings
from core.shell import Shell
from core.streams import StreamHub
from core.usage import Usage

log = logging.getLogger("creator.platform")

T = TypeVar("T")


def _running(value: T | None) -> T:
    if value is None:
        raise RuntimeError("the platform has not started")
    return value


def _name(declaration: object) -> object:
    return getattr(declaration, "name", None)


class Platform:
    def __init__(self, settings: Settings, plugins: PluginManager) -> None:
        self.settings = settings
        self.plugins = plugins
        #: The platform's host names and ``public_sites_origin`` (:mod:`core.hosts`).
        self.hosts = Hosts(settings)
        self.registry = TypeRegistry()
        for hook, kind, add in (
            ("register_thing_types", "thing type", self.registry.add_thing_type),
            ("register_connection_types", "connection type", self.registry.add_connection_type),
            ("register_event_types", "event type", self.registry.add_event_type),
        ):
            declared = plugins.collect_unique(hook, key=_name, what=kind, error=DuplicateTypeError)
            for name, decl in declared.items():
                add(decl, declared.owner(name))
        self.bus = EventBus()
        for plugin, handler in plugins.collect("register_event_handlers"):
            self.bus.add(plugin, handler)
        self.jobs = JobRegistry()
        jobs = plugins.collect_unique(
            "register_jobs",
            key=lambda job: getattr(job, "qualified_name", None),
            what="job",
            error=DuplicateJobError,
        )
        for name, job in jobs.items():
            self.jobs.add(jobs.owner(name), job)
        self.permissions = Permissions(plugins)
        #: What plugins add to the creator app's shell (navigation, dashboard widgets,
        #: settings pages) and the reserved admin paths (:mod:`core.shell`).
        self.shell = Shell(plugins)
        self.quotas = Quotas(plugins, self.registry)
        #: Hosted model calls metered against monthly budgets (:mod:`core.usage`).
        self.usage = Usage(settings)
        #: ``await platform.resolve_txt(name)``: a name's DNS TXT strings (the
        #: ``resolve_txt`` hook's first answer, else DNS; see ``core.resolver``).
        self.resolve_txt = TxtResolver(settings, plugins)
        #: Embedding providers by name (``register_embedding_providers``).
        self.embedders: Embedders = collect_embedders(plugins, settings)
        for embedder in self.embedders.values():
            if isinstance(embedder, Metered):
                embedder.meter_with(self.usage)
        #: The live event streams' reader in this process (started by the app's lifespan;
        #: a worker process serves no streams and leaves it stopped).
        self.streams = StreamHub()
        self._knowledge: KnowledgeService | None = None
        self._db: Database | None = None
        self._redis: aioredis.Redis | None = None
        self._limits: RateLimiter | None = None
        self._ontology: Ontology | None = None
        self._directory: Directory | None = None
        self._accounts: Accounts | None = None
        self._sessions: Sessions | None = None
        self._devices: Devices | None = None
        self._members: Members | None = None

    @classmethod
    def load(
        cls, settings: Settings, *, extra_plugins: Mapping[str, object] | None = None
    ) -> Platform:
        return cls(settings, PluginManager(settings.plugins, extra=extra_plugins))

    def migration_apps(self) -> list[AppConfig]:
        return [app for _, app in self.plugins.collect("register_migrations")]

    # -- lifecycle ----------------------------------------------------------------------

    async def start(self) -> None:
        url = self.settings.database_url
        if not url or not self.settings.redis_url:
            raise RuntimeError("Platform.start() needs database_url and redis_url (see Runtime)")
        logins = database_logins(self.settings)
        if self.settings.migrate_on_start:
            applied = await migrate(url, self.migration_apps(), role_passwords=logins.managed)
            for report in applied:
                if report.applied:
                    log.info("applied %d migration(s) of %s", len(report.applied), report.app)
        cpu.configure(self.settings.cpu_workers, self.settings.cpu_queue)
        self._db = Database(
            logins,
            min_size=self.settings.db_pool_min_size,
            max_size=self.settings.db_pool_max_size,
            system_max_size=self.settings.db_system_pool_max_size,
        )
        await self._db.open()
        self._redis = aioredis.Redis.from_url(self.settings.redis_url)
        self._ontology = Ontology(self._db, self.registry, self.bus.dispatch)
        self.bus.bind(self._ontology)
        self.jobs.bind(self._redis, self.settings)
        self.bus.connect(self._redis, self.jobs, self.settings)
        self.quotas.bind(self._ontology)
        self.usage.bind(self._redis, self._db)
        self._directory = Directory(self._db)
        self._limits = RateLimiter(self._redis)
        self._accounts = Accounts(self._db, AttemptLimiter(self._limits))
        self._members = Members(self._ontology)
        self._knowledge = KnowledgeService(self._ontology, self.embedders, self.settings)
        self._sessions = Sessions(
            self._db, signing_secret(self.settings), timedelta(days=self.settings.session_days)
        )
        self._devices = Devices(signing_secret(self.settings))

    async def stop(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()
            self._redis = None
        if self._db is not None:
            await self._db.close()
            self._db = None

    async def check_ready(self) -> dict[str, str]:
        async def check(name: str, probe: object) -> tuple[str, str]:
            try:
                await asyncio.wait_for(probe, timeout=2.0)  # type: ignore[arg-type]
                return name, "ok"
            except Exception as exc:
                return name, f"{type(exc).__name__}: {exc}" or "unreachable"

        results = await asyncio.gather(
            check("database", self.db.ping()), check("redis", self.redis.ping())
        )
        return dict(results)

    # -- what a running platform offers -------------------------------------------------

    @property
    def db(self) -> Database:
        return _running(self._db)

    @property
    def redis(self) -> aioredis.Redis:
        return _running(self._redis)

    @property
    def limits(self) -> RateLimiter:
        """Named rate limits in Redis, shared by every process (:mod:`core.limits`)."""
        return _running(self._limits)

    @property
    def ontology(self) -> Ontology:
        return _running(self._ontology)

    @property
    def directory(self) -> Directory:
        return _running(self._directory)

    @property
    def accounts(self) -> Accounts:
        return _running(self._accounts)

    @property
    def sessions(self) -> Sessions:
        return _running(self._sessions)

    @property
    def devices(self) -> Devices:
        """Known-device cookies, which give an account owner's browser its own log-in line."""
        return _running(self._devices)

    @property
    def members(self) -> Members:
        return _running(self._members)

    @property
    def knowledge(self) -> KnowledgeService:
        """Ingest, search and re-embedding with the configured embedding provider."""
        return _running(self._knowledge)

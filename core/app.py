"""``create_app(settings)``: one Litestar app from the enabled plugins.

With no database/Redis URL in the settings, the app starts the embedded servers in its
lifespan (and stops them on shutdown), so ``creator serve`` and any ASGI server run the
same code path.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import msgspec
from litestar import Litestar
from litestar.config.response_cache import ResponseCacheConfig
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import ScalarRenderPlugin, SwaggerRenderPlugin
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig

from core import __version__
from core.api.deps import dependencies
from core.api.openapi import MsgspecConstraintsPlugin, document_problems
from core.api.problems import EXCEPTION_HANDLERS
from core.hosts import ANY_HOST, host_guard
from core.introspect import route_paths
from core.logs import configure_logging
from core.observability import instrument
from core.platform import Platform
from core.plugins import PluginError
from core.runtime import Runtime
from core.settings import Settings, load_settings
from core.storable import StorableTextMiddleware
from core.throttle import rate_limit_middleware, rate_limit_stores
from core.ui import StaticFiles
from core.worker import Background

log = logging.getLogger("creator.app")


async def _call_hook_each(platform: Platform, name: str, app: Litestar) -> None:
    """Run ``startup`` / ``shutdown`` of each plugin, sync or async. A failing ``startup``
    stops start-up with an error naming the plugin; a failing ``shutdown`` is logged and
    the other plugins still shut down."""
    for plugin, call in platform.plugins.callers(name, app=app):
        try:
            result = call()
            if inspect.isawaitable(result):
                await result
        except Exception as exc:
            log.exception("%s hook of plugin %r failed", name, plugin)
            if name == "startup":
                raise PluginError(
                    f"startup hook of plugin {plugin!r} failed: {type(exc).__name__}: {exc}"
                ) from exc


def _check_route_clashes(handlers: list[tuple[str, Any]]) -> None:
    """Two plugins answering the same method and path stop start-up, naming both."""
    by_plugin: dict[str, list[Any]] = {}
    for plugin, handler in handlers:
        by_plugin.setdefault(plugin, []).append(handler)
    owner: dict[str, str] = {}
    for plugin, owned in by_plugin.items():
        for route in route_paths(owned):
            methods, path = route.split(" ", 1)
            for method in methods.split(","):
                key = f"{method} {path}"
                if owner.get(key, plugin) != plugin:
                    raise PluginError(
                        f"route {key} is registered by both plugin {owner[key]!r} "
                        f"and plugin {plugin!r}"
                    )
                owner[key] = plugin


def _templates(platform: Platform) -> TemplateConfig[Any] | None:
    directories: list[Path | str] = [
        Path(d) for _, d in platform.plugins.collect("register_templates")
    ]
    if not directories:
        return None
    from litestar.plugins.jinja import JinjaTemplateEngine

    return TemplateConfig(directory=directories, engine=JinjaTemplateEngine)  # type: ignore[arg-type]


def create_app(
    settings: Settings | None = None,
    *,
    extra_plugins: Mapping[str, object] | None = None,
) -> Litestar:
    """Assemble the app. ``extra_plugins`` registers plugin objects directly (tests)."""
    settings = settings or load_settings()
    configure_logging(settings)
    platform = Platform.load(settings, extra_plugins=extra_plugins)

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        runtime: Runtime | None = None
        if not settings.database_url or not settings.redis_url:
            runtime = Runtime(settings).start()
            platform.settings = msgspec.structs.replace(
                settings, database_url=runtime.database_url, redis_url=runtime.redis_url
            )
        try:
            await platform.start()
            try:
                await _call_hook_each(platform, "startup", app)
            except BaseException:
                await platform.stop()
                raise
            # The outbox relay always; a job worker too when asked (by default: when the
            # servers are embedded, so one process is enough on a laptop).
            with_worker = settings.worker if settings.worker is not None else runtime is not None
            background = app.state.background = Background(platform, worker=with_worker)
            try:
                await platform.streams.start(platform.settings)
                await background.start()
                yield
            finally:
                await background.stop()
                await platform.streams.stop()
                await _call_hook_each(platform, "shutdown", app)
                await platform.stop()
        finally:
            if runtime is not None:
                runtime.stop()

    routes = platform.plugins.collect("register_routes")
    _check_route_clashes(routes)
    handlers: list[Any] = [route for _, route in routes]
    for plugin, static in platform.plugins.collect("register_static"):
        assert isinstance(static, StaticFiles), f"{plugin}: register_static needs StaticFiles"
        handlers.append(
            create_static_files_router(
                path=static.path,
                directories=[Path(static.directory)],
                name=f"static:{plugin}:{static.path}",
                include_in_schema=False,
                # the platform's scripts and styles: widgets on tenant pages load them too
                opt=dict(ANY_HOST),
            )
        )

    app = Litestar(
        route_handlers=handlers,
        dependencies=dependencies(platform),
        exception_handlers=EXCEPTION_HANDLERS,
        # hosts first: a tenant host's request for the API is refused before it is counted
        middleware=[host_guard, *rate_limit_middleware(settings), StorableTextMiddleware()],
        stores=rate_limit_stores(platform),
        logging_config=None,  # core.logs configures logging, not Litestar
        lifespan=[lifespan],
        plugins=[MsgspecConstraintsPlugin()],
        openapi_config=OpenAPIConfig(
            title="Creator Platform",
            version=__version__,
            path="/schema",
            render_plugins=[ScalarRenderPlugin(), SwaggerRenderPlugin(path="/swagger")],
        ),
        template_config=_templates(platform),
        request_max_body_size=settings.max_body_bytes,
        response_cache_config=ResponseCacheConfig(),
        debug=settings.debug,
    )
    app.state.platform = platform
    document_problems(app)  # every operation says it may answer problem+json
    instrument(app)  # request ids, access log, metrics: around everything, 404s included
    return app

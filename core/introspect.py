"""What each plugin registered, for ``creator plugins list`` and the docs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from litestar import Router

if TYPE_CHECKING:
    from core.platform import Platform


def route_paths(handlers: list[Any]) -> list[str]:
    """``METHOD /path`` for each route the given handlers/controllers/routers define."""
    router = Router(path="/", route_handlers=handlers)
    out = []
    for route in router.routes:
        methods = sorted(m for m in getattr(route, "methods", ()) if m not in ("OPTIONS", "HEAD"))
        out.append(f"{','.join(methods) or 'WS'} {route.path}")
    return sorted(out)


def describe_plugins(platform: Platform) -> list[dict[str, Any]]:
    routes: dict[str, list[Any]] = {}
    for plugin, handler in platform.plugins.collect("register_routes"):
        routes.setdefault(plugin, []).append(handler)
    described = []
    for info in platform.plugins.info():
        item: dict[str, Any] = {
            "name": info.name,
            "module": info.module,
            "version": info.version,
            "builtin": info.builtin,
            "enabled": info.enabled,
        }
        if info.enabled:
            item.update(platform.registry.owned_by(info.name))
            item["routes"] = route_paths(routes.get(info.name, []))
            item["jobs"] = platform.jobs.by_plugin(info.name)
            item["handlers"] = platform.bus.by_plugin(info.name)
            item["hooks"] = info.hooks
        described.append(item)
    return described

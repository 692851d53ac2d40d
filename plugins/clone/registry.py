"""Collecting what plugins register through the clone plugin's hooks (LLM, voice and
avatar providers, tools): objects with a unique ``name`` and the methods their kind needs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sdk


def collect_named(platform: sdk.Platform, hook: str, methods: Sequence[str]) -> dict[str, Any]:
    """What every enabled plugin returns from ``hook``, by name, in registration order.
    Start-up stops, naming the plugin, on an object without a name or one of ``methods``,
    and on a name registered twice."""
    found: dict[str, Any] = {}
    owners: dict[str, str] = {}
    for plugin, item in platform.plugins.collect(hook, platform=platform):
        name = getattr(item, "name", None)
        if (
            not isinstance(name, str)
            or not name
            or not all(callable(getattr(item, m, None)) for m in methods)
        ):
            raise sdk.PlatformError(
                f"plugin {plugin!r}: {item!r} from {hook} needs a name and "
                + ", ".join(f"{m}()" for m in methods)
            )
        if name in found:
            raise sdk.PlatformError(
                f"{hook}: {name!r} is registered by both plugin {owners[name]!r} and {plugin!r}"
            )
        found[name], owners[name] = item, plugin
    return found

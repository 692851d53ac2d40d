"""Collecting what plugins register through the clone plugin's hooks (LLM, voice and
avatar providers, tools): objects with a unique ``name`` and the methods their kind needs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sdk


def collect_named(
    platform: sdk.Platform, hook: str, methods: Sequence[str], what: str
) -> dict[str, Any]:
    """What every enabled plugin returns from ``hook``, by name, in registration order.
    Start-up stops, naming the plugin, on an object without a name or one of ``methods``,
    and, naming both plugins, on a ``what`` (``voice provider``) registered twice."""

    def check(plugin: str, item: object) -> None:
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

    return platform.plugins.collect_unique(
        hook,
        key=lambda item: item.name,
        what=what,
        error=sdk.PlatformError,
        check=check,
        platform=platform,
    )

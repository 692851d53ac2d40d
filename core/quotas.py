"""Per-plan quotas plugins declare through ``register_quotas``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

DEFAULT_PLAN = "free"


@dataclass(frozen=True)
class Quota:
    """``limits`` maps a plan name to its limit (``None``: unlimited). A plan not listed
    is unlimited."""

    name: str
    limits: Mapping[str, int | None] = field(default_factory=dict)
    description: str = ""

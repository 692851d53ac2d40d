"""The builder UI. (Stub: the UI helper replaces this module; keep BUILDER_ROUTES.)"""

from __future__ import annotations

from typing import Any

BUILDER_ROUTES: list[Any] = []

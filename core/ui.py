"""UI assets plugins contribute: static directories (templates are plain directory paths)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class StaticFiles:
    """Serve the files of ``directory`` under the URL ``path`` (e.g. ``/static/website``)."""

    path: str
    directory: str | Path

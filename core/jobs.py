"""Background jobs registered by plugins (run by arq workers)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Job:
    """A coroutine ``function(ctx, *args)`` the worker runs; ``cron`` (an arq ``cron``
    keyword dict such as ``{"minute": 0}``) also schedules it."""

    function: Callable[..., Any]
    name: str = ""
    cron: dict[str, Any] | None = None
    max_tries: int = 5

    @property
    def qualified_name(self) -> str:
        return self.name or getattr(self.function, "__name__", repr(self.function))


class DuplicateJobError(Exception):
    pass


class JobRegistry:
    def __init__(self) -> None:
        self.jobs: dict[str, tuple[str, Job]] = {}

    def add(self, plugin: str, job: Job) -> None:
        name = job.qualified_name
        if name in self.jobs:
            raise DuplicateJobError(
                f"job {name!r} is registered by both plugin {self.jobs[name][0]!r} "
                f"and plugin {plugin!r}"
            )
        self.jobs[name] = (plugin, job)

    def by_plugin(self, plugin: str) -> list[str]:
        return sorted(name for name, (owner, _) in self.jobs.items() if owner == plugin)

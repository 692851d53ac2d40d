"""Knowledge's background job and command: re-embed after a change of embedding model.

* ``knowledge.reembed`` (a :class:`~core.jobs.Job`, registered by core): enqueue it with
  ``platform.jobs.enqueue("knowledge.reembed", group_id=...)`` for one group, or without a
  group for all; progress goes to the log and to the job's status (``ctx["progress"]``).
  The same work is ``await platform.knowledge.reembed(...)`` directly.
* ``creator knowledge reembed [--group ID] [--batch-size N]``: the same in the foreground,
  printing progress.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any
from uuid import UUID

import click
import msgspec

from core.commands import with_platform
from core.jobs import Job
from core.knowledge.service import REEMBED_BATCH, ReembedProgress

if TYPE_CHECKING:
    from core.platform import Platform

log = logging.getLogger("creator.knowledge")


async def reembed_job(
    ctx: dict[str, Any], group_id: str | None = None, batch_size: int = REEMBED_BATCH
) -> dict[str, Any]:
    """Re-embed stale knowledge with the configured provider: in ``group_id`` (else the
    group the job was enqueued for, else every group), reporting progress as it goes."""
    platform = ctx["platform"]
    report_progress = ctx.get("progress")
    target = group_id or ctx.get("group_id")

    async def progress(state: ReembedProgress) -> None:
        log.info("re-embed with %s: %d/%d", state.model, state.done, state.total)
        if report_progress is not None:
            await report_progress(state.done, state.total)

    report = await platform.knowledge.reembed(
        group_id=UUID(str(target)) if target else None,
        batch_size=batch_size,
        progress=progress,
    )
    result: dict[str, Any] = msgspec.to_builtins(report)
    return result


#: How long one try of re-embedding may run: the local model embeds a few chunks a second
#: (``docs/knowledge.md``), so the default job timeout (5 minutes) would stop a large
#: knowledge base early; each batch is saved as it is done, so a retry continues where a
#: try stopped.
REEMBED_TIMEOUT_SECONDS = 6 * 3600

JOBS = [
    Job(reembed_job, name="knowledge.reembed", max_tries=3, timeout_seconds=REEMBED_TIMEOUT_SECONDS)
]


def add_commands(cli: click.Group) -> None:
    """``creator knowledge ...``."""

    @cli.group()
    def knowledge() -> None:
        """Knowledge: chunks, embeddings and search indexes."""

    @knowledge.command()
    @click.option("--group", "group_id", type=click.UUID, help="Only this group's rows.")
    @click.option("--batch-size", type=click.IntRange(1, 2048), default=REEMBED_BATCH)
    @with_platform
    async def reembed(platform: Platform, group_id: UUID | None, batch_size: int) -> None:
        """Embed again every row another model embedded, with the configured provider."""

        def show(state: ReembedProgress) -> None:
            percent = 100.0 * state.done / state.total if state.total else 100.0
            click.echo(
                f"re-embed with {state.model} ({state.dimension}d): "
                f"{state.done}/{state.total} rows ({percent:.0f}%)",
                err=True,
            )

        report = await platform.knowledge.reembed(
            group_id=group_id, batch_size=batch_size, progress=show
        )
        click.echo(
            f"re-embedded {report.reembedded} rows in {report.groups} group(s) "
            f"with {report.model} in {report.seconds:.1f} s"
        )

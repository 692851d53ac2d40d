"""Starting a clone's training: the service side of the ``clone.train`` job
(:mod:`plugins.clone.training` does the work). Asking again while a training of the clone
is queued or running answers that job instead of starting another."""

from __future__ import annotations

import uuid
from uuid import UUID

import sdk
from plugins.clone.services.base import CloneService
from plugins.clone.services.clones import Clones
from plugins.clone.training import TRAIN_JOB, source_links
from plugins.clone.types import TrainStarted


class Training(CloneService):
    """Queues ``clone.train`` for a clone; ``clones`` shows the clone it answers with."""

    def __init__(self, platform: sdk.Platform, clones: Clones) -> None:
        super().__init__(platform)
        self.clones = clones

    async def train(self, group: sdk.GroupContext, clone_id: UUID) -> TrainStarted:
        """Queue ``clone.train`` (status ``training``). While a training of the clone is
        queued or running, asking again answers that job."""
        group.require("clone.manage")
        clone = await self.get_clone_thing(group.stores, clone_id)
        running = await self._running_job(group, clone)
        if running is not None:
            return TrainStarted(job_id=running, clone=await self.clones.view(group.stores, clone))
        if not await source_links(group.stores, clone_id):
            raise sdk.ValidationFailed(
                "the clone has no sources yet: add text, a file or a page first", field="sources"
            )
        job_id = uuid.uuid4().hex
        try:
            clone = await group.stores.things.update(
                clone_id,
                status="training",
                properties={"training_job": job_id, "training_error": None},
                expected_version=clone.version,
            )
        except sdk.PreconditionFailed:
            # Changed meanwhile, maybe by another request starting a training.
            clone = await self.get_clone_thing(group.stores, clone_id)
            running = await self._running_job(group, clone)
            if running is not None:
                return TrainStarted(
                    job_id=running, clone=await self.clones.view(group.stores, clone)
                )
            raise
        try:
            await self.platform.jobs.enqueue(
                TRAIN_JOB, str(clone_id), group_id=group.group_id, job_id=job_id
            )
        except Exception as exc:
            await group.stores.things.update(
                clone_id,
                status="failed",
                properties={"training_error": f"training could not be queued: {exc}"[:1000]},
            )
            raise
        return TrainStarted(job_id=job_id, clone=await self.clones.view(group.stores, clone))

    async def _running_job(self, group: sdk.GroupContext, clone: sdk.Thing) -> str | None:
        job_id = clone.properties.get("training_job")
        if clone.status != "training" or not job_id:
            return None
        info = await self.platform.jobs.status(job_id, group_id=group.group_id)
        if info is not None and info.status in ("queued", "in_progress"):
            return str(job_id)
        return None

"""Jobs: where a background job enqueued for the group is (queued, running, done)."""

from __future__ import annotations

from litestar import get
from litestar.di import NamedDependency
from litestar.params import FromPath

from core.auth.permissions import Permissions, Resource
from core.errors import NotFound
from core.jobs import JobInfo
from core.ontology.scope import Scope
from core.platform import Platform


@get(
    "/api/v1/groups/{group_id:uuid}/jobs/{job_id:str}",
    summary="Get a job's status, progress and result",
    tags=["jobs"],
)
async def get_job(
    job_id: FromPath[str],
    group_scope: NamedDependency[Scope],
    platform: NamedDependency[Platform],
    permissions: NamedDependency[Permissions],
) -> JobInfo:
    """``status`` is ``queued``, ``in_progress``, ``complete``, ``failed`` or ``not_found``
    (the job's record has expired). A job of another group answers 404."""
    permissions.require(group_scope, "job.read", Resource(group_scope.group_id, type="job"))
    info = await platform.jobs.status(job_id, group_id=group_scope.group_id)
    if info is None:
        raise NotFound(f"job {job_id} not found")
    return info

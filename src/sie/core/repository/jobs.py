"""Jobs: a tenant's job, its public view, and the states of many (keyword-only, the session passed in)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from sie.core.errors import NotFound
from sie.core.models import Job
from sie.core.schemas import JobPublic


def get_tenant_job(*, session: Session, tenant: str, job_id: uuid.UUID) -> Job:
    """The tenant's job; `NotFound` otherwise: another tenant's job does not exist for it."""
    job = session.scalar(select(Job).where(Job.id == job_id, Job.tenant == tenant))
    if job is None:
        raise NotFound("job not found")
    return job


def job_public(job: Job) -> JobPublic:
    return JobPublic(
        id=str(job.id),
        status=job.status,  # type: ignore[arg-type]
        attempts=job.attempts,
        error=job.error,
        document_id=str(job.document_id),
        queue=job.queue,
        created_at=job.created_at,
        finished_at=job.finished_at,
    )


def job_states(
    *, session: Session, tenant: str, job_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, tuple[str, str | None]]:
    """Status and error of each of the tenant's jobs among `job_ids` (unknown ids are left out)."""
    rows = session.execute(
        select(Job.id, Job.status, Job.error).where(Job.tenant == tenant, Job.id.in_(job_ids))
    ).all()
    return {job_id: (status, error) for job_id, status, error in rows}

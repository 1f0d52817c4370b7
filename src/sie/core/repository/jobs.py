"""Jobs: a tenant's job, its public view, the states of many, its recent jobs and its backlog per
priority (keyword-only, the session passed in)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sie.core.errors import NotFound
from sie.core.models import Job
from sie.core.queues import PRIORITY_QUEUES
from sie.core.schemas import JobPublic, JobStatusName, PriorityBacklog


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


def recent_jobs(
    *,
    session: Session,
    tenant: str,
    status: JobStatusName | None = None,
    document_id: uuid.UUID | None = None,
    limit: int,
) -> list[Job]:
    """The tenant's newest jobs, of one status or one document when asked."""
    query = select(Job).where(Job.tenant == tenant)
    if status is not None:
        query = query.where(Job.status == status)
    if document_id is not None:
        query = query.where(Job.document_id == document_id)
    return list(session.scalars(query.order_by(Job.created_at.desc(), Job.id).limit(limit)))


def backlog_by_priority(*, session: Session, tenant: str) -> list[PriorityBacklog]:
    """The tenant's unfinished jobs per priority, highest first (the status index narrows the scan)."""
    rows = session.execute(
        select(Job.priority, Job.status, func.count())
        .where(Job.status.in_(("pending", "running")), Job.tenant == tenant)
        .group_by(Job.priority, Job.status)
    ).all()
    counts = {(priority, status): count for priority, status, count in rows}
    return [
        PriorityBacklog(
            priority=priority,  # type: ignore[arg-type]
            queue=queue,
            pending=counts.get((priority, "pending"), 0),
            running=counts.get((priority, "running"), 0),
        )
        for priority, queue in PRIORITY_QUEUES.items()
    ]

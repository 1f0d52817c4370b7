"""Job status: pending → running → done | failed | dead."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, HTTPException, status
from sqlalchemy import select

from sie.core.models import Job
from sie.core.schemas import JobPublic
from sie_api.deps import ReadPrincipal, SessionDep
from sie_api.responses import NOT_FOUND

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])


@router.get("/{job_id}", response_model=JobPublic, responses=NOT_FOUND)
def read_job(job_id: uuid.UUID, principal: ReadPrincipal, session: SessionDep) -> JobPublic:
    job = session.scalar(select(Job).where(Job.id == job_id, Job.tenant == principal.tenant))
    if job is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "job not found")
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

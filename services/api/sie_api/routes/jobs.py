"""Job status: pending → running → done | failed | dead; the tenant's recent jobs, or one document's."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from sie.core.repository.jobs import get_tenant_job, job_public, recent_jobs
from sie.core.schemas import JobPublic, JobsPublic, JobStatusName
from sie_api.deps import ReadPrincipal, ReadSessionDep, SessionDep
from sie_api.responses import NOT_FOUND

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])


# On the primary: a client reads the job it was just given; a replica may not have it yet.
@router.get("/{job_id}", response_model=JobPublic, responses=NOT_FOUND)
def read_job(job_id: uuid.UUID, principal: ReadPrincipal, session: SessionDep) -> JobPublic:
    return job_public(get_tenant_job(session=session, tenant=principal.tenant, job_id=job_id))


@router.get("", response_model=JobsPublic)
def list_jobs(
    principal: ReadPrincipal,
    session: ReadSessionDep,
    status: JobStatusName | None = None,
    document_id: uuid.UUID | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> JobsPublic:
    """The tenant's newest jobs: all, those of one status, or one document's history."""
    jobs = recent_jobs(
        session=session, tenant=principal.tenant, status=status, document_id=document_id, limit=limit
    )
    return JobsPublic(jobs=[job_public(job) for job in jobs], count=len(jobs))

"""Job status: pending → running → done | failed | dead."""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from sie.core.repository.jobs import get_tenant_job, job_public
from sie.core.schemas import JobPublic
from sie_api.deps import ReadPrincipal, SessionDep
from sie_api.responses import NOT_FOUND

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])


@router.get("/{job_id}", response_model=JobPublic, responses=NOT_FOUND)
def read_job(job_id: uuid.UUID, principal: ReadPrincipal, session: SessionDep) -> JobPublic:
    return job_public(get_tenant_job(session=session, tenant=principal.tenant, job_id=job_id))

"""Jobs run in this process, the way the workers run them."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from sie.core.db import session_scope
from sie.core.engine.jobs.ocr_reader import read_text_with_ocr
from sie.core.engine.jobs.readers import read_text
from sie.core.engine.jobs.run import run_jobs
from sie.core.models import Job
from sie.core.queues import QUEUE_OCR, JobQueue


def run_job(job_id: uuid.UUID, queue: JobQueue) -> Job:
    """Run a job on the worker its queue names: the general worker, then the OCR worker if it
    routed the job to `ocr` (or it was an OCR job from the start). Returns the job afterwards."""
    if job_after(job_id).queue != QUEUE_OCR:
        run_jobs([job_id], queue=queue, reader=read_text)
    if job_after(job_id).queue == QUEUE_OCR:
        run_jobs([job_id], queue=queue, reader=read_text_with_ocr)
    return job_after(job_id)


def job_after(job_id: uuid.UUID) -> Job:
    with session_scope() as session:
        job = session.scalar(select(Job).where(Job.id == job_id))
        assert job is not None
        return job

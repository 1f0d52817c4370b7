"""Dead jobs for replay tests and `bench/operator.py`: rows as the job runner leaves them, and their state."""

from __future__ import annotations

import hashlib
import uuid

from sqlalchemy import func, select

from sie.core.db import session_scope
from sie.core.engine.deadletter import publish_dead_letters, record_dead_letter
from sie.core.models import DeadLetter, Document, Job
from sie.core.queues import QUEUE_NORMAL


def make_dead_jobs(tenant: str, count: int, *, error: str = "fetch timed out after 15s") -> list[uuid.UUID]:
    """`count` jobs that exhausted their retries, recorded in PostgreSQL and mirrored in Redis."""
    with session_scope() as session:
        texts = [f"dead document {uuid.uuid4()}" for _ in range(count)]
        documents = [
            Document(
                id=uuid.uuid4(),
                tenant=tenant,
                source="replay-test",
                text=text,
                content_hash=hashlib.sha256(text.encode()).hexdigest(),
                status="failed",
            )
            for text in texts
        ]
        session.add_all(documents)
        session.flush()  # rows in foreign-key order: documents, jobs, dead letters
        jobs = [
            Job(id=uuid.uuid4(), tenant=tenant, document_id=document.id, queue=QUEUE_NORMAL, attempts=6)
            for document in documents
        ]
        session.add_all(jobs)
        session.flush()
        letters = [
            record_dead_letter(session, job, error=error, error_kind="fetch_transient", source="replay-test")
            for job in jobs
        ]
        job_ids = [job.id for job in jobs]
    publish_dead_letters(letters)
    return job_ids


def job_statuses(job_ids: list[uuid.UUID]) -> dict[str, int]:
    with session_scope() as session:
        rows = session.execute(
            select(Job.status, func.count()).where(Job.id.in_(job_ids)).group_by(Job.status)
        ).all()
        return {status: count for status, count in rows}


def pending_letters(tenant: str) -> int:
    with session_scope() as session:
        return (
            session.scalar(
                select(func.count())
                .select_from(DeadLetter)
                .where(
                    DeadLetter.tenant == tenant,
                    DeadLetter.replayed_at.is_(None),
                    DeadLetter.discarded_at.is_(None),
                )
            )
            or 0
        )

"""What an operator reads about the work in flight: lists of jobs, and the backlog per priority."""

from __future__ import annotations

from pydantic import BaseModel

from sie.core.schemas.base import PriorityName
from sie.core.schemas.documents import JobPublic


class JobsPublic(BaseModel):
    """Jobs newest first; `count`: how many are listed."""

    jobs: list[JobPublic]
    count: int


class PriorityBacklog(BaseModel):
    """The tenant's jobs of one priority not finished yet: waiting in the queue, or running."""

    priority: PriorityName
    queue: str
    pending: int
    running: int


class QueuesPublic(BaseModel):
    """One entry per priority, highest first; OCR jobs count under the priority they were given."""

    backlog: list[PriorityBacklog]

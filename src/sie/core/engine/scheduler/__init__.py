"""The source scheduler: claims due sources under row locks, polls each politely, ingests new items.

- `claim`: leases (`SELECT … FOR UPDATE SKIP LOCKED` + a conditional UPDATE) and the snapshot a
  poll works from, so replicas never poll one source at once;
- `items`: which listed items are new, and fetching and ingesting them through the one ingest path;
- `outcome`: writing a poll's result onto its source (counters, backoff, validators, next run);
- `runner`: `SourceScheduler`, one poll end to end and the loop, and this process's scheduler.
"""

from sie.core.engine.scheduler.outcome import PollResult, backoff_seconds
from sie.core.engine.scheduler.runner import SourceScheduler, poll_source, run_due_sources, run_scheduler

__all__ = [
    "PollResult",
    "SourceScheduler",
    "backoff_seconds",
    "poll_source",
    "run_due_sources",
    "run_scheduler",
]

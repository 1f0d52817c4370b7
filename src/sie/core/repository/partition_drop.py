"""Removing a whole expired month: its partitions detached, then dropped (docs/retention.md).

`detach_month` runs in one transaction: the month's two partitions are locked against writes, the rows that
belong to its documents elsewhere are deleted (jobs with their dead letters, uploads, content rows;
source items forget them), the rollup rows of its days are deleted (a day lies in one month, and
every document of the month is in its partition, so those rows count nothing else), and both
partitions are detached. From its commit the month is gone for every reader and the rollups equal
a rebuild. The detached tables are then read once more (to take the documents out of an external
search index) and dropped by `drop_detached`; a run that stops in between finds them again
(`partitions.detached_months`).
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import delete, text
from sqlalchemy.orm import Session

from sie.core.models import EntityDayRollup, EntityRollup, SentimentRollup
from sie.core.repository.partitions import PARTITIONED, next_month, partition_name

# Detaching needs an exclusive lock on the parent tables: wait this long for it, else fail the
# month (the next hourly run tries again) rather than queue every insert behind the wait.
LOCK_TIMEOUT = "5s"
# The rows outside the partitions that belong to a document, by the column naming it.
DEPENDENTS = (
    "DELETE FROM jobs WHERE document_id IN (SELECT id FROM {documents})",  # dead letters cascade
    "DELETE FROM document_blobs WHERE document_id IN (SELECT id FROM {documents})",
    "DELETE FROM document_contents WHERE document_id IN (SELECT id FROM {documents})",
    "UPDATE source_items SET document_id = NULL WHERE document_id IN (SELECT id FROM {documents})",
)


def detach_month(*, session: Session, month: date) -> dict[str, int]:
    """Take a month out of the database (see the module's docstring) in the caller's transaction;
    returns how many documents each tenant had in it."""
    documents = partition_name("documents", month)
    session.execute(text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"))
    for table in PARTITIONED:
        # SHARE: readers go on (a lookup by id opens every partition); writers of the month (a
        # reprocessed document) finish first, or wait and then find it gone.
        session.execute(text(f"LOCK TABLE {partition_name(table, month)} IN SHARE MODE"))
    counts = dict(
        session.execute(text(f"SELECT tenant, count(*) FROM {documents} GROUP BY tenant")).tuples().all()  # noqa: S608
    )
    for statement in DEPENDENTS:
        session.execute(text(statement.format(documents=documents)))
    for model in (SentimentRollup, EntityRollup, EntityDayRollup):
        session.execute(delete(model).where(model.day >= month, model.day < next_month(month)))
    for table in PARTITIONED:
        session.execute(text(f"ALTER TABLE {table} DETACH PARTITION {partition_name(table, month)}"))
    return counts


def drop_detached(*, session: Session, month: date) -> None:
    for table in PARTITIONED:
        session.execute(text(f"DROP TABLE IF EXISTS {partition_name(table, month)}"))

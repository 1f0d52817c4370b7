"""Cold storage: expired documents as gzip JSON Lines under ARCHIVE_URL, and restoring them.

Layout (docs/retention.md): `<ARCHIVE_URL>/<tenant>/<YYYY-MM>/<run>-<part>.jsonl.gz`, one directory
per tenant and month of `created_at`, one part file per month for each chunk a retention run
archives. A new part never rewrites an earlier one: object stores cannot append, and rewriting a
month's file on every hourly run would copy the whole month each time. Restore reads every part.
The URL is a directory or anything fsspec opens (`s3://bucket/prefix` with s3fs installed).
"""

from __future__ import annotations

import gzip
import json
import secrets
import uuid
from collections.abc import Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, Any
from urllib.parse import quote

from sie.core.db import session_scope
from sie.core.engine.indexing import index_and_mark, search_document
from sie.core.logging import get_logger
from sie.core.models import DocumentStatus
from sie.core.repository.archive import archive_records, restore_records
from sie.core.repository.rollups import add_documents

log = get_logger(__name__)
SUFFIX = ".jsonl.gz"
# Documents read from the database, or restored, per transaction.
BATCH = 1_000


class ArchiveError(Exception):
    """Cold storage could not be written or read; when writing, nothing was deleted."""


def _filesystem(url: str) -> tuple[Any, str]:
    import fsspec  # only archiving and restoring need it

    try:
        return fsspec.core.url_to_fs(url)
    except (ImportError, ValueError) as exc:
        raise ArchiveError(f"cannot open archive location {url!r}: {exc}") from exc


def tenant_dir(tenant: str) -> str:
    """A tenant's directory name: any tenant name becomes one path segment."""
    return quote(tenant, safe="")


def write_archive(*, url: str, tenant: str, ids: Sequence[uuid.UUID]) -> list[str]:
    """Write the documents `ids` (oldest first) to one new part per month; returns the paths written.

    Either every part is complete or `ArchiveError` is raised and the parts begun are removed.
    """
    fs, root = _filesystem(url)
    run = f"{datetime.now(UTC):%Y%m%dT%H%M%S}Z-{secrets.token_hex(4)}"
    paths: dict[str, str] = {}
    try:
        with ExitStack() as files:
            streams: dict[str, IO[bytes]] = {}
            for start in range(0, len(ids), BATCH):
                with session_scope() as session:
                    records = archive_records(session=session, ids=ids[start : start + BATCH])
                for record in records:
                    month = record["created_at"][:7]
                    if month not in streams:
                        paths[month] = f"{root.rstrip('/')}/{tenant_dir(tenant)}/{month}/{run}{SUFFIX}"
                        fs.makedirs(paths[month].rsplit("/", 1)[0], exist_ok=True)
                        raw = files.enter_context(fs.open(paths[month], "wb"))
                        streams[month] = files.enter_context(gzip.GzipFile(fileobj=raw, mode="wb"))
                    streams[month].write(json.dumps(record, ensure_ascii=False).encode() + b"\n")
    except Exception as exc:
        for path in paths.values():
            _remove_quietly(fs, path)
        raise ArchiveError(f"archiving {tenant}'s documents failed: {type(exc).__name__}: {exc}") from exc
    return [fs.unstrip_protocol(path) for path in paths.values()]


def _remove_quietly(fs: Any, path: str) -> None:
    try:
        if fs.exists(path):
            fs.rm(path)
    except Exception:
        log.warning("archive_part_left", path=path)


def archive_parts(url: str, *, tenant: str | None = None, month: str | None = None) -> list[str]:
    """The part files under `url` (the archive, a tenant's or a month's directory, or one part),
    of `tenant` and `month` when given: a part's directory is its month, the one above its tenant."""
    fs, root = _filesystem(url)
    parts = (
        [root] if root.endswith(SUFFIX) and fs.exists(root) else fs.glob(f"{root.rstrip('/')}/**/*{SUFFIX}")
    )
    wanted = []
    for part in sorted(parts):
        *_, tenant_part, month_part, _name = ["", "", *part.split("/")]
        if (tenant is None or tenant_part == tenant_dir(tenant)) and (month is None or month_part == month):
            wanted.append(part)
    return wanted


def read_records(url: str, path: str) -> Iterator[dict[str, Any]]:
    fs, _ = _filesystem(url)
    try:
        with fs.open(path, "rb") as raw, gzip.GzipFile(fileobj=raw, mode="rb") as lines:
            for line in lines:
                if line.strip():
                    yield json.loads(line)
    except (OSError, EOFError, ValueError) as exc:
        raise ArchiveError(f"cannot read archive part {path}: {type(exc).__name__}: {exc}") from exc


@dataclass
class RestoreResult:
    parts: int = 0
    read: int = 0
    restored: int = 0
    indexed: int = 0
    # Restored but not in the search index yet (search was down): the re-index sweep adds them.
    index_deferred: int = 0


def restore(url: str, *, tenant: str | None = None, month: str | None = None) -> RestoreResult:
    """Bring archived documents back: rows, entity rows, rollups, and the search index.

    Documents present already (same id, or the same content in the tenant) are skipped, so a
    restore may be run again, and parts that overlap are harmless.
    """
    result = RestoreResult()
    for path in archive_parts(url, tenant=tenant, month=month):
        result.parts += 1
        batch: list[dict[str, Any]] = []
        for record in read_records(url, path):
            if tenant is not None and record["tenant"] != tenant:
                continue
            batch.append(record)
            if len(batch) >= BATCH:
                _restore_batch(batch, result)
                batch = []
        _restore_batch(batch, result)
        log.info("archive_part_restored", part=path, restored=result.restored)
    return result


def _restore_batch(records: list[dict[str, Any]], result: RestoreResult) -> None:
    if not records:
        return
    result.read += len(records)
    with session_scope() as session:
        documents = restore_records(session=session, records=records)
        add_documents(session=session, documents=documents)
        searchable = [search_document(doc) for doc in documents if doc.status == DocumentStatus.done]
    result.restored += len(documents)
    if index_and_mark(searchable):
        result.indexed += len(searchable)
    else:
        result.index_deferred += len(searchable)

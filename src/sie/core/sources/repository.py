"""Sources in the database: create, idempotent upsert by name, update, delete, sync now, public view.

Functions take the session explicitly and leave committing to the caller. A change to a source's
spec bumps its `generation`, drops its stored validators and makes it due at once, so the next poll
reads the new spec's listings in full; setting only `suspend` keeps the schedule as it was.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from sie.core.durations import format_duration, parse_duration
from sie.core.errors import SourceExists
from sie.core.models import Source, utcnow
from sie.core.schemas import SourcePublic, SourceStatus, SourceUpdate, SourceUpsert
from sie.core.sources.registry import check_source_config

# The fields of the spec; `SourceUpsert` carries them all, `SourceUpdate` any of them.
SPEC_FIELDS = frozenset(SourceUpdate.model_fields)


def get_source(*, session: Session, tenant: str, name: str, for_update: bool = False) -> Source | None:
    query = select(Source).where(Source.tenant == tenant, Source.name == name)
    return session.scalar(query.with_for_update() if for_update else query)


def list_sources(*, session: Session, tenant: str, limit: int, offset: int) -> tuple[list[Source], int]:
    total = session.scalar(select(func.count()).select_from(Source).where(Source.tenant == tenant)) or 0
    rows = session.scalars(
        select(Source).where(Source.tenant == tenant).order_by(Source.name).limit(limit).offset(offset)
    ).all()
    return list(rows), total


def create_source(*, session: Session, tenant: str, name: str, source_in: SourceUpsert) -> Source:
    """A new source, due at once; raises `SourceExists` if the tenant already has one by that name."""
    columns = _columns(source_in.model_dump(include=SPEC_FIELDS))
    check_source_config(columns["type"], url=columns["url"], urls=columns["urls"])
    source = Source(id=uuid.uuid4(), tenant=tenant, name=name, next_run_at=utcnow(), **columns)
    try:
        with session.begin_nested():
            session.add(source)
    except IntegrityError:
        raise SourceExists(name) from None
    return source


def upsert_source(
    *, session: Session, tenant: str, name: str, source_in: SourceUpsert
) -> tuple[Source, bool]:
    """Make the source `name` match `source_in` exactly; returns it and whether it was created.

    Sending the same spec again changes nothing (no new generation, no extra poll), and two clients
    racing to create the same name end with one source.
    """
    existing = get_source(session=session, tenant=tenant, name=name, for_update=True)
    if existing is None:
        try:
            return create_source(session=session, tenant=tenant, name=name, source_in=source_in), True
        except SourceExists:
            existing = get_source(session=session, tenant=tenant, name=name, for_update=True)
            assert existing is not None
    _apply(existing, _columns(source_in.model_dump(include=SPEC_FIELDS)))
    return existing, False


def update_source(*, session: Session, source: Source, changes: SourceUpdate) -> Source:
    _apply(source, _columns(changes.model_dump(exclude_unset=True)))
    return source


def delete_source(*, session: Session, source: Source) -> None:
    """Remove the source and its item records; the documents it ingested stay."""
    session.delete(source)


def request_sync(*, session: Session, source: Source) -> None:
    """Make the source due now; a running scheduler picks it up within one tick."""
    source.next_run_at = utcnow()


def source_public(source: Source) -> SourcePublic:
    return SourcePublic(
        id=str(source.id),
        name=source.name,
        tenant=source.tenant,
        type=source.type,
        url=source.url,
        urls=source.urls,
        interval=format_duration(source.interval_seconds),
        interval_seconds=source.interval_seconds,
        priority=source.priority,  # type: ignore[arg-type]
        suspend=source.suspend,
        ocr_strategy=source.ocr_strategy,  # type: ignore[arg-type]
        auth_header_name=source.auth_header_name,
        auth_header_set=source.auth_header_value is not None,
        include_patterns=source.include_patterns,
        exclude_patterns=source.exclude_patterns,
        generation=source.generation,
        created_at=source.created_at,
        updated_at=source.updated_at,
        status=SourceStatus(
            next_run_at=source.next_run_at,
            last_attempt_at=source.last_attempt_at,
            last_success_at=source.last_success_at,
            items_seen=source.items_seen,
            items_ingested=source.items_ingested,
            items_skipped=source.items_skipped,
            items_failed=source.items_failed,
            consecutive_failures=source.consecutive_failures,
            last_error=source.last_error,
            last_poll=source.last_poll,
            polling=source.lease_until is not None and source.lease_until > utcnow(),
        ),
    )


def _columns(fields: Mapping[str, Any]) -> dict[str, Any]:
    """Schema values → column values: the interval in seconds, URLs as text, the secret unwrapped."""
    columns: dict[str, Any] = {}
    for key, value in fields.items():
        if key == "interval":
            columns["interval_seconds"] = parse_duration(value)
        elif key == "auth_header":
            columns["auth_header_value"] = value.get_secret_value() if value is not None else None
        elif key == "url":
            columns["url"] = str(value) if value is not None else None
        elif key == "urls":
            columns["urls"] = [str(url) for url in value]
        else:
            columns[key] = value
    return columns


def _apply(source: Source, columns: Mapping[str, Any]) -> None:
    changed = {key for key, value in columns.items() if getattr(source, key) != value}
    if not changed:
        return
    merged = {key: columns.get(key, getattr(source, key)) for key in ("type", "url", "urls")}
    check_source_config(merged["type"], url=merged["url"], urls=merged["urls"])
    for key in changed:
        setattr(source, key, columns[key])
    source.generation += 1
    if changed - {"suspend"}:
        source.validators = {}
        source.next_run_at = utcnow()

"""Idempotency-Key records: the same key and body give the first answer again; another body is a 409."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from sie.core.errors import IdempotencyKeyReused
from sie.core.models import IdempotencyRecord

Created = TypeVar("Created")


def request_fingerprint(route: str, payload: Any) -> str:
    """A hash of what a request asks for: two requests with one key must ask for the same thing."""
    return hashlib.sha256(json.dumps([route, payload], sort_keys=True, default=str).encode()).hexdigest()


def create_once(
    *,
    session: Session,
    tenant: str,
    key: str | None,
    fingerprint: str,
    create: Callable[[], tuple[list[Created], dict[str, Any]]],
) -> tuple[list[Created], dict[str, Any]]:
    """Run `create` and commit, once per Idempotency-Key: a replay with the same body creates nothing
    and returns the first answer; the key with another body raises `IdempotencyKeyReused`."""
    if key is None:
        created, response = create()
        session.commit()
        return created, response
    existing = session.get(IdempotencyRecord, (tenant, key))
    if existing is None:
        created, response = create()
        session.add(IdempotencyRecord(tenant=tenant, key=key, request_hash=fingerprint, response=response))
        try:
            session.commit()
            return created, response
        except IntegrityError:
            # A concurrent request with the same key won; answer as it did.
            session.rollback()
            existing = session.get(IdempotencyRecord, (tenant, key))
            if existing is None:
                raise
    if existing.request_hash != fingerprint:
        raise IdempotencyKeyReused()
    return [], existing.response

"""What the API keeps for itself: API keys and Idempotency-Key records."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from sie.core.models.base import Base, utcnow


class ApiKey(Base):
    __tablename__ = "api_keys"

    # The public half of the key (`sie_<id>_<secret>`); the secret is stored only as an HMAC.
    id: Mapped[str] = mapped_column(String(16), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(100), index=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    scopes: Mapped[list[Any]] = mapped_column(default=list)
    key_hash: Mapped[str] = mapped_column(String(64))
    # Per-priority overrides of the handbook's limits: {"normal": {"requests": 600, "period": 60}}.
    rate_limits: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
    # Written at most once a minute per key and API process (`sie.core.security`): to the minute.
    last_used_at: Mapped[datetime | None] = mapped_column(default=None)


class IdempotencyRecord(Base):
    """`Idempotency-Key` replays: same key and body give the same answer; another body is a 409."""

    __tablename__ = "idempotency_keys"

    tenant: Mapped[str] = mapped_column(String(100), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    response: Mapped[dict[str, Any]] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

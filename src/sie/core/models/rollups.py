"""Daily rollups: what the insights endpoints read instead of every document.

One row per (tenant, UTC day of `documents.created_at`, source) for sentiment; per (tenant, day,
source, entity text, label) for entities, and again per (tenant, day, text, label) with every
source together, so that a call without a source filter adds up no sources. Only documents with
status `done` count. The store, reprocess and delete paths keep them in step in their own
transaction (`sie.core.repository.rollups`); `sie insights rebuild` recomputes them from the
documents. Keys start with the tenant and the day: the endpoints read a tenant's date window. The
ranking indexes hand over each day's leading entities without sorting the day (scanned backwards:
most documents, then most mentions, first).
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import Date, Float, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from sie.core.models.base import Base


class SentimentRollup(Base):
    """Documents per sentiment label; `scored` and `compound_sum` give the average compound."""

    __tablename__ = "sentiment_rollups"

    tenant: Mapped[str] = mapped_column(String(100), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    source: Mapped[str] = mapped_column(String(200), primary_key=True)
    positive: Mapped[int] = mapped_column(Integer, default=0)
    neutral: Mapped[int] = mapped_column(Integer, default=0)
    negative: Mapped[int] = mapped_column(Integer, default=0)
    # No sentiment model read them (their language has none): apart from neutral.
    unscored: Mapped[int] = mapped_column(Integer, default=0)
    scored: Mapped[int] = mapped_column(Integer, default=0)
    compound_sum: Mapped[float] = mapped_column(Float, default=0.0)


class EntityRollup(Base):
    """Per entity (text, label): the documents that name it, and its mentions in them."""

    __tablename__ = "entity_rollups"
    __table_args__ = (Index("ix_entity_rollups_ranking", "tenant", "source", "day", "documents", "mentions"),)

    tenant: Mapped[str] = mapped_column(String(100), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    source: Mapped[str] = mapped_column(String(200), primary_key=True)
    text: Mapped[str] = mapped_column(String(300), primary_key=True)
    label: Mapped[str] = mapped_column(String(30), primary_key=True)
    documents: Mapped[int] = mapped_column(Integer, default=0)
    mentions: Mapped[int] = mapped_column(Integer, default=0)


class EntityDayRollup(Base):
    """`EntityRollup` with the day's sources added up: what a call without a source filter reads."""

    __tablename__ = "entity_day_rollups"
    __table_args__ = (Index("ix_entity_day_rollups_ranking", "tenant", "day", "documents", "mentions"),)

    tenant: Mapped[str] = mapped_column(String(100), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    text: Mapped[str] = mapped_column(String(300), primary_key=True)
    label: Mapped[str] = mapped_column(String(30), primary_key=True)
    documents: Mapped[int] = mapped_column(Integer, default=0)
    mentions: Mapped[int] = mapped_column(Integer, default=0)

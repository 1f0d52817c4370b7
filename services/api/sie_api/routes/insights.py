"""Insights per tenant: sentiment distribution and top entities, optionally per source and window."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from sie.core.repository.insights import InsightWindow, entities_by_day, sentiment_by_day
from sie.core.schemas import DateTimeInput, EntityInsights, SentimentInsights
from sie_api.deps import ReadPrincipal, ReadSessionDep

router = APIRouter(prefix="/v1/insights", tags=["insights"])

SourceFilter = Annotated[str | None, Query(max_length=200)]
FromFilter = Annotated[DateTimeInput | None, Query(alias="from")]
ToFilter = Annotated[DateTimeInput | None, Query(alias="to")]


@router.get("/sentiment", response_model=SentimentInsights)
def sentiment_insights(
    principal: ReadPrincipal,
    session: ReadSessionDep,
    source: SourceFilter = None,
    date_from: FromFilter = None,
    date_to: ToFilter = None,
) -> dict[str, Any]:
    return sentiment_by_day(
        session=session, window=InsightWindow(principal.tenant, source, date_from, date_to)
    )


@router.get("/entities", response_model=EntityInsights)
def entity_insights(
    principal: ReadPrincipal,
    session: ReadSessionDep,
    source: SourceFilter = None,
    date_from: FromFilter = None,
    date_to: ToFilter = None,
    top: Annotated[int, Query(ge=1, le=100)] = 20,
) -> dict[str, Any]:
    return entities_by_day(
        session=session, window=InsightWindow(principal.tenant, source, date_from, date_to), top=top
    )

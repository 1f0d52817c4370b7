"""Search the tenant's documents, with filters and a highlighted snippet per hit."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool

from sie.core.schemas import SearchHitPublic, SearchResponse
from sie.core.search import SearchHit, SearchQuery, get_search_backend
from sie_api.deps import ReadPrincipal

router = APIRouter(prefix="/v1/search", tags=["search"])


@router.get("", response_model=SearchResponse)
async def search_documents(
    principal: ReadPrincipal,
    q: Annotated[str, Query(max_length=500)] = "",
    source: Annotated[str | None, Query(max_length=200)] = None,
    entity: Annotated[str | None, Query(max_length=300)] = None,
    sentiment: Literal["positive", "neutral", "negative"] | None = None,
    # An ISO 639 code as documents carry it (`en`, `fr`, `nb`...).
    language: Annotated[str | None, Query(pattern=r"^[a-z]{2,3}$")] = None,
    date_from: Annotated[datetime | None, Query(alias="from")] = None,
    date_to: Annotated[datetime | None, Query(alias="to")] = None,
    published_from: datetime | None = None,
    published_to: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0, le=10_000)] = 0,
) -> SearchResponse:
    query = SearchQuery(
        tenant=principal.tenant,
        q=q,
        source=source,
        entity=entity,
        sentiment=sentiment,
        language=language,
        date_from=date_from,
        date_to=date_to,
        published_from=published_from,
        published_to=published_to,
        limit=limit,
        offset=offset,
    )
    results = await run_in_threadpool(get_search_backend().search, query)
    return SearchResponse(
        hits=[_hit_public(hit) for hit in results.hits], total=results.total, limit=limit, offset=offset
    )


def _hit_public(hit: SearchHit) -> SearchHitPublic:
    return SearchHitPublic(
        id=hit.id,
        title=hit.title,
        snippet=hit.snippet,
        source=hit.source,
        url=hit.url,
        sentiment=hit.sentiment_label,
        created_at=hit.created_at,
        published_at=hit.published_at,
        score=hit.score,
    )

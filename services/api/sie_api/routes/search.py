"""Search the tenant's documents, with filters and a highlighted snippet per hit."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool

from sie.core.schemas import DateTimeInput, SearchHitPublic, SearchResponse
from sie.core.search import SearchHit, SearchQuery, get_search_backend
from sie.core.search.base import MAX_RESULT_WINDOW
from sie_api.deps import ReadPrincipal

router = APIRouter(prefix="/v1/search", tags=["search"])
MAX_PAGE = 100


@router.get("", response_model=SearchResponse)
async def search_documents(
    principal: ReadPrincipal,
    q: Annotated[str, Query(max_length=500)] = "",
    source: Annotated[str | None, Query(max_length=200)] = None,
    entity: Annotated[str | None, Query(max_length=300)] = None,
    sentiment: Literal["positive", "neutral", "negative"] | None = None,
    # An ISO 639 code as documents carry it (`en`, `fr`, `nb`...).
    language: Annotated[str | None, Query(pattern=r"^[a-z]{2,3}$")] = None,
    date_from: Annotated[DateTimeInput | None, Query(alias="from")] = None,
    date_to: Annotated[DateTimeInput | None, Query(alias="to")] = None,
    published_from: DateTimeInput | None = None,
    published_to: DateTimeInput | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 20,
    # Bounded so that no page reaches past the result window, whatever its limit: a rule on one
    # parameter, which the OpenAPI document can state (one on `offset + limit` it cannot).
    offset: Annotated[int, Query(ge=0, le=MAX_RESULT_WINDOW - MAX_PAGE)] = 0,
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
        hits=[_hit_public(hit) for hit in results.hits],
        total=results.total,
        total_relation=results.total_relation,
        limit=limit,
        offset=offset,
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

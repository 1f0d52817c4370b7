"""Sources (admin): feeds, URL lists and sitemaps the engine polls for the key's tenant.

`PUT /v1/sources/{name}` is the idempotent upsert the operator uses for `IngestionSource` resources.
Another tenant's source does not exist for the caller (404). A key with the `system` scope (the
operator's) may act for any tenant: `tenant` in the body, or `?tenant=` on the other routes. The
auth header is write-only: it is never returned, logged, or echoed back in a validation error.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response, status
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from sqlalchemy.orm import Session

from sie.core.engine.scheduler import poll_source
from sie.core.errors import Conflict, NotFound, SourceConfigError
from sie.core.models import Source
from sie.core.schemas import (
    SOURCE_NAME_PATTERN,
    SourceCreate,
    SourcePublic,
    SourcesPublic,
    SourceUpdate,
    SourceUpsert,
)
from sie.core.security import Principal
from sie.core.sources.repository import (
    create_source,
    delete_source,
    get_source,
    list_sources,
    request_sync,
    source_public,
    update_source,
    upsert_source,
)
from sie_api.deps import AdminPrincipal, ReadSessionDep, SessionDep, tenant_for
from sie_api.responses import CONFLICT, NOT_FOUND, SOURCE_LINKS, TOO_LARGE, links


class NoEchoRoute(APIRoute):
    """Validation errors without the submitted values: a source body may carry `auth_header`."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def without_echo(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError as exc:
                raise RequestValidationError(
                    [{key: value for key, value in error.items() if key != "input"} for error in exc.errors()]
                ) from None

        return without_echo


router = APIRouter(
    prefix="/v1/sources",
    tags=["sources"],
    route_class=NoEchoRoute,
    responses={**NOT_FOUND, **CONFLICT, **TOO_LARGE},
)

SourceNameParam = Annotated[
    str, Path(pattern=SOURCE_NAME_PATTERN, description="The source's name in the tenant")
]


TenantQuery = Annotated[
    str | None, Query(max_length=100, description="Act for this tenant (keys with the system scope only)")
]


def _tenant_source(
    session: Session, principal: Principal, tenant: str | None, name: str, *, for_update: bool = False
) -> Source:
    source = get_source(
        session=session, tenant=tenant_for(principal, tenant), name=name, for_update=for_update
    )
    if source is None:
        raise NotFound("source not found")
    return source


@router.post(
    "", status_code=status.HTTP_201_CREATED, response_model=SourcePublic, responses=links(201, **SOURCE_LINKS)
)
def create(body: SourceCreate, principal: AdminPrincipal, session: SessionDep) -> SourcePublic:
    tenant = tenant_for(principal, body.tenant)
    source = create_source(session=session, tenant=tenant, name=body.name, source_in=body)
    session.commit()
    return source_public(source)


@router.put(
    "/{name}",
    response_model=SourcePublic,
    responses={
        **links(200, **SOURCE_LINKS),
        201: {"model": SourcePublic, "description": "Created", "links": SOURCE_LINKS},
    },
)
def upsert(
    name: SourceNameParam,
    body: SourceUpsert,
    principal: AdminPrincipal,
    session: SessionDep,
    response: Response,
) -> SourcePublic:
    tenant = tenant_for(principal, body.tenant)
    source, created = upsert_source(session=session, tenant=tenant, name=name, source_in=body)
    session.commit()
    response.status_code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
    return source_public(source)


@router.get("", response_model=SourcesPublic)
def list_all(
    principal: AdminPrincipal,
    session: ReadSessionDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    # Bounded: an offset past PostgreSQL's bigint was a database error, not a 422.
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    tenant: TenantQuery = None,
) -> SourcesPublic:
    sources, total = list_sources(
        session=session, tenant=tenant_for(principal, tenant), limit=limit, offset=offset
    )
    return SourcesPublic(data=[source_public(source) for source in sources], count=total)


@router.get("/{name}", response_model=SourcePublic)
def read(
    name: SourceNameParam, principal: AdminPrincipal, session: SessionDep, tenant: TenantQuery = None
) -> SourcePublic:
    return source_public(_tenant_source(session, principal, tenant, name))


@router.patch("/{name}", response_model=SourcePublic)
def patch(
    name: SourceNameParam,
    body: SourceUpdate,
    principal: AdminPrincipal,
    session: SessionDep,
    tenant: TenantQuery = None,
) -> SourcePublic:
    source = _tenant_source(session, principal, tenant, name, for_update=True)
    try:
        update_source(session=session, source=source, changes=body)
    except SourceConfigError as exc:
        # A well-formed change that does not fit the fields the source keeps (a feed given `urls`).
        raise Conflict(f"{exc.detail} (with the source's other fields)") from None
    session.commit()
    return source_public(source)


@router.delete("/{name}", status_code=status.HTTP_204_NO_CONTENT)
def delete(
    name: SourceNameParam, principal: AdminPrincipal, session: SessionDep, tenant: TenantQuery = None
) -> Response:
    delete_source(session=session, source=_tenant_source(session, principal, tenant, name, for_update=True))
    session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/{name}/sync",
    response_model=SourcePublic,
    responses={202: {"model": SourcePublic, "description": "Due now: a scheduler polls it within a tick"}},
)
def sync(
    name: SourceNameParam,
    principal: AdminPrincipal,
    session: SessionDep,
    response: Response,
    wait: Annotated[bool, Query(description="Poll now, in this request, and answer with the result")] = False,
    tenant: TenantQuery = None,
) -> SourcePublic:
    """Make the source due now (202); with `wait=true`, poll it in this request and answer 200."""
    source = _tenant_source(session, principal, tenant, name, for_update=True)
    if source.suspend:
        raise Conflict("source is suspended; set suspend to false first")
    request_sync(session=session, source=source)
    session.commit()
    response.status_code = status.HTTP_202_ACCEPTED
    # None: another scheduler is polling it right now, and the sync request stands for after that.
    if wait and poll_source(source.id) is not None:
        response.status_code = status.HTTP_200_OK
        session.refresh(source)
    return source_public(source)

"""SCIM 2.0 routes under /scim/v2: discovery, /Users, /Groups, /Bulk, and what is not offered."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from gatehouse.auth.deps import authenticator
from gatehouse.auth.principal import Principal
from gatehouse.kit.problems import Problem
from gatehouse.scim import discovery
from gatehouse.scim.bulk import bulk_router
from gatehouse.scim.groups import Groups
from gatehouse.scim.http import PREFIX, ScimResponse, base_url, scim_json
from gatehouse.scim.openapi import documented
from gatehouse.scim.resources import ResourceKind
from gatehouse.scim.routes import LIST_RESPONSE, resource_router
from gatehouse.scim.users import Users
from gatehouse.services import Services

Filter = Annotated[str | None, Query(alias="filter", include_in_schema=False)]


def _listed(resources: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "schemas": [LIST_RESPONSE],
        "totalResults": len(resources),
        "startIndex": 1,
        "itemsPerPage": len(resources),
        "Resources": resources,
    }


def _one_of(resources: list[dict[str, Any]], ident: str, kind: str) -> Response:
    for resource in resources:
        if resource["id"].lower() == ident.lower():
            return scim_json(resource)
    raise Problem(404, f"No {kind} {ident!r}.")


def _no_filter(filter_: str | None) -> None:
    if filter_ is not None:
        # RFC 7644 §4: discovery endpoints refuse filters with 403.
        raise Problem(403, "Discovery endpoints do not take a filter.")


def build_router(svc: Services) -> APIRouter:
    """Routes under /scim/v2."""
    router = APIRouter(prefix=PREFIX, tags=["scim"], default_response_class=ScimResponse)
    Reader = Annotated[Principal, Depends(authenticator(svc, "scim:read"))]
    dialect = "sqlite" if svc.db.is_sqlite else "postgresql"
    kinds: list[ResourceKind] = [Users(dialect), Groups(dialect)]
    for kind in kinds:
        router.include_router(resource_router(svc, kind))
    router.include_router(bulk_router(svc, {kind.endpoint: kind for kind in kinds}))
    bulk = discovery.bulk_limits(
        svc.settings.scim_bulk_max_operations, svc.settings.scim_bulk_max_payload_bytes
    )

    @router.get("/ServiceProviderConfig", responses=documented(200, 403))
    async def service_provider_config(request: Request, who: Reader) -> Response:
        """What this SCIM service supports."""
        return scim_json(discovery.service_provider_config(base_url(request), bulk))

    @router.get("/ResourceTypes", responses=documented(200, 403))
    async def resource_types(request: Request, who: Reader, filter_: Filter = None) -> Response:
        """The resource types served: User (with the enterprise extension) and Group."""
        _no_filter(filter_)
        return scim_json(_listed(discovery.resource_types(base_url(request))))

    @router.get("/ResourceTypes/{ident}", responses=documented(200, 404))
    async def resource_type(ident: str, request: Request, who: Reader) -> Response:
        """One resource type."""
        return _one_of(discovery.resource_types(base_url(request)), ident, "resource type")

    @router.get("/Schemas", responses=documented(200, 403))
    async def schemas(request: Request, who: Reader, filter_: Filter = None) -> Response:
        """The schemas of User, the enterprise extension and Group."""
        _no_filter(filter_)
        return scim_json(_listed(discovery.schemas(base_url(request))))

    @router.get("/Schemas/{ident}", responses=documented(200, 404))
    async def schema(ident: str, request: Request, who: Reader) -> Response:
        """One schema, by its URN."""
        return _one_of(discovery.schemas(base_url(request)), ident, "schema")

    # Answered 501 by design; kept out of the OpenAPI document (docs/scim.md says why).
    @router.api_route(
        "/Me", methods=["GET", "POST", "PUT", "PATCH", "DELETE"], include_in_schema=False
    )
    async def me(who: Reader) -> Response:
        """Not offered: a token is not an identity (RFC 7644 §3.11 allows 501)."""
        raise Problem(501, "/Me is not supported: API tokens are not identities.")

    @router.post("/.search", include_in_schema=False)
    async def search_everything(who: Reader) -> Response:
        """Not offered: search /Users/.search or /Groups/.search instead."""
        raise Problem(501, "Search one resource type: POST /Users/.search or /Groups/.search.")

    return router

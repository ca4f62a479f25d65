"""The HTTP surface of one SCIM resource type: list, search, create, get, replace, patch, delete."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import Response
from pydantic import ValidationError
from scim2_models import Context, ListResponse, ResponseParameters

from gatehouse.auth.deps import authenticator
from gatehouse.auth.principal import Principal
from gatehouse.kit.problems import Problem
from gatehouse.scim import filters
from gatehouse.scim.errors import from_validation
from gatehouse.scim.http import (
    ScimResponse,
    base_url,
    etag,
    known_fields,
    not_modified,
    read_json,
    read_object,
    scim_json,
)
from gatehouse.scim.listing import ListQuery, window
from gatehouse.scim.openapi import (
    PATCH_SCHEMA,
    SEARCH_SCHEMA,
    body,
    documented,
    resource_schema,
)
from gatehouse.scim.operations import perform
from gatehouse.scim.resources import Found, ResourceKind
from gatehouse.services import Services

LIST_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
SEARCH_FIELDS = (
    "schemas",
    "attributes",
    "excludedAttributes",
    "filter",
    "sortBy",
    "sortOrder",
    "startIndex",
    "count",
)
IfMatch = Annotated[str | None, Header(alias="If-Match")]
IfNoneMatch = Annotated[str | None, Header(alias="If-None-Match")]
Attributes = Annotated[
    str | None, Query(alias="attributes", description="Comma-separated attributes to return.")
]
Excluded = Annotated[
    str | None,
    Query(alias="excludedAttributes", description="Comma-separated attributes to leave out."),
]


def response_parameters(
    kind: ResourceKind, attributes: Any, excluded: Any
) -> ResponseParameters[Any]:
    """The `attributes` / `excludedAttributes` a client sent, checked against the schema."""
    try:
        return ResponseParameters[kind.model](  # type: ignore[name-defined]
            attributes=attributes or None, excluded_attributes=excluded or None
        )
    except ValidationError as exc:
        raise from_validation(exc) from None


def expands(kind: ResourceKind, params: ResponseParameters[Any]) -> bool:
    """Whether the response needs the costly relation (a user's groups, a group's members)."""
    relation = kind.relation.lower()

    def names(paths: Any) -> list[str]:
        return [str(p).lower().split(".")[0] for p in paths or []]

    if relation in names(params.excluded_attributes):
        return False
    return not params.attributes or relation in names(params.attributes)


def dump(found: Any, params: ResponseParameters[Any] | None = None) -> dict[str, Any]:
    """A resource as a query response carries it."""
    return dict(
        found.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE, response_parameters=params)
    )


def one(found: Found, status: int = 200, params: ResponseParameters[Any] | None = None) -> Response:
    """A single-resource response with its ETag and Location."""
    headers = {"ETag": etag(found.version), "Location": found.location}
    return scim_json(dump(found.resource, params), status, headers)


def resource_router(svc: Services, kind: ResourceKind) -> APIRouter:
    """Routes under /scim/v2/{Users,Groups}."""
    router = APIRouter(prefix=kind.endpoint, default_response_class=ScimResponse)
    Reader = Annotated[Principal, Depends(authenticator(svc, "scim:read"))]
    Writer = Annotated[Principal, Depends(authenticator(svc, "scim:write"))]
    label = kind.name.lower()
    resource_body = body(resource_schema(str(kind.model.__schema__)))

    async def listing(request: Request, who: Principal, search: dict[str, Any]) -> Response:
        text = search.get("filter")
        if text is not None and not isinstance(text, str):
            raise Problem(400, "filter must be a string.", scim_type="invalidFilter")
        order = str(search.get("sortOrder") or "ascending").lower()
        if order not in ("ascending", "descending"):
            raise Problem(400, "sortOrder is ascending or descending.", scim_type="invalidValue")
        start, count = window(_int(search, "startIndex"), _int(search, "count"))
        params = response_parameters(
            kind, search.get("attributes"), search.get("excludedAttributes")
        )
        sort_by = search.get("sortBy")
        query = ListQuery(
            filters.parse(text) if text else None,
            str(sort_by) if sort_by else None,
            order == "descending",
            start,
            count,
        )
        async with svc.read() as session:
            total, items = await kind.search(
                session, who.tenant_id, query, base_url(request), expands(kind, params)
            )
        page = ListResponse[kind.model](  # type: ignore[name-defined]
            total_results=total, start_index=start, items_per_page=len(items)
        )
        doc = page.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE)
        doc["schemas"] = [LIST_RESPONSE]
        doc["Resources"] = [dump(item, params) for item in items]
        return scim_json(doc)

    @router.get("", responses=documented(200, 400), summary=f"List {label}s")
    async def list_resources(
        request: Request,
        who: Reader,
        filter_: Annotated[str | None, Query(alias="filter")] = None,
        sort_by: Annotated[str | None, Query(alias="sortBy")] = None,
        sort_order: Annotated[str | None, Query(alias="sortOrder")] = None,
        start_index: Annotated[int | None, Query(alias="startIndex")] = None,
        count: Annotated[int | None, Query()] = None,
        attributes: Attributes = None,
        excluded: Excluded = None,
    ) -> Response:
        """Query with a SCIM filter, sortBy/sortOrder and startIndex/count paging."""
        search = {
            "filter": filter_,
            "sortBy": sort_by,
            "sortOrder": sort_order,
            "startIndex": start_index,
            "count": count,
            "attributes": attributes,
            "excludedAttributes": excluded,
        }
        return await listing(request, who, search)

    @router.post(
        "/.search",
        responses=documented(200, 400),
        openapi_extra=body(SEARCH_SCHEMA),
        summary=f"Search {label}s",
    )
    async def search_resources(request: Request, who: Reader) -> Response:
        """Query with a SearchRequest body (RFC 7644 §3.4.3)."""
        body = known_fields(read_object(await read_json(request)), SEARCH_FIELDS, "A SearchRequest")
        return await listing(request, who, body)

    async def write(
        request: Request, who: Principal, method: str, ident: str, if_match: str | None
    ) -> Response:
        payload = read_object(await read_json(request)) if method != "DELETE" else {}
        done = await perform(svc, request, who, kind, method, ident, payload, if_match)
        if done.found is None:
            return Response(status_code=done.status)
        return one(done.found, done.status)

    @router.post(
        "", responses=documented(201, 400, 409), openapi_extra=resource_body, status_code=201
    )
    async def create_resource(request: Request, who: Writer) -> Response:
        """Create a resource; the response carries Location and ETag."""
        return await write(request, who, "POST", "", None)

    @router.get("/{ident}", responses=documented(200, 304, 400, 404))
    async def get_resource(
        ident: str,
        request: Request,
        who: Reader,
        if_none_match: IfNoneMatch = None,
        attributes: Attributes = None,
        excluded: Excluded = None,
    ) -> Response:
        """One resource; If-None-Match with its ETag answers 304."""
        params = response_parameters(kind, attributes, excluded)
        async with svc.read() as session:
            found = await kind.get(
                session, who.tenant_id, ident, base_url(request), expands(kind, params)
            )
        if not_modified(if_none_match, found.version):
            return Response(status_code=304, headers={"ETag": etag(found.version)})
        return one(found, params=params)

    @router.put(
        "/{ident}", responses=documented(200, 400, 404, 409, 412), openapi_extra=resource_body
    )
    async def replace_resource(
        ident: str, request: Request, who: Writer, if_match: IfMatch = None
    ) -> Response:
        """Replace a resource; If-Match with a stale ETag answers 412."""
        return await write(request, who, "PUT", ident, if_match)

    @router.patch(
        "/{ident}", responses=documented(200, 400, 404, 409, 412), openapi_extra=body(PATCH_SCHEMA)
    )
    async def patch_resource(
        ident: str, request: Request, who: Writer, if_match: IfMatch = None
    ) -> Response:
        """Apply a PatchOp; If-Match with a stale ETag answers 412."""
        return await write(request, who, "PATCH", ident, if_match)

    @router.delete("/{ident}", responses=documented(204, 404, 412), status_code=204)
    async def delete_resource(
        ident: str, request: Request, who: Writer, if_match: IfMatch = None
    ) -> Response:
        """Delete a resource (the store keeps its history)."""
        return await write(request, who, "DELETE", ident, if_match)

    return router


def _int(search: dict[str, Any], name: str) -> int | None:
    value = search.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise Problem(400, f"{name} must be an integer.", scim_type="invalidValue")
    return value

"""Operator read API of the identity store: /v1/identities, /v1/groups, /v1/resources."""

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from gatehouse.auth.deps import authenticator
from gatehouse.auth.principal import Principal
from gatehouse.identity import groups, queries, service
from gatehouse.identity.graph import groups_of
from gatehouse.identity.schemas import (
    GroupOut,
    IdentityDetail,
    IdentityOut,
    LinkOut,
    MemberOut,
    ResourceOut,
    VersionOut,
)
from gatehouse.kit.http import Cursor, Limit, problems
from gatehouse.kit.pagination import Page, decode_cursor, paginate
from gatehouse.services import Services

RESERVED = frozenset({"status", "group", "source", "cursor", "limit"})


def build_router(svc: Services) -> APIRouter:
    """Routes under /v1/identities, /v1/groups and /v1/resources (one prefix each, so other
    paths skip them at the prefix)."""
    people = APIRouter(prefix="/v1/identities", tags=["identity store"])
    teams = APIRouter(prefix="/v1/groups", tags=["identity store"])
    things = APIRouter(prefix="/v1/resources", tags=["identity store"])
    Reader = Annotated[Principal, Depends(authenticator(svc, "identities:read"))]

    @people.get("", responses=problems(400))
    async def list_identities(
        request: Request,
        who: Reader,
        status: Annotated[str | None, Query(description="active, suspended or deleted")] = None,
        group: Annotated[
            str | None, Query(description="Members of this group, nested too.")
        ] = None,
        source: Annotated[str | None, Query(description="Linked to this source.")] = None,
        cursor: Cursor = None,
        limit: Limit = 100,
    ) -> Page[IdentityOut]:
        """List identities; other query parameters filter on attributes (`attributes.x`: JSON)."""
        columns: dict[str, str] = {}
        attributes: dict[str, str] = {}
        for name, value in request.query_params.items():
            if name in RESERVED:
                continue
            if name.startswith("attributes."):
                attributes[name.removeprefix("attributes.")] = value
            else:
                columns[name] = value
        flt = queries.IdentityFilter(status, group, source, columns, attributes)
        async with svc.read() as session:
            rows = await queries.list_identities(
                session, who.tenant_id, flt, decode_cursor(cursor), limit
            )
        return paginate(rows, limit, IdentityOut.model_validate)

    @people.get("/{identity_id}", responses=problems(404))
    async def get_identity(identity_id: str, who: Reader) -> IdentityDetail:
        """One identity with its source links, groups (direct and inherited) and history."""
        async with svc.read() as session:
            identity = await service.get_identity(session, who.tenant_id, identity_id)
            links = await service.links_of(session, who.tenant_id, identity.id)
            member_of = await groups_of(session, who.tenant_id, identity.id)
            history = await service.history_of(session, who.tenant_id, "identity", identity.id)
        return IdentityDetail(
            **IdentityOut.model_validate(identity).model_dump(),
            links=[LinkOut.model_validate(x) for x in links],
            groups=[GroupOut.model_validate(g) for g in member_of],
            history=[VersionOut.model_validate(v) for v in history],
        )

    @teams.get("", responses=problems(400))
    async def list_groups(
        who: Reader,
        name: Annotated[str | None, Query(description="Exact display name.")] = None,
        cursor: Cursor = None,
        limit: Limit = 100,
    ) -> Page[GroupOut]:
        """List groups."""
        async with svc.read() as session:
            rows = await queries.list_groups(
                session, who.tenant_id, name, decode_cursor(cursor), limit
            )
        return paginate(rows, limit, GroupOut.model_validate)

    @teams.get("/{group_id}/members", responses=problems(404))
    async def group_members(
        group_id: str,
        who: Reader,
        transitive: Annotated[bool, Query(description="Include members of nested groups.")] = False,
    ) -> list[MemberOut]:
        """List a group's members, directly or through nested groups."""
        async with svc.read() as session:
            await groups.get_group(session, who.tenant_id, group_id)
            rows = await queries.members(session, who.tenant_id, group_id, transitive=transitive)
        return [MemberOut(id=m, type=kind, display=name) for m, kind, name in rows]

    @things.get("", responses=problems(400))
    async def list_resources(
        who: Reader,
        type: Annotated[str | None, Query(description="Only resources of this type.")] = None,
        deleted: Annotated[
            bool,
            Query(description="Include resources their sources no longer describe (deleted)."),
        ] = False,
        cursor: Cursor = None,
        limit: Limit = 100,
    ) -> Page[ResourceOut]:
        """List resources (deleted ones only with `deleted=true`)."""
        async with svc.read() as session:
            rows = await queries.list_resources(
                session, who.tenant_id, type, decode_cursor(cursor), limit, deleted=deleted
            )
        return paginate(rows, limit, ResourceOut.model_validate)

    router = APIRouter()
    for part in (people, teams, things):
        router.include_router(part)
    return router

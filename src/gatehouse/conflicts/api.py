"""Conflict review routes: /v1/conflicts and /v1/identities/{id}/conflicts."""

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from gatehouse.auth.deps import authenticator
from gatehouse.auth.principal import Principal
from gatehouse.conflicts import service
from gatehouse.conflicts.schemas import ConflictOut, Kind, ResolveIn, Status
from gatehouse.identity.service import get_identity
from gatehouse.kit.http import Cursor, Limit, problems
from gatehouse.kit.pagination import Page, decode_cursor, paginate
from gatehouse.services import Services

StatusQuery = Annotated[Status | None, Query(description="open, resolved or dismissed.")]
KindQuery = Annotated[Kind | None, Query(description="precedence or ambiguous.")]


def build_router(svc: Services) -> APIRouter:
    """Routes under /v1/conflicts, and an identity's conflicts under /v1/identities."""
    review = APIRouter(prefix="/v1/conflicts", tags=["conflicts"])
    people = APIRouter(prefix="/v1/identities", tags=["conflicts"])
    Reader = Annotated[Principal, Depends(authenticator(svc, "identities:read"))]
    Writer = Annotated[Principal, Depends(authenticator(svc, "identities:write"))]

    @review.get("", responses=problems(400, 422))
    async def list_conflicts(
        who: Reader,
        status: StatusQuery = None,
        kind: KindQuery = None,
        connection: Annotated[
            str | None,
            Query(max_length=64, description="Offered by this connection (its id), or `scim`."),
        ] = None,
        identity: Annotated[
            str | None, Query(max_length=36, description="Concerning this identity.")
        ] = None,
        cursor: Cursor = None,
        limit: Limit = 100,
    ) -> Page[ConflictOut]:
        """List conflicts, oldest first: values sources offered that were not applied and
        records that matched several identities."""
        flt = service.ConflictFilter(status, kind, connection, identity)
        async with svc.read() as session:
            rows = await service.list_conflicts(
                session, who.tenant_id, flt, decode_cursor(cursor), limit
            )
        return paginate(rows, limit, ConflictOut.model_validate)

    @review.get("/{conflict_id}", responses=problems(404))
    async def get_conflict(conflict_id: str, who: Reader) -> ConflictOut:
        """One conflict, with the decision taken on it, if any."""
        async with svc.read() as session:
            row = await service.get_conflict(session, who.tenant_id, conflict_id)
        return ConflictOut.model_validate(row)

    @review.post("/{conflict_id}/resolve", responses=problems(404, 409, 422))
    async def resolve_conflict(
        conflict_id: str, body: ResolveIn, request: Request, who: Writer
    ) -> ConflictOut:
        """Decide an open conflict: accept the offered value, keep the current one (both pin
        the value as the `manual` source), or dismiss it; 409 once it is decided."""
        async with svc.write(request, who, "conflict.resolve", "conflict", conflict_id) as (
            session,
            actor,
        ):
            row = await service.resolve(session, actor, conflict_id, body)
            return ConflictOut.model_validate(row)

    @people.get("/{identity_id}/conflicts", responses=problems(400, 404, 422))
    async def identity_conflicts(
        identity_id: str,
        who: Reader,
        status: StatusQuery = None,
        kind: KindQuery = None,
        cursor: Cursor = None,
        limit: Limit = 100,
    ) -> Page[ConflictOut]:
        """The conflicts concerning one identity, oldest first."""
        flt = service.ConflictFilter(status, kind, identity_id=identity_id)
        async with svc.read() as session:
            await get_identity(session, who.tenant_id, identity_id, include_deleted=True)
            rows = await service.list_conflicts(
                session, who.tenant_id, flt, decode_cursor(cursor), limit
            )
        return paginate(rows, limit, ConflictOut.model_validate)

    router = APIRouter()
    for part in (review, people):
        router.include_router(part)
    return router

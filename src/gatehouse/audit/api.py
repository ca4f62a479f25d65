"""Audit log route: GET /pip/audit/logs."""

from datetime import UTC, date, datetime, time
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from gatehouse.audit import service
from gatehouse.audit.schemas import AuditOut
from gatehouse.auth.deps import authenticator
from gatehouse.auth.principal import Principal
from gatehouse.kit.http import ISO, Cursor, Limit, problems
from gatehouse.kit.pagination import Page, decode_cursor, paginate
from gatehouse.kit.problems import Problem
from gatehouse.services import Services

When = Annotated[
    datetime | date | None,
    ISO,
    Query(description="ISO date or date-time; a bare date means midnight UTC."),
]


def _instant(value: datetime | date | None) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.combine(value, time.min, tzinfo=UTC)


def build_router(svc: Services) -> APIRouter:
    """Routes under /pip/audit."""
    router = APIRouter(prefix="/pip/audit", tags=["audit"])
    Reader = Annotated[Principal, Depends(authenticator(svc, "audit:read"))]

    @router.get("/logs", responses=problems(400, 422))
    async def audit_logs(
        who: Reader,
        connection_id: Annotated[
            str | None, Query(description="Entries about this connection.")
        ] = None,
        target_id: Annotated[str | None, Query(description="Entries about this object.")] = None,
        actor: Annotated[str | None, Query(description="e.g. `token:<id>` or `cli`.")] = None,
        action: Annotated[str | None, Query(description="e.g. `token.create`.")] = None,
        start_date: When = None,
        end_date: When = None,
        cursor: Cursor = None,
        limit: Limit = 100,
    ) -> Page[AuditOut]:
        """List the tenant's audit entries, newest first."""
        before = decode_cursor(cursor)
        if before is not None and not isinstance(before, int):
            raise Problem(400, "The cursor is not one this API issued.")
        flt = service.AuditFilter(
            target_id=connection_id or target_id,
            actor=actor,
            action=action,
            start=_instant(start_date),
            end=_instant(end_date),
        )
        async with svc.read() as session:
            rows = await service.list_entries(session, who.tenant_id, flt, before, limit)
        return paginate(rows, limit, AuditOut.model_validate)

    return router

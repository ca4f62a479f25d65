"""Read models of syncing: a connection's status and the tenant's jobs."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gatehouse.db.tenancy import TENANT
from gatehouse.sync.models import ACTIVE, StreamCursor, SyncRun, SyncSchedule


async def status(session: AsyncSession, tenant_id: str, connection_id: str) -> dict[str, Any]:
    """Schedule, active run, last finished run and incremental cursors of a connection."""
    scoped = {TENANT: tenant_id}
    schedule = await session.get(SyncSchedule, (tenant_id, connection_id), execution_options=scoped)
    recent = (
        (
            await session.execute(
                select(SyncRun)
                .where(SyncRun.tenant_id == tenant_id, SyncRun.connection_id == connection_id)
                .order_by(SyncRun.id.desc())
                .limit(20)
                .execution_options(**scoped)
            )
        )
        .scalars()
        .all()
    )
    cursors = (
        (
            await session.execute(
                select(StreamCursor)
                .where(
                    StreamCursor.tenant_id == tenant_id,
                    StreamCursor.connection_id == connection_id,
                )
                .execution_options(**scoped)
            )
        )
        .scalars()
        .all()
    )
    return {
        "connection_id": connection_id,
        "schedule": schedule,
        "active_run": next((r for r in recent if r.status in ACTIVE), None),
        "last_run": next((r for r in recent if r.status not in ACTIVE), None),
        "cursors": {c.stream: dict(c.state) for c in cursors},
    }


async def jobs(session: AsyncSession, tenant_id: str) -> list[dict[str, Any]]:
    """Every connection with a schedule or an active run."""
    scoped = {TENANT: tenant_id}
    schedules = (
        (
            await session.execute(
                select(SyncSchedule)
                .where(SyncSchedule.tenant_id == tenant_id)
                .execution_options(**scoped)
            )
        )
        .scalars()
        .all()
    )
    active = (
        (
            await session.execute(
                select(SyncRun)
                .where(SyncRun.tenant_id == tenant_id, SyncRun.status.in_(ACTIVE))
                .execution_options(**scoped)
            )
        )
        .scalars()
        .all()
    )
    by_connection: dict[str, dict[str, Any]] = {}
    for row in schedules:
        by_connection[row.connection_id] = {"connection_id": row.connection_id, "schedule": row}
    for run in active:
        entry = by_connection.setdefault(
            run.connection_id, {"connection_id": run.connection_id, "schedule": None}
        )
        entry["active_run"] = run
    return [{"active_run": None, **entry} for _, entry in sorted(by_connection.items())]

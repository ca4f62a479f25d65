"""Sync routes (reference 000's scheduler paths, verbatim) and sync run history."""

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from gatehouse.auth.deps import authenticator
from gatehouse.auth.principal import Principal
from gatehouse.connections.service import ensure_runnable, get_connection
from gatehouse.db.tenancy import TENANT
from gatehouse.kit.http import Cursor, Limit, problems
from gatehouse.kit.pagination import Page, decode_cursor, paginate
from gatehouse.kit.problems import Problem, not_found
from gatehouse.services import Services
from gatehouse.sync import runs, scheduler, service
from gatehouse.sync.models import SyncRun
from gatehouse.sync.scheduler import ScheduleSpec
from gatehouse.sync.schemas import (
    JobOut,
    RunOut,
    ScheduleIn,
    ScheduleOut,
    StatsOut,
    StatusOut,
    TriggerIn,
)


def build_router(svc: Services) -> APIRouter:
    """Routes under /pip/connections/{id}/... and /pip/sync/..."""
    router = APIRouter(prefix="/pip", tags=["sync"])
    Reader = Annotated[Principal, Depends(authenticator(svc, "connections:read"))]
    Writer = Annotated[Principal, Depends(authenticator(svc, "connections:write"))]

    @router.post(
        "/connections/{connection_id}/trigger-sync",
        status_code=202,
        responses=problems(404, 409),
    )
    async def trigger_sync(
        connection_id: str, request: Request, who: Writer, body: TriggerIn | None = None
    ) -> RunOut:
        """Queue a sync run now; a worker picks it up within seconds (409 while one is queued
        or running, or while the connection is paused). Follow it with GET .../sync-status or
        .../sync-runs/{run_id}."""
        wanted = body or TriggerIn()
        async with svc.write(request, who, "sync.trigger", "connection", connection_id) as (
            session,
            _,
        ):
            ensure_runnable(await get_connection(session, who.tenant_id, connection_id))
            run = await runs.enqueue(
                session,
                who.tenant_id,
                connection_id,
                mode=wanted.mode,
                trigger="api",
                dry_run=wanted.dry_run,
                confirm_deletes=wanted.confirm_deletes,
            )
            await session.flush()
            out = RunOut.model_validate(run)
        svc.wake_worker()
        return out

    @router.post("/connections/{connection_id}/schedule-sync", responses=problems(400, 404, 422))
    async def schedule_sync(
        connection_id: str, body: ScheduleIn, request: Request, who: Writer
    ) -> ScheduleOut:
        """Sync on a schedule: every `interval_seconds`, or on a `cron` expression in a time
        zone. Replaces any earlier schedule; missed slots are coalesced into one run."""
        spec = ScheduleSpec(body.interval_seconds, body.cron, body.timezone, body.mode)
        async with svc.write(request, who, "sync.schedule", "connection", connection_id) as (
            session,
            _,
        ):
            await get_connection(session, who.tenant_id, connection_id)
            row = await scheduler.set_schedule(session, who.tenant_id, connection_id, spec)
            return ScheduleOut.model_validate(row)

    @router.delete(
        "/connections/{connection_id}/unschedule-sync",
        status_code=204,
        responses=problems(404),
    )
    async def unschedule_sync(connection_id: str, request: Request, who: Writer) -> None:
        """Stop syncing on a schedule (a run in progress finishes)."""
        async with svc.write(request, who, "sync.unschedule", "connection", connection_id) as (
            session,
            _,
        ):
            await get_connection(session, who.tenant_id, connection_id)
            if not await scheduler.remove_schedule(session, who.tenant_id, connection_id):
                raise Problem(404, "This connection has no sync schedule.")

    @router.get("/connections/{connection_id}/sync-status", responses=problems(404))
    async def sync_status(connection_id: str, who: Reader) -> StatusOut:
        """Whether the connection is paused, its schedule, the run in progress, the last
        finished run and incremental cursors."""
        async with svc.read() as session:
            row = await get_connection(session, who.tenant_id, connection_id)
            found = await service.status(session, who.tenant_id, connection_id)
        found["paused"] = row.status == "paused"
        return StatusOut.model_validate(found, from_attributes=True)

    @router.get("/connections/{connection_id}/sync-runs", responses=problems(400, 404))
    async def sync_runs(
        connection_id: str, who: Reader, cursor: Cursor = None, limit: Limit = 50
    ) -> Page[RunOut]:
        """The connection's runs, newest first: status, timings, counts and error samples."""
        async with svc.read() as session:
            await get_connection(session, who.tenant_id, connection_id)
            after = decode_cursor(cursor)
            rows = await runs.runs_of(
                session, who.tenant_id, connection_id, str(after) if after else None, limit + 1
            )
        return paginate(rows, limit, RunOut.model_validate)

    @router.get("/connections/{connection_id}/sync-runs/{run_id}", responses=problems(404))
    async def sync_run(connection_id: str, run_id: str, who: Reader) -> RunOut:
        """One run."""
        async with svc.read() as session:
            run = await session.get(SyncRun, run_id, execution_options={TENANT: who.tenant_id})
        if run is None or run.tenant_id != who.tenant_id or run.connection_id != connection_id:
            raise not_found("sync run", run_id)
        return RunOut.model_validate(run)

    @router.get("/sync/scheduler-stats")
    async def scheduler_stats(who: Reader) -> StatsOut:
        """How many connections are scheduled, the next slot, and runs by status."""
        async with svc.read() as session:
            found = await scheduler.stats(session, who.tenant_id)
        return StatsOut.model_validate(
            {**found, "workers_in_process": svc.settings.worker_in_process}
        )

    @router.get("/sync/jobs")
    async def sync_jobs(who: Reader) -> list[JobOut]:
        """Every connection with a schedule or a run in progress."""
        async with svc.read() as session:
            found = await service.jobs(session, who.tenant_id)
        return [JobOut.model_validate(j, from_attributes=True) for j in found]

    @router.post("/sync/reschedule-all")
    async def reschedule_all(request: Request, who: Writer) -> dict[str, int]:
        """Recompute every schedule's next slot from now (e.g. after a long outage)."""
        async with svc.write(request, who, "sync.reschedule_all", "tenant", who.tenant_id) as (
            session,
            _,
        ):
            return {"rescheduled": await scheduler.reschedule_all(session, who.tenant_id)}

    return router

"""The run queue: enqueue, claim under a lease (one worker per run), finish, list."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy import Select, and_, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from gatehouse.connectors.protocol import SyncMode
from gatehouse.db.engine import Database
from gatehouse.db.tenancy import ALL_TENANTS, TENANT
from gatehouse.kit.problems import Problem
from gatehouse.sync import events, rescoring
from gatehouse.sync.engine import RunSpec
from gatehouse.sync.models import ACTIVE, SyncRun
from gatehouse.sync.tally import Tally

MAX_ATTEMPTS = 3  # a run whose worker died this often is failed, not retried again


class RunActive(Problem):
    """The connection already has a run queued or running."""

    def __init__(self, run_id: str) -> None:
        super().__init__(
            409,
            f"This connection already has a sync run queued or running ({run_id}); wait for it "
            "to finish or look at GET /pip/connections/{id}/sync-status.",
        )
        self.run_id = run_id


async def active_run(session: AsyncSession, tenant_id: str, connection_id: str) -> SyncRun | None:
    """The connection's queued or running run, if any."""
    stmt = (
        select(SyncRun)
        .where(SyncRun.tenant_id == tenant_id, SyncRun.connection_id == connection_id)
        .where(SyncRun.status.in_(ACTIVE))
        .execution_options(**{TENANT: tenant_id})
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def enqueue(
    session: AsyncSession,
    tenant_id: str,
    connection_id: str,
    *,
    mode: SyncMode,
    trigger: str,
    dry_run: bool = False,
    confirm_deletes: bool = False,
    lease: tuple[str, float] | None = None,
) -> SyncRun:
    """Queue a run; RunActive when one is already queued or running.

    With `lease` (owner, seconds) the run starts at once, held by that owner: a run the caller
    executes itself (an import), which workers leave alone unless the lease runs out.
    """
    current = await active_run(session, tenant_id, connection_id)
    if current is not None:
        raise RunActive(current.id)
    run = SyncRun(
        tenant_id=tenant_id,
        connection_id=connection_id,
        status="queued",
        mode=mode.value,
        trigger=trigger,
        dry_run=dry_run,
        confirm_deletes=confirm_deletes,
        progress={},
        counts={},
        error_samples=[],
    )
    if lease is not None:
        now = datetime.now(UTC)
        run.status, run.lease_owner, run.attempts = "running", lease[0], 1
        run.queued_at = run.started_at = now
        run.lease_expires_at = now + timedelta(seconds=lease[1])
    try:
        async with session.begin_nested():
            session.add(run)
    except IntegrityError:  # another process queued one a moment ago
        raced = await active_run(session, tenant_id, connection_id)
        raise RunActive(raced.id if raced else "unknown") from None
    if lease is not None:
        events.started(session, run)
    return run


def spec_of(run: SyncRun, owner: str) -> RunSpec:
    """What the engine needs of a run held by `owner`."""
    return RunSpec(
        id=run.id,
        tenant_id=run.tenant_id,
        mode=SyncMode(run.mode),
        dry_run=run.dry_run,
        confirm_deletes=run.confirm_deletes,
        progress=dict(run.progress or {}),
        owner=owner,
        counts={k: dict(v) for k, v in (run.counts or {}).items()},
        samples=list(run.error_samples or []),
    )


def _claimable(now: datetime, run_id: str | None) -> Select[SyncRun]:
    stmt = (
        select(SyncRun)
        .where(
            or_(
                SyncRun.status == "queued",
                and_(SyncRun.status == "running", SyncRun.lease_expires_at < now),
            )
        )
        .order_by(SyncRun.queued_at)
        .limit(1)
        .execution_options(**{ALL_TENANTS: True})
    )
    return stmt if run_id is None else stmt.where(SyncRun.id == run_id)


async def claim(
    db: Database, owner: str, lease_seconds: float, run_id: str | None = None
) -> tuple[SyncRun, RunSpec] | None:
    """Take the oldest queued run (or `run_id`), or a running one whose lease ran out."""
    now = datetime.now(UTC)
    async with db.transaction(write=False) as session:  # idle workers take no write lock
        if (await session.execute(_claimable(now, run_id))).first() is None:
            return None
    async with db.transaction() as session:
        stmt = _claimable(now, run_id)
        if not db.is_sqlite:  # SQLite serialises writers with BEGIN IMMEDIATE instead
            stmt = stmt.with_for_update(skip_locked=True)
        run = (await session.execute(stmt)).scalar_one_or_none()
        if run is None:
            return None
        if run.attempts >= MAX_ATTEMPTS:
            run.status, run.finished_at = "failed", now
            run.error = (
                f"the worker running this sync stopped {run.attempts} times without finishing; "
                "check the worker logs, then trigger a new run"
            )
            run.lease_owner = None
            events.ended(session, run)
            return None
        first = run.started_at is None
        run.status, run.lease_owner = "running", owner
        run.lease_expires_at = now + timedelta(seconds=lease_seconds)
        run.attempts += 1
        run.started_at = run.started_at or now
        if first:
            events.started(session, run)
        return run, spec_of(run, owner)


async def finish(
    db: Database, spec: RunSpec, status: str, tally: Tally, error: str | None = None
) -> bool:
    """Record the end of a run we still hold, with its `sync.*` event; False when the lease
    was lost meanwhile (then the run's new holder reports it)."""
    async with db.transaction() as session:
        stmt = (
            update(SyncRun)
            .where(SyncRun.tenant_id == spec.tenant_id, SyncRun.id == spec.id)
            .where(SyncRun.lease_owner == spec.owner, SyncRun.status == "running")
            .values(
                status=status,
                finished_at=datetime.now(UTC),
                counts=tally.counts,
                error_samples=tally.samples,
                error=error[:2000] if error else None,
                written=not spec.dry_run and (status == "succeeded" or not spec.atomic),
                progress=spec.progress,
                lease_owner=None,
                lease_expires_at=None,
            )
            .execution_options(**{TENANT: spec.tenant_id})
        )
        result = await session.execute(stmt)
        if getattr(result, "rowcount", 0) != 1:
            return False
        await rescoring.forget(session, spec.tenant_id, spec.id)  # a run that stopped early
        run = await session.get(
            SyncRun, spec.id, execution_options={TENANT: spec.tenant_id}, populate_existing=True
        )
        assert run is not None
        events.ended(session, run)
        return True


async def cancel_queued(
    session: AsyncSession, tenant_id: str, connection_id: str, reason: str
) -> list[str]:
    """Cancel a connection's queued runs (not one already running); their ids."""
    scoped = {TENANT: tenant_id}
    mine = (SyncRun.tenant_id == tenant_id, SyncRun.connection_id == connection_id)
    found = await session.execute(
        select(SyncRun.id).where(*mine, SyncRun.status == "queued").execution_options(**scoped)
    )
    ids = list(found.scalars())
    if ids:
        await session.execute(
            update(SyncRun)
            .where(*mine, SyncRun.id.in_(ids), SyncRun.status == "queued")
            .values(status="cancelled", finished_at=datetime.now(UTC), error=reason[:2000])
            .execution_options(**scoped)
        )
    return ids


async def runs_of(
    session: AsyncSession, tenant_id: str, connection_id: str, cursor: str | None, limit: int
) -> Sequence[SyncRun]:
    """A connection's runs, newest first."""
    stmt = (
        select(SyncRun)
        .where(SyncRun.tenant_id == tenant_id, SyncRun.connection_id == connection_id)
        .order_by(SyncRun.id.desc())
        .limit(limit)
        .execution_options(**{TENANT: tenant_id})
    )
    if cursor:
        stmt = stmt.where(SyncRun.id < cursor)
    return (await session.execute(stmt)).scalars().all()

"""Schedules: when each connection syncs by itself.

APScheduler's triggers compute the next slot (an interval, or a cron expression in a time
zone); the slots themselves live in the database, so they survive restarts and any number of
Gatehouse processes share them. A due schedule is claimed in a transaction (PostgreSQL: FOR
UPDATE SKIP LOCKED; SQLite: one writer at a time), so each slot fires exactly once. Slots missed
while nothing ran are coalesced into one run, and the next slot is computed from now.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from gatehouse.connections.models import Connection
from gatehouse.connectors.protocol import SyncMode
from gatehouse.db.engine import Database
from gatehouse.db.tenancy import ALL_TENANTS, TENANT
from gatehouse.kit.problems import Problem
from gatehouse.sync import runs
from gatehouse.sync.models import SyncRun, SyncSchedule
from gatehouse.tenants.status import inactive

MIN_INTERVAL = 60  # seconds; shorter schedules would hammer sources


@dataclass(frozen=True)
class ScheduleSpec:
    """A requested schedule, validated."""

    interval_seconds: int | None
    cron: str | None
    timezone: str
    mode: SyncMode


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise Problem(
            400, f"Unknown time zone {name!r}; use an IANA name such as 'Europe/Oslo' or 'UTC'."
        ) from None


def validate(spec: ScheduleSpec) -> CronTrigger | None:
    """Check a schedule; its cron trigger when it has one. A 400 names what is wrong."""
    zone = _zone(spec.timezone)
    if (spec.interval_seconds is None) == (spec.cron is None):
        raise Problem(400, "Give exactly one of interval_seconds or cron.")
    if spec.cron is None:
        if (spec.interval_seconds or 0) < MIN_INTERVAL:
            raise Problem(400, f"interval_seconds must be at least {MIN_INTERVAL}.")
        return None
    try:
        return CronTrigger.from_crontab(spec.cron, timezone=zone)
    except ValueError as exc:
        raise Problem(
            400,
            f"Invalid cron expression {spec.cron!r}: {exc}. Use five fields (minute hour "
            "day-of-month month day-of-week), e.g. '0 */6 * * *'.",
        ) from None


def following(spec: ScheduleSpec, slot: datetime, now: datetime) -> tuple[datetime, int]:
    """The first slot after `now` following the due `slot`, and how many slots were missed."""
    cron = validate(spec)
    if cron is None:
        step = timedelta(seconds=spec.interval_seconds or MIN_INTERVAL)
        passed = max(0, int((now - slot) / step)) + 1
        return slot + passed * step, passed - 1
    fired, nxt = 0, slot
    while nxt <= now and fired < 10_000:
        nxt = _after(cron, nxt + timedelta(seconds=1))
        fired += 1
    return nxt, max(0, fired - 1)


def _after(cron: CronTrigger, moment: datetime) -> datetime:
    fire: datetime | None = cron.get_next_fire_time(None, moment)
    assert fire is not None
    return fire.astimezone(UTC)


def first_slot(spec: ScheduleSpec, now: datetime) -> datetime:
    """A new schedule's first slot: one interval from now, or the cron's next time."""
    cron = validate(spec)
    if cron is None:
        return now + timedelta(seconds=spec.interval_seconds or MIN_INTERVAL)
    return _after(cron, now)


def spec_of(row: SyncSchedule) -> ScheduleSpec:
    """The spec stored in a schedule row."""
    return ScheduleSpec(row.interval_seconds, row.cron, row.timezone, SyncMode(row.mode))


async def set_schedule(
    session: AsyncSession, tenant_id: str, connection_id: str, spec: ScheduleSpec
) -> SyncSchedule:
    """Create or replace a connection's schedule; the first slot is computed from now."""
    first = first_slot(spec, datetime.now(UTC))
    row = await session.get(
        SyncSchedule, (tenant_id, connection_id), execution_options={TENANT: tenant_id}
    )
    if row is None:
        row = SyncSchedule(tenant_id=tenant_id, connection_id=connection_id, missed=0)
        session.add(row)
    row.interval_seconds, row.cron = spec.interval_seconds, spec.cron
    row.timezone, row.mode, row.enabled = spec.timezone, spec.mode.value, True
    row.next_run_at = first
    await session.flush()
    return row


async def remove_schedule(session: AsyncSession, tenant_id: str, connection_id: str) -> bool:
    """Drop a connection's schedule; False when it had none."""
    row = await session.get(
        SyncSchedule, (tenant_id, connection_id), execution_options={TENANT: tenant_id}
    )
    if row is None:
        return False
    await session.delete(row)
    return True


async def schedules(session: AsyncSession, tenant_id: str) -> Sequence[SyncSchedule]:
    """A tenant's schedules."""
    stmt = (
        select(SyncSchedule)
        .where(SyncSchedule.tenant_id == tenant_id)
        .order_by(SyncSchedule.next_run_at)
        .execution_options(**{TENANT: tenant_id})
    )
    return (await session.execute(stmt)).scalars().all()


async def reschedule_all(session: AsyncSession, tenant_id: str) -> int:
    """Recompute every schedule's next slot from now (after a clock or policy change)."""
    now, rows = datetime.now(UTC), await schedules(session, tenant_id)
    for row in rows:
        row.next_run_at, row.missed = first_slot(spec_of(row), now), 0
    return len(rows)


async def skip_past_slots(session: AsyncSession, tenant_id: str, connection_id: str) -> None:
    """Move a schedule whose slot has passed to its next slot after now, without firing it
    (a resumed connection runs at its next slot, not at once for the ones it missed)."""
    row = await session.get(
        SyncSchedule, (tenant_id, connection_id), execution_options={TENANT: tenant_id}
    )
    now = datetime.now(UTC)
    if row is not None and row.next_run_at is not None and row.next_run_at <= now:
        row.next_run_at, _ = following(spec_of(row), row.next_run_at, now)


async def _paused(session: AsyncSession, rows: Sequence[SyncSchedule]) -> set[str]:
    """The connections among the schedules' that are paused."""
    if not rows:
        return set()
    stmt = (
        select(Connection.tenant_id, Connection.id)
        .where(Connection.id.in_([r.connection_id for r in rows]), Connection.status == "paused")
        .execution_options(**{ALL_TENANTS: True})
    )
    return {f"{tenant}/{ident}" for tenant, ident in (await session.execute(stmt)).all()}


async def fire_due(db: Database, limit: int = 50) -> list[str]:
    """Queue a run for every due schedule; returns the queued run ids.

    The slot of a paused connection, or of a suspended or deleted tenant, is consumed without
    a run: it does not wait to fire when the connection or tenant is resumed.
    """
    now = datetime.now(UTC)
    queued: list[str] = []
    stmt = (
        select(SyncSchedule)
        .where(SyncSchedule.enabled.is_(True), SyncSchedule.next_run_at <= now)
        .order_by(SyncSchedule.next_run_at)
        .limit(limit)
        .execution_options(**{ALL_TENANTS: True})
    )
    async with db.transaction(write=False) as session:  # idle workers take no write lock
        if (await session.execute(stmt)).first() is None:
            return queued
    async with db.transaction() as session:
        if not db.is_sqlite:
            stmt = stmt.with_for_update(skip_locked=True)
        due = (await session.execute(stmt)).scalars().all()
        paused = await _paused(session, due)
        halted = await inactive(session, {r.tenant_id for r in due})
        for row in due:
            spec = spec_of(row)
            row.next_run_at, missed = following(spec, row.next_run_at or now, now)
            if f"{row.tenant_id}/{row.connection_id}" in paused or row.tenant_id in halted:
                continue
            row.last_fired_at = now
            try:
                run = await runs.enqueue(
                    session, row.tenant_id, row.connection_id, mode=spec.mode, trigger="schedule"
                )
            except runs.RunActive:
                row.missed += 1 + missed  # still running: this slot is coalesced away
                continue
            row.last_run_id, row.missed = run.id, row.missed + missed
            queued.append(run.id)
    return queued


async def stats(session: AsyncSession, tenant_id: str) -> dict[str, object]:
    """Scheduler statistics for a tenant."""
    scoped = {TENANT: tenant_id}
    rows = await schedules(session, tenant_id)
    by_status = dict(
        (
            await session.execute(
                select(SyncRun.status, func.count())
                .where(SyncRun.tenant_id == tenant_id)
                .group_by(SyncRun.status)
                .execution_options(**scoped)
            )
        ).all()
    )
    upcoming = [r.next_run_at for r in rows if r.enabled and r.next_run_at]
    return {
        "scheduled_connections": len(rows),
        "enabled": sum(1 for r in rows if r.enabled),
        "next_run_at": min(upcoming) if upcoming else None,
        "coalesced_slots": sum(r.missed for r in rows),
        "runs_by_status": {str(k): int(v) for k, v in by_status.items()},
    }

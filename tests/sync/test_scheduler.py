"""Schedules: validation, coalescing of missed slots, and exactly-once firing across processes."""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, update

from gatehouse.connectors.protocol import SyncMode
from gatehouse.db.tenancy import ALL_TENANTS, TENANT
from gatehouse.kit.problems import Problem
from gatehouse.sync import scheduler
from gatehouse.sync.models import SyncRun, SyncSchedule
from gatehouse.sync.scheduler import ScheduleSpec
from tests.conftest import BOTH, Harness

pytestmark = BOTH
HOURLY = ScheduleSpec(3600, None, "UTC", SyncMode.incremental)


async def _schedule(h: Harness, connection: str, spec: ScheduleSpec = HOURLY) -> SyncSchedule:
    async with h.svc.db.transaction() as s:
        return await scheduler.set_schedule(s, "acme", connection, spec)


async def _backdate(h: Harness, by: timedelta) -> datetime:
    due = datetime.now(UTC) - by
    async with h.svc.db.transaction() as s:
        await s.execute(
            update(SyncSchedule)
            .where(SyncSchedule.tenant_id == "acme")
            .values(next_run_at=due)
            .execution_options(**{TENANT: "acme"})
        )
    return due


async def _rows(h: Harness, model: type[Any]) -> list[Any]:
    async with h.svc.db.transaction(write=False) as s:
        stmt = select(model).execution_options(**{ALL_TENANTS: True})
        return list((await s.execute(stmt)).scalars().all())


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (ScheduleSpec(None, "61 * * * *", "UTC", SyncMode.full_refresh), "Invalid cron"),
        (ScheduleSpec(None, "0 * * * *", "Mars/Olympus", SyncMode.full_refresh), "time zone"),
        (ScheduleSpec(5, None, "UTC", SyncMode.full_refresh), "at least 60"),
        (ScheduleSpec(600, "0 * * * *", "UTC", SyncMode.full_refresh), "exactly one"),
    ],
)
async def test_bad_schedules_are_refused(
    harness: Harness, spec: ScheduleSpec, message: str
) -> None:
    await harness.tenant("acme")
    with pytest.raises(Problem) as caught:
        await _schedule(harness, "c1", spec)
    assert message in caught.value.detail
    assert await _rows(harness, SyncSchedule) == []


async def test_missed_slots_coalesce_into_one_run(harness: Harness) -> None:
    await harness.tenant("acme")
    await _schedule(harness, "c1")
    due = await _backdate(harness, timedelta(hours=3, minutes=30))
    queued = await scheduler.fire_due(harness.svc.db)
    assert len(queued) == 1
    (row,) = await _rows(harness, SyncSchedule)
    assert row.missed == 3
    assert row.next_run_at == due + timedelta(hours=4)  # slots stay on their grid
    assert await scheduler.fire_due(harness.svc.db) == []
    (run,) = await _rows(harness, SyncRun)
    assert (run.trigger, run.mode, run.status) == ("schedule", "incremental", "queued")


async def test_a_slot_while_the_last_run_is_active_is_skipped(harness: Harness) -> None:
    await harness.tenant("acme")
    await _schedule(harness, "c1")
    await _backdate(harness, timedelta(minutes=1))
    assert len(await scheduler.fire_due(harness.svc.db)) == 1
    await _backdate(harness, timedelta(minutes=1))
    assert await scheduler.fire_due(harness.svc.db) == []
    (row,) = await _rows(harness, SyncSchedule)
    assert row.missed == 1
    assert len(await _rows(harness, SyncRun)) == 1


async def test_cron_schedules_follow_their_time_zone(harness: Harness) -> None:
    await harness.tenant("acme")
    spec = ScheduleSpec(None, "30 2 * * *", "Europe/Oslo", SyncMode.full_refresh)
    row = await _schedule(harness, "c1", spec)
    assert row.next_run_at is not None
    local = row.next_run_at.astimezone(ZoneInfo("Europe/Oslo"))
    assert (local.hour, local.minute) == (2, 30)
    async with harness.svc.db.transaction() as s:
        assert await scheduler.reschedule_all(s, "acme") == 1
        stats = await scheduler.stats(s, "acme")
    assert stats["scheduled_connections"] == 1


async def test_each_slot_fires_once_across_processes(harness: Harness, database_url: str) -> None:
    await harness.tenant("acme")
    for n in range(20):
        await _schedule(harness, f"c{n}")
    await _backdate(harness, timedelta(seconds=5))
    script = Path(__file__).with_name("fire.py")
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            str(script),
            database_url,
            "3",
            stdout=asyncio.subprocess.PIPE,
            cwd=Path(__file__).parents[2],
        )
        for _ in range(3)
    ]
    fired = [int((await p.communicate())[0]) for p in procs]
    assert sum(fired) == 20
    async with harness.svc.db.transaction(write=False) as s:
        stmt = select(func.count(func.distinct(SyncRun.connection_id)), func.count())
        distinct, total = (await s.execute(stmt.execution_options(**{ALL_TENANTS: True}))).one()
    assert distinct == total == 20

"""The sync engine: batches with checkpoints, resume, retries, leases, deletions, dry runs."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update

from gatehouse.connectors.protocol import CheckFailure, ConnectorError, SyncMode
from gatehouse.db.engine import Database
from gatehouse.db.tenancy import TENANT
from gatehouse.identity.models import Identity, Membership, RecordVersion
from gatehouse.sync import runs
from gatehouse.sync.engine import Settings
from gatehouse.sync.models import SyncRun
from gatehouse.sync.plan import Job
from gatehouse.sync.worker import Worker
from tests.conftest import BOTH, Harness
from tests.sync.source import Rows, job, people

pytestmark = BOTH
FAST = Settings(lease_seconds=30, retries=2, backoff_seconds=0.01)


def _worker(h: Harness, the_job: Job, **kw: Any) -> Worker:
    async def jobs(_db: Database, _run: SyncRun) -> Job:
        return the_job

    return Worker(h.svc.db, jobs, kw.pop("settings", FAST), **kw)


async def _queue(h: Harness, mode: SyncMode = SyncMode.full_refresh, **kw: Any) -> str:
    async with h.svc.db.transaction() as s:
        run = await runs.enqueue(s, "acme", "conn-1", mode=mode, trigger="api", **kw)
        return run.id


async def _run(h: Harness, run_id: str) -> SyncRun:
    async with h.svc.db.transaction(write=False) as s:
        found = await s.get(SyncRun, run_id, execution_options={TENANT: "acme"})
        assert found is not None
        return found


async def _count(h: Harness, model: type[Any], *where: Any) -> int:
    async with h.svc.db.transaction(write=False) as s:
        stmt = select(func.count()).select_from(model).where(model.tenant_id == "acme", *where)
        return int((await s.execute(stmt.execution_options(**{TENANT: "acme"}))).scalar_one())


def _org(n: int = 5) -> Rows:
    return Rows(
        {
            "people": people(n),
            "groups": [{"id": "g1", "name": "Eng", "updated": 1}],
            "members": [
                {"id": f"m{i}", "group": "g1", "member": f"p{i:03}", "updated": 1} for i in range(n)
            ],
        }
    )


async def test_a_full_run_fills_the_store(harness: Harness) -> None:
    await harness.tenant("acme")
    rows = _org()
    run_id = await _queue(harness)
    assert await _worker(harness, job(rows)).run_once() == run_id
    run = await _run(harness, run_id)
    assert run.status == "succeeded", run.error
    assert run.counts["identity"] == {"read": 5, "created": 5}
    assert run.counts["membership"] == {"read": 5, "created": 5}
    assert await _count(harness, Identity) == 5
    assert await _count(harness, Membership) == 5
    assert all(p["done"] for p in run.progress.values())
    assert run.lease_owner is None and run.finished_at is not None


async def test_transient_errors_retry_from_the_last_checkpoint(harness: Harness) -> None:
    await harness.tenant("acme")
    rows = _org()
    rows.fail_at["people"] = 1  # the second batch fails once
    run_id = await _queue(harness)
    await _worker(harness, job(rows)).run_once()
    run = await _run(harness, run_id)
    assert run.status == "succeeded", run.error
    people_reads = [state for stream, _, state in rows.reads if stream == "people"]
    assert people_reads == [None, {"after": [1, "p001"]}]
    assert await _count(harness, Identity) == 5
    assert await _count(harness, RecordVersion, RecordVersion.record_type == "identity") == 5


async def test_a_permanent_error_fails_the_run_and_names_the_stream(harness: Harness) -> None:
    await harness.tenant("acme")
    rows = _org()
    rows.fail_at["groups"] = 0
    rows.fail_with = ConnectorError(CheckFailure.permission, "permission denied for table groups")
    run_id = await _queue(harness)
    await _worker(harness, job(rows)).run_once()
    run = await _run(harness, run_id)
    assert run.status == "failed"
    assert "groups" in (run.error or "") and "permission denied" in (run.error or "")
    assert run.progress["people"]["done"] is True  # committed work stays, and is recorded


async def test_a_crashed_worker_is_resumed_by_another_without_duplicates(harness: Harness) -> None:
    await harness.tenant("acme")
    rows = _org(7)
    rows.fail_at["people"] = 2
    rows.fail_with = asyncio.CancelledError()  # the worker dies mid-run: nothing is recorded
    run_id = await _queue(harness)
    with pytest.raises(asyncio.CancelledError):
        await _worker(harness, job(rows), owner="first").run_once()
    crashed = await _run(harness, run_id)
    assert (crashed.status, crashed.lease_owner) == ("running", "first")
    assert crashed.progress["people"]["state"] == {"after": [1, "p003"]}
    assert await _worker(harness, job(rows), owner="second").run_once() is None  # leased
    async with harness.svc.db.transaction() as s:
        expired = datetime.now(UTC) - timedelta(seconds=1)
        await s.execute(
            update(SyncRun)
            .where(SyncRun.tenant_id == "acme", SyncRun.id == run_id)
            .values(lease_expires_at=expired)
            .execution_options(**{TENANT: "acme"})
        )
    assert await _worker(harness, job(rows), owner="second").run_once() == run_id
    run = await _run(harness, run_id)
    assert (run.status, run.attempts) == ("succeeded", 2)
    assert rows.reads[-3][2] == {"after": [1, "p003"]}  # resumed after the 2 committed batches
    assert run.counts["identity"]["created"] == 7
    assert await _count(harness, RecordVersion, RecordVersion.record_type == "identity") == 7


async def test_a_worker_that_lost_its_lease_writes_nothing_more(harness: Harness) -> None:
    await harness.tenant("acme")
    run_id = await _queue(harness)
    claimed = await runs.claim(harness.svc.db, "slow", 30)
    assert claimed is not None
    async with harness.svc.db.transaction() as s:  # another worker took the run over
        await s.execute(
            update(SyncRun)
            .where(SyncRun.tenant_id == "acme", SyncRun.id == run_id)
            .values(lease_owner="other")
            .execution_options(**{TENANT: "acme"})
        )
    await _worker(harness, job(_org())).execute(*claimed)
    assert await _count(harness, Identity) == 0
    assert (await _run(harness, run_id)).lease_owner == "other"


async def test_runs_of_one_connection_never_overlap(harness: Harness) -> None:
    await harness.tenant("acme")
    await _queue(harness)
    with pytest.raises(runs.RunActive):
        await _queue(harness)


async def test_incremental_runs_continue_from_the_saved_cursor(harness: Harness) -> None:
    await harness.tenant("acme")
    rows = Rows({"people": people(4)})
    await _queue(harness, SyncMode.incremental)
    await _worker(harness, job(rows)).run_once()
    rows.streams["people"][1].update(title="Lead", updated=2)
    second = await _queue(harness, SyncMode.incremental)
    await _worker(harness, job(rows)).run_once()
    assert rows.reads[-1] == ("people", "incremental", {"after": [1, "p003"]})
    assert (await _run(harness, second)).counts["identity"] == {"read": 1, "updated": 1}


async def test_rejected_records_are_sampled_or_fail_the_run(harness: Harness) -> None:
    await harness.tenant("acme")
    rows = Rows({"people": [*people(3), {"id": "p9", "bad": True, "updated": 1}]})
    first = await _queue(harness)
    await _worker(harness, job(rows)).run_once()
    run = await _run(harness, first)
    assert run.status == "succeeded"
    assert run.error_samples == [
        {"stream": "people", "record": "p9", "error": "email is not an e-mail address"}
    ]
    strict = await _queue(harness)
    await _worker(harness, job(rows, on_error="fail")).run_once()
    assert (await _run(harness, strict)).status == "failed"


async def test_a_source_that_returns_nothing_is_refused(harness: Harness) -> None:
    await harness.tenant("acme")
    rows = Rows({"people": people(10)})
    await _queue(harness)
    await _worker(harness, job(rows)).run_once()
    rows.streams["people"] = people(1)
    refused = await _queue(harness)
    await _worker(harness, job(rows)).run_once()
    run = await _run(harness, refused)
    assert run.status == "refused"
    assert "9 of 10" in (run.error or "")
    assert await _count(harness, Identity, Identity.status == "active") == 10
    confirmed = await _queue(harness, confirm_deletes=True)
    await _worker(harness, job(rows)).run_once()
    assert (await _run(harness, confirmed)).counts["identity"]["deleted"] == 9


async def test_a_dry_run_reports_and_writes_nothing(harness: Harness) -> None:
    await harness.tenant("acme")
    rows = _org()
    dry = await _queue(harness, dry_run=True)
    await _worker(harness, job(rows)).run_once()
    run = await _run(harness, dry)
    assert run.status == "succeeded"
    assert run.counts["identity"]["created"] == 5
    assert run.counts["membership"]["created"] == 5
    assert await _count(harness, Identity) == 0

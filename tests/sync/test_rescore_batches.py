"""A sync's rescoring: only what moved, also after a resume, in short transactions."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update

from gatehouse.connectors.protocol import SyncMode
from gatehouse.db.engine import Database
from gatehouse.db.tenancy import TENANT
from gatehouse.identity.models import Identity
from gatehouse.sync import rescoring, runs
from gatehouse.sync.engine import Settings
from gatehouse.sync.models import PendingRescore, SyncRun
from gatehouse.sync.plan import Job
from gatehouse.sync.worker import Worker
from tests.conftest import BOTH, Harness
from tests.sync.source import Rows, job, people

pytestmark = BOTH
SCOPED = {TENANT: "acme"}


def _worker(h: Harness, the_job: Job, owner: str, settings: Settings) -> Worker:
    async def jobs(_db: Database, _run: SyncRun) -> Job:
        return the_job

    return Worker(h.svc.db, jobs, settings, owner=owner)


async def _queue(h: Harness) -> str:
    async with h.svc.db.transaction() as s:
        return (
            await runs.enqueue(s, "acme", "conn-1", mode=SyncMode.full_refresh, trigger="api")
        ).id


async def _scores(h: Harness) -> dict[str, int]:
    async with h.svc.db.transaction(write=False) as s:
        stmt = select(Identity.user_name, Identity.risk_score).where(Identity.tenant_id == "acme")
        return {a: b for a, b in (await s.execute(stmt.execution_options(**SCOPED))).all()}


async def _ids(h: Harness) -> dict[str, str]:
    async with h.svc.db.transaction(write=False) as s:
        stmt = select(Identity.id, Identity.user_name).where(Identity.tenant_id == "acme")
        return {a: b for a, b in (await s.execute(stmt.execution_options(**SCOPED))).all()}


async def test_a_resumed_run_rescores_what_moved_in_short_transactions(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    await harness.tenant("acme")
    quick = Settings(lease_seconds=30, retries=0, backoff_seconds=0.01)
    rows = Rows(
        {"people": people(9), "groups": [{"id": "g1", "name": "Domain Admins", "updated": 1}]}
    )
    first = await _queue(harness)
    assert await _worker(harness, job(rows), "w0", quick).run_once() == first
    assert set((await _scores(harness)).values()) == {0}

    # Six people join the admin group; the worker dies after two batches of memberships.
    rows.streams["members"] = [
        {"id": f"m{i}", "group": "g1", "member": f"p{i:03}", "updated": 1} for i in range(6)
    ]
    rows.fail_at["members"] = 2
    rows.fail_with = asyncio.CancelledError()
    run_id = await _queue(harness)
    with pytest.raises(asyncio.CancelledError):
        await _worker(harness, job(rows), "w1", quick).run_once()
    async with harness.svc.db.transaction() as s:
        count = select(func.count()).select_from(PendingRescore)
        assert (await s.execute(count.execution_options(**SCOPED))).scalar_one() == 4
        await s.execute(
            update(SyncRun)
            .where(SyncRun.tenant_id == "acme", SyncRun.id == run_id)
            .values(lease_expires_at=datetime.now(UTC) - timedelta(seconds=1))
            .execution_options(**SCOPED)
        )

    rescored: list[list[str]] = []
    real = rescoring.rescore

    async def spy(session: Any, tenant: str, ids: list[str]) -> int:
        rescored.append(list(ids))
        return await real(session, tenant, ids)

    monkeypatch.setattr(rescoring, "rescore", spy)
    names = await _ids(harness)
    bystander = next(i for i, n in names.items() if n == "user8")
    written: list[str] = []

    async def another_writer() -> None:
        """A SCIM-like write between two rescoring batches: it gets the store at once."""
        label = f"edited {len(written)}"
        async with harness.svc.db.transaction() as s:
            await s.execute(
                update(Identity)
                .where(Identity.tenant_id == "acme", Identity.id == bystander)
                .values(display_name=label)
                .execution_options(**SCOPED)
            )
        written.append(label)

    resume = Settings(
        lease_seconds=30,
        retries=0,
        backoff_seconds=0.01,
        rescore_batch=2,
        after_rescore_batch=another_writer,
    )
    assert await _worker(harness, job(rows), "w2", resume).run_once() == run_id

    # Exactly the six who moved, two per transaction; the other three were left alone.
    assert [len(part) for part in rescored] == [2, 2, 2]
    assert {names[i] for part in rescored for i in part} == {f"user{i}" for i in range(6)}
    scores = await _scores(harness)
    assert {n: s for n, s in scores.items() if s} == {f"user{i}": 40 for i in range(6)}
    assert written == ["edited 0", "edited 1", "edited 2"]
    async with harness.svc.db.transaction(write=False) as s:
        found = await s.get(Identity, bystander, execution_options=SCOPED)
        assert found is not None and found.display_name == "edited 2"
        count = select(func.count()).select_from(PendingRescore)
        assert (await s.execute(count.execution_options(**SCOPED))).scalar_one() == 0
        run = await s.get(SyncRun, run_id, execution_options=SCOPED)
        assert run is not None and run.status == "succeeded", run.error

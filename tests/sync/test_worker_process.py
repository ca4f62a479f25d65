"""`gatehouse worker` processes: one killed with SIGKILL mid-run, another resumes the run."""

from __future__ import annotations

import asyncio
import signal
import subprocess
from typing import Any

from sqlalchemy import func, select

from gatehouse.config import Settings
from gatehouse.db.tenancy import TENANT
from gatehouse.identity.models import Identity, RecordVersion
from gatehouse.sync.models import SyncRun
from tests.conftest import BOTH, Harness, started, worker_process
from tests.sync.source import sqlite_people

pytestmark = BOTH
ROWS = 12_000
PEOPLE = {
    "kind": "identity",
    "external_id": "id",
    "fields": {"user_name": "login", "email": {"from": "email", "steps": ["email"]}},
}


def _worker(settings: Settings) -> subprocess.Popen[bytes]:
    return worker_process(
        settings,
        GATEHOUSE_SYNC_LEASE_SECONDS="5",
        GATEHOUSE_WORKER_POLL_SECONDS="0.2",
        # Sync only: a webhook dispatch waiting on SQLite's write lock, shared with the test's
        # server, can delay the exit this test waits for (tests/webhooks covers the worker's
        # deliveries).
        GATEHOUSE_WEBHOOKS_WORKER="false",
    )


async def _run(h: Harness, run_id: str) -> SyncRun:
    async with h.svc.db.transaction(write=False) as s:
        found = await s.get(SyncRun, run_id, execution_options={TENANT: "acme"})
        assert found is not None
        return found


async def _until(h: Harness, run_id: str, done: Any, seconds: float = 90) -> SyncRun:
    for _ in range(int(seconds / 0.05)):
        run = await _run(h, run_id)
        if done(run):
            return run
        await asyncio.sleep(0.05)
    raise AssertionError(f"run {run_id} never got there: {run.status} {run.progress}")


async def _count(h: Harness, model: type[Any], *where: Any) -> int:
    async with h.svc.db.transaction(write=False) as s:
        stmt = select(func.count()).select_from(model).where(model.tenant_id == "acme", *where)
        return int((await s.execute(stmt.execution_options(**{TENANT: "acme"}))).scalar_one())


async def test_a_killed_worker_s_run_is_resumed_by_another(settings: Settings) -> None:
    async with started(settings) as h:
        await h.tenant("acme")
        auth = h.auth(await h.token("acme", "connections:write"))
        sqlite_people(settings.home, ROWS)
        made = await h.client.post(
            "/pip/connections",
            json={
                "name": "hr",
                "type": "sqlite",
                "config": {"path": "hr.db", "batch_size": 1000},
            },
            headers=auth,
        )
        assert made.status_code == 201, made.text
        cid = made.json()["id"]
        mapping = {"streams": {"people": {"transform": PEOPLE}}}
        mapped = await h.client.put(f"/pip/connections/{cid}/mapping", json=mapping, headers=auth)
        assert mapped.status_code == 200, mapped.text
        first = _worker(settings)
        try:
            queued = await h.client.post(
                f"/pip/connections/{cid}/trigger-sync", json={"mode": "full_refresh"}, headers=auth
            )
            run_id = queued.json()["id"]
            await _until(h, run_id, lambda r: (r.progress.get("people") or {}).get("state"))
            first.send_signal(signal.SIGKILL)
            first.wait(10)
        finally:
            if first.poll() is None:
                first.kill()
        crashed = await _run(h, run_id)
        assert crashed.status == "running"
        assert not crashed.progress["people"]["done"]
        second = _worker(settings)
        try:
            run = await _until(h, run_id, lambda r: r.status != "running")
        finally:
            second.send_signal(signal.SIGTERM)
            second.wait(20)
        assert (run.status, run.attempts) == ("succeeded", 2), run.error
        assert run.counts["identity"]["created"] == ROWS
        assert await _count(h, Identity) == ROWS
        versions = RecordVersion.record_type == "identity"
        assert await _count(h, RecordVersion, versions) == ROWS  # nothing applied twice

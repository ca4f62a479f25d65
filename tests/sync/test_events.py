"""`sync.started`, `sync.completed` and `sync.failed`: real runs of a SQLite source, in the
outbox with the run's own transaction, each one's data valid against its catalog schema."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from gatehouse.connectors.protocol import SyncMode
from gatehouse.db.tenancy import TENANT
from gatehouse.sync import runs
from gatehouse.sync.models import SyncRun
from gatehouse.sync.tally import Tally
from gatehouse.sync.tasks import make_worker
from tests.conftest import BOTH, Harness
from tests.events.outbox import events, payloads
from tests.sync.source import sqlite_people as source

pytestmark = BOTH
PEOPLE = {
    "kind": "identity",
    "external_id": "id",
    "fields": {"user_name": "login", "email": {"from": "email", "steps": ["email"]}},
}


async def connection(h: Harness, auth: dict[str, str]) -> str:
    """A SQLite connection mapping `people` to identities; its id."""
    made = await h.client.post(
        "/pip/connections",
        json={"name": "hr", "type": "sqlite", "config": {"path": "hr.db"}},
        headers=auth,
    )
    assert made.status_code == 201, made.text
    cid = str(made.json()["id"])
    mapping = {"streams": {"people": {"transform": PEOPLE}}}
    mapped = await h.client.put(f"/pip/connections/{cid}/mapping", json=mapping, headers=auth)
    assert mapped.status_code == 200, mapped.text
    return cid


async def sync(h: Harness, cid: str, auth: dict[str, str], mode: str) -> str:
    """Trigger a run and let a worker do it; the run's id."""
    queued = await h.client.post(
        f"/pip/connections/{cid}/trigger-sync", json={"mode": mode}, headers=auth
    )
    assert queued.status_code == 202, queued.text
    run_id = str(queued.json()["id"])
    assert await make_worker(h.svc).run_once() == run_id
    return run_id


async def test_a_run_announces_its_start_and_its_counts(harness: Harness) -> None:
    """A full run then an incremental one: started and completed, with counts and mode."""
    await harness.tenant("acme")
    auth = harness.auth(await harness.token("acme", "connections:write"))
    source(harness.svc.settings.home)
    cid = await connection(harness, auth)
    first = await sync(harness, cid, auth, "full_refresh")
    source(harness.svc.settings.home, people=7)
    second = await sync(harness, cid, auth, "incremental")
    db = harness.svc.db
    assert [e.type for e in await events(db, "acme", "sync.")] == [
        "sync.started",
        "sync.completed",
        "sync.started",
        "sync.completed",
    ]
    started = await payloads(db, "acme", "sync.started")
    assert [(s["run_id"], s["mode"]) for s in started] == [
        (first, "full_refresh"),
        (second, "incremental"),
    ]
    assert started[0]["connection_id"] == cid and started[0]["trigger"] == "api"
    done = await payloads(db, "acme", "sync.completed")
    assert (done[0]["run_id"], done[0]["connection_id"], done[0]["mode"]) == (
        first,
        cid,
        "full_refresh",
    )
    assert (done[0]["created"], done[0]["updated"], done[0]["deleted"], done[0]["errors"]) == (
        5,
        0,
        0,
        0,
    )
    assert done[0]["counts"]["identity"]["created"] == 5
    assert done[0]["duration_seconds"] >= 0
    assert (done[1]["mode"], done[1]["created"]) == ("incremental", 2)


async def test_a_failed_run_announces_why(harness: Harness) -> None:
    """A run of a table dropped from the source ends in `sync.failed` with the error."""
    await harness.tenant("acme")
    auth = harness.auth(await harness.token("acme", "connections:write"))
    path = source(harness.svc.settings.home)
    cid = await connection(harness, auth)
    with sqlite3.connect(path) as conn:
        conn.execute("DROP TABLE people")
    run_id = await sync(harness, cid, auth, "full_refresh")
    db = harness.svc.db
    assert [e.type for e in await events(db, "acme", "sync.")] == ["sync.started", "sync.failed"]
    (failed,) = await payloads(db, "acme", "sync.failed")
    assert (failed["run_id"], failed["connection_id"], failed["status"]) == (
        run_id,
        cid,
        "failed",
    )
    assert "people" in failed["error"], failed


async def _expire(h: Harness, run_id: str) -> None:
    past = datetime.now(UTC) - timedelta(seconds=1)
    async with h.svc.db.transaction() as s:
        await s.execute(
            update(SyncRun)
            .where(SyncRun.tenant_id == "acme", SyncRun.id == run_id)
            .values(lease_expires_at=past)
            .execution_options(**{TENANT: "acme"})
        )


async def test_a_resumed_run_starts_once_and_a_lost_lease_reports_nothing(
    harness: Harness,
) -> None:
    """A run taken over by a second worker is one start; the first worker's late finish,
    which no longer holds the run, writes nothing and so emits nothing."""
    await harness.tenant("acme")
    db = harness.svc.db
    async with db.transaction() as s:
        run = await runs.enqueue(s, "acme", "conn-1", mode=SyncMode.full_refresh, trigger="api")
    assert await events(db, "acme", "sync.") == []  # queued is not started
    first = await runs.claim(db, "worker-a", 60)
    assert first is not None
    await _expire(harness, run.id)
    second = await runs.claim(db, "worker-b", 60)
    assert second is not None and second[1].id == run.id
    assert not await runs.finish(db, first[1], "succeeded", Tally())
    assert [e.type for e in await events(db, "acme", "sync.")] == ["sync.started"]
    assert await runs.finish(db, second[1], "succeeded", Tally())
    assert [e.type for e in await events(db, "acme", "sync.")] == [
        "sync.started",
        "sync.completed",
    ]

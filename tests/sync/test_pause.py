"""Paused connections: slots pass without runs, queued runs are cancelled, triggers answer 409."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, update

from gatehouse.audit.context import Actor
from gatehouse.connections.service import change_status
from gatehouse.connectors.protocol import SyncMode
from gatehouse.db.tenancy import TENANT
from gatehouse.sync import runs, scheduler
from gatehouse.sync.models import SyncRun, SyncSchedule
from gatehouse.sync.tasks import make_worker
from tests.conftest import BOTH, Harness
from tests.connectors.conftest import pg_source_db
from tests.sync.test_api import _connection, _trigger, app

__all__ = ["app", "pg_source_db"]
pytestmark = BOTH


async def _backdate(h: Harness, cid: str, by: timedelta) -> datetime:
    due = datetime.now(UTC) - by
    async with h.svc.db.transaction() as s:
        await s.execute(
            update(SyncSchedule)
            .where(SyncSchedule.tenant_id == "acme", SyncSchedule.connection_id == cid)
            .values(next_run_at=due)
            .execution_options(**{TENANT: "acme"})
        )
    return due


async def _schedule(h: Harness, cid: str) -> SyncSchedule:
    async with h.svc.db.transaction(write=False) as s:
        row = await s.get(SyncSchedule, ("acme", cid), execution_options={TENANT: "acme"})
        assert row is not None
        return row


async def _runs(h: Harness, cid: str) -> list[SyncRun]:
    async with h.svc.db.transaction(write=False) as s:
        stmt = select(SyncRun).where(SyncRun.tenant_id == "acme", SyncRun.connection_id == cid)
        found = await s.execute(stmt.order_by(SyncRun.id).execution_options(**{TENANT: "acme"}))
        return list(found.scalars())


async def _status(h: Harness, cid: str, auth: dict[str, str], status: str) -> dict[str, Any]:
    resp = await h.client.put(f"/pip/connections/{cid}", json={"status": status}, headers=auth)
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


async def test_a_paused_connection_does_not_sync_until_resumed(
    app: Harness, pg_source_db: str
) -> None:
    await app.tenant("acme")
    auth = app.auth(await app.token("acme", "connections:write", "audit:read"))
    cid = await _connection(app, auth, pg_source_db)
    c = app.client
    made = await c.post(
        f"/pip/connections/{cid}/schedule-sync", json={"interval_seconds": 3600}, headers=auth
    )
    assert made.status_code == 200, made.text
    queued = await _trigger(app, cid, auth, mode="full_refresh")

    assert (await _status(app, cid, auth, "paused"))["status"] == "paused"
    (cancelled,) = await _runs(app, cid)
    assert (cancelled.id, cancelled.status) == (queued["id"], "cancelled")
    assert cancelled.error is not None and "paused" in cancelled.error
    assert '"status": "active"' in cancelled.error and "connect resume" in cancelled.error
    status = (await c.get(f"/pip/connections/{cid}/sync-status", headers=auth)).json()
    assert status["paused"] is True
    assert status["last_run"]["status"] == "cancelled"

    refused = await c.post(f"/pip/connections/{cid}/trigger-sync", headers=auth)
    assert refused.status_code == 409
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert "paused" in refused.json()["detail"] and "resume" in refused.json()["detail"]
    assert refused.json()["connection_status"] == "paused"

    # Three slots pass while paused: each is consumed, none is queued.
    due = await _backdate(app, cid, timedelta(hours=2, minutes=30))
    assert await scheduler.fire_due(app.svc.db) == []
    consumed = await _schedule(app, cid)
    assert consumed.next_run_at == due + timedelta(hours=3)
    assert consumed.last_run_id is None
    assert [r.status for r in await _runs(app, cid)] == ["cancelled"]
    assert await make_worker(app.svc).run_once() is None

    # Resumed: the slots that passed meanwhile do not fire at once; the next one runs.
    await _backdate(app, cid, timedelta(minutes=90))
    resumed = await _status(app, cid, auth, "active")
    assert resumed["status"] == "active"
    later = await _schedule(app, cid)
    assert later.next_run_at is not None and later.next_run_at > datetime.now(UTC)
    assert await scheduler.fire_due(app.svc.db) == []
    assert (await c.get(f"/pip/connections/{cid}/sync-status", headers=auth)).json()[
        "paused"
    ] is False
    await _backdate(app, cid, timedelta(seconds=1))
    (fired,) = await scheduler.fire_due(app.svc.db)
    assert await make_worker(app.svc).run_once() == fired
    last = (await c.get(f"/pip/connections/{cid}/sync-status", headers=auth)).json()["last_run"]
    assert (last["id"], last["status"], last["trigger"]) == (fired, "succeeded", "schedule")

    audit = (await c.get("/pip/audit/logs", headers=auth)).json()["items"]
    actions = [e["action"] for e in audit]
    assert "sync.cancel" in actions and actions.count("connection.update") == 2
    refusal = next(e for e in audit if e["action"] == "sync.trigger" and e["outcome"] != "success")
    assert refusal["after"]["status"] == 409


async def test_a_run_queued_before_the_pause_is_cancelled_when_claimed(
    app: Harness, pg_source_db: str
) -> None:
    """A run that slipped in (queued by another process as the pause committed) ends
    cancelled, without reading the source."""
    await app.tenant("acme")
    auth = app.auth(await app.token("acme", "connections:write", "identities:read"))
    cid = await _connection(app, auth, pg_source_db)
    await _status(app, cid, auth, "paused")
    async with app.svc.db.transaction() as s:
        run = await runs.enqueue(s, "acme", cid, mode=SyncMode.full_refresh, trigger="schedule")
        run_id = run.id
    assert await make_worker(app.svc).run_once() == run_id
    (done,) = await _runs(app, cid)
    assert done.status == "cancelled"
    assert done.error is not None and "paused" in done.error
    people = await app.client.get("/v1/identities", headers=auth)
    assert (people.status_code, people.json()["items"]) == (200, [])


async def test_pausing_is_a_write_of_this_tenant(app: Harness, pg_source_db: str) -> None:
    await app.tenant("acme")
    await app.tenant("other")
    auth = app.auth(await app.token("acme", "connections:write"))
    cid = await _connection(app, auth, pg_source_db)
    stranger = app.auth(await app.token("other", "connections:write"))
    body = {"status": "paused"}
    assert (
        await app.client.put(f"/pip/connections/{cid}", json=body, headers=stranger)
    ).status_code == 404
    reader = app.auth(await app.token("acme", "connections:read"))
    assert (
        await app.client.put(f"/pip/connections/{cid}", json=body, headers=reader)
    ).status_code == 403
    wrong = await app.client.put(
        f"/pip/connections/{cid}", json={"status": "sleeping"}, headers=auth
    )
    assert wrong.status_code == 422
    async with app.svc.db.transaction() as s:
        row, cancelled = await change_status(s, Actor("acme", "test"), cid, "paused")
    assert (row.status, cancelled) == ("paused", [])

"""Suspended and deleted tenants: the real scheduler and worker run nothing for them, and a
deleted tenant's sealed credentials are destroyed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from gatehouse.audit.models import AuditEntry
from gatehouse.connections.models import Connection
from gatehouse.connectors.protocol import SyncMode
from gatehouse.db.tenancy import ALL_TENANTS, TENANT
from gatehouse.secrets.models import Secret
from gatehouse.sync import runs, scheduler
from gatehouse.sync.models import SyncRun, SyncSchedule
from gatehouse.sync.tasks import make_worker
from gatehouse.tenants.models import PLATFORM
from tests.conftest import BOTH, Harness
from tests.connectors.conftest import pg_source_db
from tests.sync.test_api import _connection, _trigger, app

__all__ = ["app", "pg_source_db"]
pytestmark = BOTH
ANY = {ALL_TENANTS: True}


async def _backdate(h: Harness, cid: str) -> None:
    async with h.svc.db.transaction() as s:
        await s.execute(
            update(SyncSchedule)
            .where(SyncSchedule.tenant_id == "acme", SyncSchedule.connection_id == cid)
            .values(next_run_at=datetime.now(UTC) - timedelta(hours=2, minutes=30))
            .execution_options(**{TENANT: "acme"})
        )


async def _statuses(h: Harness, cid: str) -> list[str]:
    async with h.svc.db.transaction(write=False) as s:
        stmt = select(SyncRun.status).where(SyncRun.connection_id == cid).order_by(SyncRun.id)
        return list((await s.execute(stmt.execution_options(**ANY))).scalars())


async def _queue_behind_the_api(h: Harness, cid: str) -> str:
    """A run queued as another process suspends the tenant (the race the worker must catch)."""
    async with h.svc.db.transaction() as s:
        run = await runs.enqueue(s, "acme", cid, mode=SyncMode.full_refresh, trigger="api")
        return run.id


async def _scheduled(h: Harness, auth: dict[str, str], cid: str) -> None:
    made = await h.client.post(
        f"/pip/connections/{cid}/schedule-sync", json={"interval_seconds": 3600}, headers=auth
    )
    assert made.status_code == 200, made.text


async def test_a_suspended_tenant_gets_no_syncs_until_reactivated(
    app: Harness, pg_source_db: str
) -> None:
    await app.tenant("acme")
    auth = app.auth(await app.token("acme", "connections:write"))
    root = app.auth(await app.token(PLATFORM, "platform:admin"))
    cid = await _connection(app, auth, pg_source_db)
    await _scheduled(app, auth, cid)
    queued = await _trigger(app, cid, auth, mode="full_refresh")

    r = await app.client.patch("/v1/tenants/acme", json={"status": "suspended"}, headers=root)
    assert r.status_code == 200, r.text
    assert await _statuses(app, cid) == ["cancelled"]  # the queued run went with the suspension
    async with app.svc.db.transaction(write=False) as s:
        run = await s.get(SyncRun, queued["id"], execution_options={TENANT: "acme"})
        assert run is not None and run.error == "the tenant was suspended"

    # Slots pass while suspended: consumed, none queued; a run slipped in is cancelled.
    await _backdate(app, cid)
    assert await scheduler.fire_due(app.svc.db) == []
    slipped = await _queue_behind_the_api(app, cid)
    worker = make_worker(app.svc)
    assert await worker.run_once() == slipped
    assert await _statuses(app, cid) == ["cancelled", "cancelled"]
    assert await worker.run_once() is None

    r = await app.client.patch("/v1/tenants/acme", json={"status": "active"}, headers=root)
    assert r.status_code == 200, r.text
    await _backdate(app, cid)
    (fired,) = await scheduler.fire_due(app.svc.db)
    assert await worker.run_once() == fired
    assert await _statuses(app, cid) == ["cancelled", "cancelled", "succeeded"]


async def test_a_deleted_tenant_runs_nothing_and_its_credentials_are_destroyed(
    app: Harness, pg_source_db: str
) -> None:
    await app.tenant("acme")
    await app.tenant("other")
    auth = app.auth(await app.token("acme", "connections:write", "secrets:write"))
    other = app.auth(await app.token("other", "secrets:write"))
    root = app.auth(await app.token(PLATFORM, "platform:admin"))
    config = {
        "host": "127.0.0.1",
        "database": pg_source_db,
        "user": "postgres",
        "password": "hunter2",
        "tls_mode": "disable",
    }
    made = await app.client.post(
        "/pip/connections",
        json={"name": "db", "type": "postgresql", "config": config},
        headers=auth,
    )
    assert made.status_code == 201, made.text
    cid = made.json()["id"]
    await _scheduled(app, auth, cid)
    for who in (auth, other):
        put = await app.client.put("/v1/secrets/ldap", json={"value": "s3cret"}, headers=who)
        assert put.status_code == 201, put.text
    async with app.svc.db.transaction(write=False) as s:
        row = await s.get(Connection, cid, execution_options=ANY)
        assert row is not None and row.credentials

    assert (await app.client.delete("/v1/tenants/acme", headers=root)).status_code == 204

    await _backdate(app, cid)
    assert await scheduler.fire_due(app.svc.db) == []
    slipped = await _queue_behind_the_api(app, cid)
    assert await make_worker(app.svc).run_once() == slipped
    assert await _statuses(app, cid) == ["cancelled"]
    async with app.svc.db.transaction(write=False) as s:
        row = await s.get(Connection, cid, execution_options=ANY)
        assert row is not None and row.credentials == {}
        left = await s.execute(select(Secret.tenant_id).execution_options(**ANY))
        assert list(left.scalars()) == ["other"]  # only the other tenant's secret remains
        stmt = select(AuditEntry).where(AuditEntry.action == "tenant.credentials.destroy")
        (entry,) = (await s.execute(stmt.execution_options(**ANY))).scalars()
    assert entry.target_id == "acme"
    assert entry.after is not None
    assert entry.after["sealed_values_destroyed"] == {"connections": 1, "secrets": 1}

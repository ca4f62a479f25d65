"""The sync routes: trigger, status, runs, schedules, jobs; a real PostgreSQL source end to end."""

from __future__ import annotations

import ipaddress
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from gatehouse.config import Settings
from gatehouse.sync.tasks import make_worker
from tests.conftest import BOTH, Harness, started
from tests.connectors.conftest import pg_source_db

__all__ = ["pg_source_db"]
pytestmark = BOTH

STAFF = {
    "kind": "identity",
    "external_id": "id",
    "fields": {
        "user_name": {"from": "login", "steps": ["trim", "lower"]},
        "email": {"from": "email", "steps": ["email"]},
        "title": "title",
    },
}
TEAMS = {"kind": "group", "external_id": "id", "fields": {"display_name": "name"}}
MEMBERS = {
    "kind": "membership",
    "external_id": "id",
    "fields": {"group": "team_id", "member": "staff_id"},
}


@pytest.fixture
async def app(settings: Settings, pg_source_db: str) -> AsyncIterator[Harness]:
    """An app that may reach loopback, with staff, teams and members in the source database."""
    conn = await asyncpg.connect(host="127.0.0.1", user="postgres", database=pg_source_db)
    await conn.execute(
        "DROP TABLE IF EXISTS staff, teams, team_members;"
        "CREATE TABLE staff (id int PRIMARY KEY, login text NOT NULL, email text, title text,"
        " updated_at timestamptz NOT NULL DEFAULT now());"
        "CREATE TABLE teams (id int PRIMARY KEY, name text NOT NULL);"
        "CREATE TABLE team_members (id int PRIMARY KEY, team_id int, staff_id int);"
        "INSERT INTO staff (id, login, email, title) SELECT g, ' User' || g, 'u' || g ||"
        " '@example.com', 'Engineer' FROM generate_series(1, 6) g;"
        "INSERT INTO teams VALUES (1, 'Platform'), (2, 'Admins');"
        "INSERT INTO team_members VALUES (1, 1, 1), (2, 1, 2), (3, 2, 3)"
    )
    await conn.close()
    allowed = settings.model_copy(update={"outbound_allow": [ipaddress.ip_network("127.0.0.0/8")]})
    async with started(allowed) as h:
        yield h


async def _connection(h: Harness, auth: dict[str, str], database: str) -> str:
    config = {"host": "127.0.0.1", "database": database, "user": "postgres", "tls_mode": "disable"}
    made = await h.client.post(
        "/pip/connections",
        json={"name": "hr-db", "type": "postgresql", "config": config},
        headers=auth,
    )
    assert made.status_code == 201, made.text
    cid = str(made.json()["id"])
    mapping = {
        "streams": {
            "staff": {"sync_mode": "incremental", "cursor_field": "updated_at", "transform": STAFF},
            "teams": {"transform": TEAMS},
            "team_members": {"transform": MEMBERS},
        }
    }
    mapped = await h.client.put(f"/pip/connections/{cid}/mapping", json=mapping, headers=auth)
    assert mapped.status_code == 200, mapped.text
    return cid


async def _trigger(h: Harness, cid: str, auth: dict[str, str], **body: Any) -> dict[str, Any]:
    resp = await h.client.post(f"/pip/connections/{cid}/trigger-sync", json=body, headers=auth)
    assert resp.status_code == 202, resp.text
    return dict(resp.json())


async def test_trigger_run_and_follow_a_sync(app: Harness, pg_source_db: str) -> None:
    await app.tenant("acme")
    auth = app.auth(await app.token("acme", "connections:write", "identities:read", "audit:read"))
    cid = await _connection(app, auth, pg_source_db)
    queued = await _trigger(app, cid, auth, mode="full_refresh")
    assert (queued["status"], queued["trigger"]) == ("queued", "api")
    again = await app.client.post(f"/pip/connections/{cid}/trigger-sync", headers=auth)
    assert again.status_code == 409
    assert queued["id"] in again.json()["detail"]
    assert await make_worker(app.svc).run_once() == queued["id"]
    status = (await app.client.get(f"/pip/connections/{cid}/sync-status", headers=auth)).json()
    assert status["active_run"] is None
    last = status["last_run"]
    assert last["status"] == "succeeded", last
    assert last["counts"]["identity"]["created"] == 6
    assert last["counts"]["membership"]["created"] == 3
    people = (await app.client.get("/v1/identities", headers=auth)).json()["items"]
    assert sorted(p["user_name"] for p in people) == [f"user{n}" for n in range(1, 7)]
    runs = (await app.client.get(f"/pip/connections/{cid}/sync-runs", headers=auth)).json()
    assert [r["id"] for r in runs["items"]] == [queued["id"]]
    one = await app.client.get(f"/pip/connections/{cid}/sync-runs/{queued['id']}", headers=auth)
    assert one.json()["status"] == "succeeded"
    audit = (await app.client.get("/pip/audit/logs", headers=auth)).json()["items"]
    actions = {e["action"] for e in audit}
    assert {"sync.trigger", "identity.ingested", "group.ingested", "membership.added"} <= actions


async def test_incremental_sync_reads_only_changes(app: Harness, pg_source_db: str) -> None:
    await app.tenant("acme")
    auth = app.auth(await app.token("acme", "connections:write", "identities:read"))
    cid = await _connection(app, auth, pg_source_db)
    await _trigger(app, cid, auth, mode="full_refresh")
    await make_worker(app.svc).run_once()
    conn = await asyncpg.connect(host="127.0.0.1", user="postgres", database=pg_source_db)
    await conn.execute(
        "UPDATE staff SET title = 'Lead', updated_at = now() + interval '1 minute' WHERE id = 2"
    )
    await conn.close()
    second = await _trigger(app, cid, auth, mode="incremental")
    await make_worker(app.svc).run_once()
    run = (
        await app.client.get(f"/pip/connections/{cid}/sync-runs/{second['id']}", headers=auth)
    ).json()
    assert run["counts"]["identity"] == {"read": 1, "updated": 1}, run
    status = (await app.client.get(f"/pip/connections/{cid}/sync-status", headers=auth)).json()
    assert "staff" in status["cursors"]


async def test_schedules_jobs_and_stats(app: Harness, pg_source_db: str) -> None:
    await app.tenant("acme")
    auth = app.auth(await app.token("acme", "connections:write"))
    cid = await _connection(app, auth, pg_source_db)
    c = app.client
    bad = await c.post(
        f"/pip/connections/{cid}/schedule-sync", json={"cron": "99 * * * *"}, headers=auth
    )
    assert bad.status_code == 400
    assert bad.headers["content-type"].startswith("application/problem+json")
    assert "cron" in bad.json()["detail"]
    short = await c.post(
        f"/pip/connections/{cid}/schedule-sync", json={"interval_seconds": 5}, headers=auth
    )
    assert short.status_code == 422
    made = await c.post(
        f"/pip/connections/{cid}/schedule-sync",
        json={"cron": "0 3 * * *", "timezone": "Europe/Oslo", "mode": "full_refresh"},
        headers=auth,
    )
    assert made.status_code == 200, made.text
    assert made.json()["next_run_at"]
    jobs = (await c.get("/pip/sync/jobs", headers=auth)).json()
    assert [j["connection_id"] for j in jobs] == [cid]
    stats = (await c.get("/pip/sync/scheduler-stats", headers=auth)).json()
    assert (stats["scheduled_connections"], stats["workers_in_process"]) == (1, False)
    assert (await c.post("/pip/sync/reschedule-all", headers=auth)).json() == {"rescheduled": 1}
    assert (
        await c.delete(f"/pip/connections/{cid}/unschedule-sync", headers=auth)
    ).status_code == 204
    assert (
        await c.delete(f"/pip/connections/{cid}/unschedule-sync", headers=auth)
    ).status_code == 404


async def test_other_tenants_and_read_tokens_are_refused(app: Harness, pg_source_db: str) -> None:
    await app.tenant("acme")
    await app.tenant("other")
    auth = app.auth(await app.token("acme", "connections:write"))
    cid = await _connection(app, auth, pg_source_db)
    stranger = app.auth(await app.token("other", "connections:write"))
    for method, path in [
        ("post", "trigger-sync"),
        ("get", "sync-status"),
        ("get", "sync-runs"),
        ("delete", "unschedule-sync"),
    ]:
        resp = await app.client.request(method, f"/pip/connections/{cid}/{path}", headers=stranger)
        assert resp.status_code == 404, (path, resp.text)
    reader = app.auth(await app.token("acme", "connections:read"))
    assert (
        await app.client.post(f"/pip/connections/{cid}/trigger-sync", headers=reader)
    ).status_code == 403
    bad_body = await app.client.post(
        f"/pip/connections/{cid}/trigger-sync", json={"mode": "sometimes"}, headers=auth
    )
    assert bad_body.status_code == 422

"""Managers named by the source's own ids: resolved at the end of each run, through precedence."""

from __future__ import annotations

from typing import Any

import asyncpg
from sqlalchemy import select

from gatehouse.connectors.protocol import SyncMode
from gatehouse.db.tenancy import TENANT
from gatehouse.events.models import Event
from gatehouse.identity.models import Conflict, Identity, IdentityLink
from gatehouse.sync.models import SyncRun
from gatehouse.sync.plan import Job, StreamPlan, Transformed
from gatehouse.sync.tasks import make_worker
from gatehouse.tenants.models import Tenant
from tests.conftest import BOTH, Harness
from tests.connectors.conftest import pg_source_db
from tests.sync.source import MemorySource, Rows, run_job
from tests.sync.test_api import app

__all__ = ["app", "pg_source_db"]
pytestmark = BOTH
ABSENT = object()


def staff(record: dict[str, Any]) -> Transformed:
    """A person row whose `boss` column is the source's id of their manager."""
    data: dict[str, Any] = {"user_name": record["login"], "email": f"{record['login']}@x.com"}
    if record.get("boss", ABSENT) is not ABSENT:
        data["manager"] = record["boss"]
    return Transformed("identity", record["id"], data)


def person(key: str, boss: Any = ABSENT, updated: int = 1) -> dict[str, Any]:
    """A source row."""
    row: dict[str, Any] = {"id": key, "login": key, "updated": updated}
    if boss is not ABSENT:
        row["boss"] = boss
    return row


async def _sync(
    h: Harness,
    people: list[dict[str, Any]],
    *,
    source: str = "hr",
    mode: SyncMode = SyncMode.full_refresh,
    dry_run: bool = False,
) -> SyncRun:
    job = Job(
        tenant_id="acme",
        connection_id=f"conn-{source}",
        source=source,
        connector=MemorySource(Rows({"people": people}, batch=2)),
        config={},
        streams=[StreamPlan("people", "identity", staff, incremental=True)],
    )
    return await run_job(h, job, mode, dry_run=dry_run)


async def _managers(h: Harness) -> dict[str, str | None]:
    """Each person's manager, by user name."""
    async with h.svc.db.transaction(write=False) as s:
        found = await s.execute(
            select(Identity.id, Identity.user_name, Identity.manager_id).execution_options(
                **{TENANT: "acme"}
            )
        )
        rows = found.all()
    names = {ident: name for ident, name, _ in rows}
    return {name: names.get(boss) if boss else None for _, name, boss in rows}


async def _select(h: Harness, stmt: Any) -> list[Any]:
    async with h.svc.db.transaction(write=False) as s:
        return list((await s.execute(stmt.execution_options(**{TENANT: "acme"}))).all())


async def test_references_resolve_after_the_whole_run(harness: Harness) -> None:
    """A manager read in a later batch than the report, a chain, a dangling id and none."""
    await harness.tenant("acme")
    rows = [
        person("p1", "p4"),  # the manager comes two batches later
        person("p2", "p1"),
        person("p3", "ghost"),
        person("p4", None),  # the top of the tree
        person("p5"),  # the source says nothing about a manager
    ]
    run = await _sync(harness, rows)
    assert run.status == "succeeded", run.error
    assert run.counts["identity"]["managers_set"] == 2
    assert run.counts["identity"]["managers_unresolved"] == 1
    assert run.error_samples == [
        {"stream": "people", "record": "p3", "error": "manager 'ghost' is no person of this source"}
    ]
    assert await _managers(harness) == {"p1": "p4", "p2": "p1", "p3": None, "p4": None, "p5": None}
    refs = await _select(
        harness, select(IdentityLink.external_id, IdentityLink.manager_ref).order_by("external_id")
    )
    assert refs == [("p1", "p4"), ("p2", "p1"), ("p3", "ghost"), ("p4", ""), ("p5", None)]
    p1 = (await _select(harness, select(Identity).where(Identity.user_name == "p1")))[0][0]
    assert (p1.version, p1.provenance["manager_id"]) == (2, "hr")
    events = await _select(
        harness,
        select(Event.type, Event.payload).where(Event.subject_id == p1.id).order_by(Event.id),
    )
    assert [t for t, _ in events if t.startswith("identity.")][:2] == [
        "identity.created",
        "identity.updated",
    ]
    updated = next(p for t, p in events if t == "identity.updated")
    assert updated["after"]["manager_id"] is not None and updated["version"] == 2

    # Unchanged references change nothing; a moved one, a retracted one and a fixed one do.
    again = await _sync(harness, rows, mode=SyncMode.incremental)
    assert "managers_set" not in again.counts["identity"]
    rows[1] = person("p2", "p4", updated=2)  # p2 now reports to p4
    rows[0] = person("p1", None, updated=2)  # p1 no longer has a manager
    rows[2] = person("p3", "p2", updated=2)  # p3's manager is known now
    moved = await _sync(harness, rows, mode=SyncMode.incremental)
    assert moved.counts["identity"]["managers_set"] == 3
    assert "managers_unresolved" not in moved.counts["identity"]
    assert await _managers(harness) == {"p1": None, "p2": "p4", "p3": "p2", "p4": None, "p5": None}


async def test_precedence_decides_and_losers_are_conflicts(harness: Harness) -> None:
    await harness.tenant("acme")
    async with harness.svc.db.transaction() as s:
        tenant = await s.get(Tenant, "acme")
        assert tenant is not None
        tenant.settings = {"correlation": {"precedence": {"manager_id": ["hr", "directory"]}}}
    await _sync(harness, [person("p1", "p2"), person("p2", None), person("p3", None)])
    directory = await _sync(
        harness,
        [person("p1", "p3"), person("p2", None), person("p3", None)],
        source="directory",
    )
    assert directory.counts["identity"].get("managers_set", 0) == 0
    assert await _managers(harness) == {"p1": "p2", "p2": None, "p3": None}
    found = await _select(
        harness, select(Conflict.attribute, Conflict.source, Conflict.kept_source, Conflict.status)
    )
    assert found == [("manager_id", "directory", "hr", "open")]
    await _sync(
        harness,
        [person("p1", "p3"), person("p2", None), person("p3", None)],
        source="directory",
    )
    assert len(await _select(harness, select(Conflict.id))) == 1  # raised once, not every run
    # The directory saying "no manager" withdraws nothing it did not set.
    await _sync(harness, [person("p1", None)], source="directory", mode=SyncMode.incremental)
    assert (await _managers(harness))["p1"] == "p2"


async def test_a_dry_run_reports_and_writes_nothing(harness: Harness) -> None:
    await harness.tenant("acme")
    dry = await _sync(harness, [person("p1", "p2"), person("p2", None)], dry_run=True)
    assert dry.counts["identity"]["managers_set"] == 1
    assert await _managers(harness) == {}


async def test_a_manager_id_column_of_a_postgresql_source(app: Harness, pg_source_db: str) -> None:
    """The mapping targets `manager` with the source's column; the API shows the result."""
    conn = await asyncpg.connect(host="127.0.0.1", user="postgres", database=pg_source_db)
    await conn.execute(
        "DROP TABLE IF EXISTS employees; CREATE TABLE employees (id int PRIMARY KEY,"
        " login text NOT NULL, manager_id int);"
        "INSERT INTO employees VALUES (1, 'ceo', NULL), (2, 'cto', 1), (3, 'dev', 2),"
        " (4, 'lost', 99)"
    )
    await conn.close()
    await app.tenant("acme")
    auth = app.auth(await app.token("acme", "connections:write", "identities:read"))
    config = {
        "host": "127.0.0.1",
        "database": pg_source_db,
        "user": "postgres",
        "tls_mode": "disable",
    }
    made = await app.client.post(
        "/pip/connections",
        json={"name": "hr", "type": "postgresql", "config": config},
        headers=auth,
    )
    cid = made.json()["id"]
    transform = {
        "kind": "identity",
        "external_id": "id",
        "fields": {"user_name": "login", "manager": "manager_id"},
    }
    mapping = {"streams": {"employees": {"transform": transform}}}
    mapped = await app.client.put(f"/pip/connections/{cid}/mapping", json=mapping, headers=auth)
    assert mapped.status_code == 200, mapped.text
    queued = await app.client.post(
        f"/pip/connections/{cid}/trigger-sync", json={"mode": "full_refresh"}, headers=auth
    )
    assert await make_worker(app.svc).run_once() == queued.json()["id"]
    run = (await app.client.get(f"/pip/connections/{cid}/sync-status", headers=auth)).json()
    last = run["last_run"]
    assert last["status"] == "succeeded", last
    assert last["counts"]["identity"]["managers_set"] == 2
    assert last["error_samples"] == [
        {"stream": "employees", "record": "4", "error": "manager '99' is no person of this source"}
    ]
    people = (await app.client.get("/v1/identities", headers=auth)).json()["items"]
    ids = {p["user_name"]: p["id"] for p in people}
    bosses = {p["user_name"]: p["manager_id"] for p in people}
    assert bosses == {"ceo": None, "cto": ids["ceo"], "dev": ids["cto"], "lost": None}
    wrong = {
        "streams": {
            "employees": {
                "transform": {**transform, "fields": {"user_name": "login", "manager": "boss"}}
            }
        }
    }
    refused = await app.client.put(f"/pip/connections/{cid}/mapping", json=wrong, headers=auth)
    assert refused.status_code == 422
    assert "boss" in refused.text

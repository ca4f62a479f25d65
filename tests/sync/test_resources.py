"""Deletion detection of resources: full runs soft-delete what their source no longer has."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from gatehouse.audit.context import Actor
from gatehouse.connectors.protocol import SyncMode
from gatehouse.db.tenancy import TENANT
from gatehouse.events.models import Event
from gatehouse.identity.ingest import SourceRecord
from gatehouse.identity.ingest_resources import ingest_resources
from gatehouse.identity.models import RecordVersion, Resource
from gatehouse.sync.models import SyncRun
from gatehouse.sync.plan import Job, StreamPlan, Transformed
from tests.conftest import BOTH, Harness
from tests.sync.source import MemorySource, Rows, run_job

pytestmark = BOTH


def repository(record: dict[str, Any]) -> Transformed:
    """Map a repository row."""
    return Transformed(
        "resource",
        record["id"],
        {"type": "repository", "key": record["id"], "attributes": {"name": record["name"]}},
    )


def repos(*names: str) -> list[dict[str, Any]]:
    """Repository rows."""
    return [{"id": f"r-{n}", "name": n, "updated": 1} for n in names]


async def _sync(
    h: Harness, rows: Rows, mode: SyncMode = SyncMode.full_refresh, **kw: Any
) -> SyncRun:
    job = Job(
        tenant_id="acme",
        connection_id="conn-1",
        source="git",
        connector=MemorySource(rows),
        config={},
        streams=[StreamPlan("repos", "resource", repository)],
    )
    return await run_job(h, job, mode, **kw)


async def _listed(h: Harness, auth: dict[str, str], **params: Any) -> dict[str, str | None]:
    resp = await h.client.get("/v1/resources", params=params, headers=auth)
    assert resp.status_code == 200, resp.text
    return {r["key"]: r["deleted_at"] for r in resp.json()["items"]}


async def test_a_full_run_deletes_resources_its_source_dropped(harness: Harness) -> None:
    await harness.tenant("acme")
    auth = harness.auth(await harness.token("acme", "identities:read"))
    rows = Rows({"repos": repos("api", "web", "docs", "infra")})
    first = await _sync(harness, rows)
    assert first.counts["resource"] == {"read": 4, "created": 4}
    rows.streams["repos"] = repos("api", "web", "docs")
    second = await _sync(harness, rows)
    assert second.status == "succeeded", second.error
    assert second.counts["resource"] == {"read": 3, "unchanged": 3, "unlinked": 1, "deleted": 1}
    assert set(await _listed(harness, auth)) == {"r-api", "r-web", "r-docs"}
    everything = await _listed(harness, auth, deleted="true")
    assert everything["r-infra"] is not None and everything["r-api"] is None
    async with harness.svc.db.transaction(write=False) as s:
        scoped = {TENANT: "acme"}
        gone = (
            await s.execute(
                select(Resource).where(Resource.key == "r-infra").execution_options(**scoped)
            )
        ).scalar_one()
        versions = (
            await s.execute(
                select(RecordVersion.version, RecordVersion.after)
                .where(RecordVersion.record_id == gone.id)
                .order_by(RecordVersion.version)
                .execution_options(**scoped)
            )
        ).all()
        events = (
            await s.execute(
                select(Event.type).where(Event.subject_id == gone.id).execution_options(**scoped)
            )
        ).scalars()
        assert sorted(events) == ["resource.created", "resource.deleted"]
    assert gone.version == 2
    assert [(v, a is None) for v, a in versions] == [(1, False), (2, True)]

    # Described again: restored, not duplicated.
    rows.streams["repos"] = repos("api", "web", "docs", "infra")
    third = await _sync(harness, rows)
    assert third.counts["resource"] == {"read": 4, "unchanged": 3, "updated": 1}
    assert set(await _listed(harness, auth)) == {"r-api", "r-web", "r-docs", "r-infra"}


async def test_the_safety_threshold_dry_runs_and_incremental_runs(harness: Harness) -> None:
    await harness.tenant("acme")
    auth = harness.auth(await harness.token("acme", "identities:read"))
    rows = Rows({"repos": repos(*(f"repo{n}" for n in range(10)))})
    await _sync(harness, rows)
    rows.streams["repos"] = repos("repo0")
    refused = await _sync(harness, rows)
    assert refused.status == "refused"
    assert "9 of 10 resource records" in (refused.error or "")
    assert len(await _listed(harness, auth)) == 10
    incremental = await _sync(harness, rows, SyncMode.incremental)
    assert incremental.status == "succeeded"
    assert "unlinked" not in incremental.counts["resource"]
    dry = await _sync(harness, rows, dry_run=True, confirm_deletes=True)
    assert (dry.status, dry.counts["resource"]["deleted"]) == ("succeeded", 9)
    assert len(await _listed(harness, auth)) == 10
    confirmed = await _sync(harness, rows, confirm_deletes=True)
    assert confirmed.counts["resource"]["deleted"] == 9
    assert set(await _listed(harness, auth)) == {"r-repo0"}


async def test_a_resource_another_source_describes_stays(harness: Harness) -> None:
    """Only what the source created and no other source still links is deleted."""
    await harness.tenant("acme")
    auth = harness.auth(await harness.token("acme", "identities:read"))
    rows = Rows({"repos": repos("api", "web")})
    await _sync(harness, rows)
    async with harness.svc.db.transaction() as s:
        cmdb = [SourceRecord("r-web", {"type": "repository", "attributes": {"name": "web"}})]
        await ingest_resources(s, Actor("acme", "test"), "cmdb", cmdb)
    rows.streams["repos"] = repos("api")
    run = await _sync(harness, rows, confirm_deletes=True)
    assert run.counts["resource"]["unlinked"] == 1
    assert "deleted" not in run.counts["resource"]
    assert set(await _listed(harness, auth)) == {"r-api", "r-web"}


async def test_deleted_resources_stay_in_their_tenant(harness: Harness) -> None:
    await harness.tenant("acme")
    await harness.tenant("other")
    rows = Rows({"repos": repos("api", "web", "docs")})
    await _sync(harness, rows)
    rows.streams["repos"] = repos("api", "web")
    await _sync(harness, rows)
    stranger = harness.auth(await harness.token("other", "identities:read"))
    assert await _listed(harness, stranger, deleted="true") == {}
    no_scope = harness.auth(await harness.token("acme", "connections:read"))
    resp = await harness.client.get("/v1/resources", headers=no_scope)
    assert resp.status_code == 403
    bad = await harness.client.get(
        "/v1/resources",
        params={"deleted": "maybe"},
        headers=harness.auth(await harness.token("acme", "identities:read")),
    )
    assert bad.status_code == 422

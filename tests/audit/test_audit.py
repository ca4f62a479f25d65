"""The audit log: what is recorded, how it is filtered, and how tampering is detected."""

from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from gatehouse.audit import service as audit
from tests.conftest import BOTH, Harness

pytestmark = BOTH
LOGS = "/pip/audit/logs"


async def _seed(harness: Harness) -> tuple[dict[str, str], list[str]]:
    await harness.tenant("acme")
    admin = harness.auth(await harness.token("acme", "admin:*"))
    ids = []
    for i in range(3):
        resp = await harness.client.post(
            "/v1/integration/tokens",
            json={"name": f"t{i}", "scopes": ["audit:read"]},
            headers={**admin, "User-Agent": "audit-test/1.0", "X-Request-ID": f"req-{i}"},
        )
        ids.append(resp.json()["id"])
    return admin, ids


async def test_mutations_are_recorded_with_context(harness: Harness) -> None:
    """Each create is an entry with actor, target, ip, user agent, request id and after-image."""
    admin, ids = await _seed(harness)
    await harness.client.delete(f"/v1/integration/tokens/{ids[0]}", headers=admin)
    items = (await harness.client.get(LOGS, headers=admin)).json()["items"]
    assert [e["action"] for e in items[:4]] == ["token.revoke"] + ["token.create"] * 3
    newest_create = items[1]
    assert newest_create["target_id"] == ids[2]
    assert newest_create["actor"].startswith("token:")
    assert newest_create["ip"] == "198.51.100.7"
    assert newest_create["user_agent"] == "audit-test/1.0"
    assert newest_create["request_id"] == "req-2"
    assert newest_create["after"]["scopes"] == ["audit:read"]
    assert items[0]["before"]["revoked_at"] is None
    assert items[0]["after"]["revoked_at"] is not None
    assert all("gth_" not in str(e) for e in items)


async def test_filters_and_pagination(harness: Harness) -> None:
    """Filters by target, actor, action and dates; cursor pages are disjoint."""
    admin, ids = await _seed(harness)
    c = harness.client
    by_target = (await c.get(LOGS, params={"connection_id": ids[1]}, headers=admin)).json()
    assert [e["target_id"] for e in by_target["items"]] == [ids[1]]
    actor = by_target["items"][0]["actor"]
    by_actor = (await c.get(LOGS, params={"actor": actor}, headers=admin)).json()["items"]
    assert len(by_actor) == 3
    none = (await c.get(LOGS, params={"action": "tenant.delete"}, headers=admin)).json()
    assert none["items"] == []
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
    future = (await c.get(LOGS, params={"start_date": tomorrow}, headers=admin)).json()
    assert future["items"] == []
    today = (await c.get(LOGS, params={"end_date": tomorrow}, headers=admin)).json()
    assert len(today["items"]) == 4
    first = (await c.get(LOGS, params={"limit": 2}, headers=admin)).json()
    second = (
        await c.get(LOGS, params={"limit": 2, "cursor": first["next_cursor"]}, headers=admin)
    ).json()
    assert {e["id"] for e in first["items"]}.isdisjoint({e["id"] for e in second["items"]})
    assert second["next_cursor"] is None
    bad = await c.get(LOGS, params={"start_date": "yesterday"}, headers=admin)
    assert bad.status_code == 422


async def test_failed_mutation_is_recorded(harness: Harness) -> None:
    """A mutation that fails is rolled back and recorded as a failure."""
    await harness.tenant("acme")
    admin = harness.auth(await harness.token("acme", "admin:*"))
    resp = await harness.client.patch(
        "/v1/integration/tokens/missing", json={"name": "x"}, headers=admin
    )
    assert resp.status_code == 404
    entry = (await harness.client.get(LOGS, headers=admin)).json()["items"][0]
    assert (entry["action"], entry["outcome"], entry["target_id"]) == (
        "token.update",
        "failure",
        "missing",
    )
    assert entry["after"]["status"] == 404


async def test_other_tenants_entries_are_invisible(harness: Harness) -> None:
    """A tenant reads only its own chain."""
    await _seed(harness)
    await harness.tenant("other")
    other = harness.auth(await harness.token("other", "audit:read"))
    seen = (await harness.client.get(LOGS, headers=other)).json()["items"]
    assert [(e["action"], e["actor"], e["seq"]) for e in seen] == [
        ("token.create", "test:factory", 1)
    ]


async def test_verify_detects_change_removal_and_truncation(harness: Harness) -> None:
    """A changed row, a removed row and a removed tail are each reported."""
    await _seed(harness)
    db = harness.svc.db
    async with db.transaction(write=False) as s:
        report = await audit.verify_chain(s, "acme")
    assert report.ok
    assert report.checked == 4

    async with db.transaction() as s:
        await s.execute(
            text("UPDATE audit_log SET actor = 'someone-else' WHERE tenant_id = 'acme' AND seq = 2")
        )
    async with db.transaction(write=False) as s:
        report = await audit.verify_chain(s, "acme")
    assert (report.ok, report.broken_seq) == (False, 2)
    assert "changed" in report.reason

    async with db.transaction() as s:
        await s.execute(text("DELETE FROM audit_log WHERE tenant_id = 'acme' AND seq = 2"))
    async with db.transaction(write=False) as s:
        report = await audit.verify_chain(s, "acme")
    assert (report.ok, report.broken_seq) == (False, 2)
    assert "missing" in report.reason

    async with db.transaction() as s:
        await s.execute(text("DELETE FROM audit_log WHERE tenant_id = 'acme' AND seq >= 2"))
    async with db.transaction(write=False) as s:
        report = await audit.verify_chain(s, "acme")
    assert (report.ok, report.broken_seq) == (False, 2)
    assert "removed" in report.reason

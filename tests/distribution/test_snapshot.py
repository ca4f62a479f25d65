"""GET /pip/connections/{id}/data-snapshot: the part of the document one connection stated."""

from __future__ import annotations

from gatehouse.audit.context import Actor
from gatehouse.identity.correlation import policy_of
from gatehouse.identity.ingest import SourceRecord, ingest_identities
from tests.distribution.conftest import Org


async def test_snapshot_shows_what_a_connection_set(org: Org) -> None:
    """Users the connection linked, with only the fields it set; other tenants get 404."""
    config = {"host": "127.0.0.1", "database": "hr", "user": "postgres", "password": "x"}
    made = await org.h.client.post(
        "/pip/connections",
        json={"name": "hr", "type": "postgresql", "config": {**config, "tls_mode": "disable"}},
        headers=org.headers(org.admin),
    )
    assert made.status_code == 201, made.text
    cid = made.json()["id"]
    records = [
        SourceRecord("e1", {"user_name": "alice", "department": "R&D", "cost_center": "CC-1"}),
        SourceRecord("e2", {"user_name": "carol", "department": "Sales", "email": "c@acme.test"}),
    ]
    async with org.h.svc.db.transaction() as session:
        report = await ingest_identities(
            session, Actor(org.tenant, "test:sync"), cid, records, policy_of({})
        )
    assert not report.errors
    url = f"/pip/connections/{cid}/data-snapshot"
    r = await org.h.client.get(url, headers=org.headers())
    assert r.status_code == 200, r.text
    body = r.json()
    users = body["users"]
    alice, carol = (
        users[org.users["alice"]],
        next(u for k, u in users.items() if k != org.users["alice"]),
    )
    assert alice["department"] == "R&D" and alice["costCenter"] == "CC-1"
    assert "title" not in alice  # SCIM set it, not this connection
    assert alice["groups"] == ["engineering", "staff"]
    assert carol["department"] == "Sales" and "email" not in carol  # confidential stays home
    assert body["groups"] == {} and body["truncated"] is False
    limited = (await org.h.client.get(url, headers=org.headers(), params={"limit": 1})).json()
    assert len(limited["users"]) == 1 and limited["truncated"] is True
    await org.h.tenant("other")
    outsider = await org.h.token("other", "bundles:read")
    assert (await org.h.client.get(url, headers=org.headers(outsider))).status_code == 404
    bad = await org.h.client.get(url, headers=org.headers(), params={"limit": 0})
    assert bad.status_code == 422

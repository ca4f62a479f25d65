"""The data document: default shape, transitive groups, sensitivity, configuration."""

from __future__ import annotations

from tests.distribution.conftest import Org


async def test_default_document(org: Org) -> None:
    """Users by id with transitive groups and roles; groups by name; internal fields only."""
    doc = (await org.data())["gatehouse"]
    alice = doc["users"][org.users["alice"]]
    assert alice["userName"] == "alice"
    assert alice["groups"] == ["engineering", "staff"]
    assert alice["roles"] == ["developer"]
    assert alice["title"] == "Engineer"
    assert "email" not in alice and "emails" not in alice  # confidential: not allowed
    assert doc["users"][org.users["bob"]]["groups"] == []
    assert doc["groups"]["engineering"]["parents"] == ["staff"]
    assert doc["resources"] == {}


CONFIG = "/v1/distribution/config"


async def test_incremental_change_touches_one_entry(org: Org) -> None:
    """One user's change rewrites only that user's entry under a new revision."""
    from sqlalchemy import select

    from gatehouse.db.tenancy import TENANT
    from gatehouse.distribution.models import Fragment, Revision

    await org.data()
    before = (await org.h.client.get(CONFIG, headers=org.headers())).json()["revision"]
    await org.patch_user(org.users["bob"], "title", "Auditor")
    await org.data()
    async with org.h.svc.db.transaction(write=False) as s:
        scoped = {TENANT: org.tenant}
        latest = (
            (
                await s.execute(
                    select(Revision)
                    .where(Revision.tenant_id == org.tenant)
                    .order_by(Revision.revision.desc())
                    .execution_options(**scoped)
                )
            )
            .scalars()
            .first()
        )
        touched = (
            (
                await s.execute(
                    select(Fragment.record_id)
                    .where(Fragment.tenant_id == org.tenant, Fragment.revision == latest.revision)
                    .execution_options(**scoped)
                )
            )
            .scalars()
            .all()
        )
    assert latest.revision == before + 1 and latest.changed == 1
    assert touched == [org.users["bob"]]


async def test_group_changes_reach_members_transitively(org: Org) -> None:
    """Renaming a parent group and nesting groups change the members' group lists."""
    await org.scim(
        "PUT",
        f"Groups/{org.groups['staff']}",
        {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "displayName": "everyone",
            "members": [{"value": org.groups["engineering"]}],
        },
    )
    doc = (await org.data())["gatehouse"]
    assert doc["users"][org.users["alice"]]["groups"] == ["engineering", "everyone"]
    assert "staff" not in doc["groups"] and "everyone" in doc["groups"]
    await org.scim("DELETE", f"Groups/{org.groups['engineering']}")
    doc = (await org.data())["gatehouse"]
    assert doc["users"][org.users["alice"]]["groups"] == []


async def test_sensitivity_and_configuration(org: Org) -> None:
    """Confidential fields leave only when allowed; keying by email needs email allowed;
    streams, fields and levels follow the configuration; every change is audited."""
    admin = org.headers(org.admin)
    refused = await org.h.client.put(CONFIG, json={"key": "email"}, headers=admin)
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "key"
    body = {
        "key": "email",
        "allow": ["email", "users.emails"],
        "streams": ["users"],
        "sensitivity": {"title": "restricted"},
    }
    ok = await org.h.client.put(CONFIG, json=body, headers=admin)
    assert ok.status_code == 200, ok.text
    assert ok.json()["config"]["key"] == "email" and ok.json()["version"] == 1
    doc = (await org.data())["gatehouse"]
    assert set(doc) == {"users"}
    alice = doc["users"]["alice@acme.test"]
    assert alice["email"] == "alice@acme.test" and "title" not in alice
    assert alice["emails"][0]["value"] == "alice@acme.test"
    assert list(doc["users"]) == ["alice@acme.test"]  # bob has no address: no key, no entry
    body = {
        "key": "id",  # a PUT changes what it names: the key goes back to the id only when named
        "allow": ["title"],
        "sensitivity": {"title": "restricted"},
        "fields": {"users": ["title"]},
    }
    changed = await org.h.client.put(CONFIG, json=body, headers=admin)
    assert changed.json()["config"]["streams"] == ["users"]  # not named: kept
    users = (await org.data())["gatehouse"]["users"]
    assert users[org.users["alice"]] == {"id": org.users["alice"], "title": "Engineer"}
    for bad in ({"root": "a//b"}, {"streams": ["secrets"]}, {"allow": ["a.b.c"]}, {"x": 1}):
        r = await org.h.client.put(CONFIG, json=bad, headers=admin)
        assert r.status_code == 422, bad
    assert (await org.h.client.put(CONFIG, json={}, headers=org.headers())).status_code == 403
    logs = "/pip/audit/logs"
    audit = await org.h.client.get(logs, headers=admin, params={"action": "distribution.config"})
    assert audit.status_code == 200
    outcomes = sorted(e["outcome"] for e in audit.json()["items"])
    assert outcomes == ["failure", "success", "success"]  # the email-key refusal too


async def test_a_deleted_resource_leaves_the_document(org: Org) -> None:
    """Resources appear by type and key; one soft-deleted (a full sync no longer saw it) goes."""
    from gatehouse.audit.context import Actor
    from gatehouse.identity.ingest import SourceRecord
    from gatehouse.identity.ingest_resources import delete_resources, ingest_resources

    actor = Actor(org.tenant, "test")
    records = [SourceRecord(key, {"type": "repo", "attributes": {"tier": 1}}) for key in "ab"]
    async with org.h.svc.db.transaction() as s:
        report = await ingest_resources(s, actor, "git", records)
    org.h.svc.distribution.written(org.tenant)
    assert set((await org.data())["gatehouse"]["resources"]["repo"]) == {"a", "b"}
    async with org.h.svc.db.transaction() as s:
        await delete_resources(s, actor, [report.ids["a"]], source="git")
    org.h.svc.distribution.written(org.tenant)
    assert set((await org.data())["gatehouse"]["resources"]["repo"]) == {"b"}

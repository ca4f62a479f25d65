"""The token API on SQLite and PostgreSQL: lifecycle, authentication failures, isolation."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from gatehouse.auth import tokens
from gatehouse.auth.models import ApiToken
from gatehouse.db.tenancy import ALL_TENANTS
from tests.conftest import BOTH, Harness

pytestmark = BOTH
BASE = "/v1/integration/tokens"


async def test_create_list_get_patch_revoke(harness: Harness) -> None:
    """The whole lifecycle through the API; the secret appears once, never its hash."""
    await harness.tenant("acme")
    admin = harness.auth(await harness.token("acme", "admin:*"))
    c = harness.client
    resp = await c.post(BASE, json={"name": "ci", "scopes": ["audit:read"]}, headers=admin)
    assert resp.status_code == 201, resp.text
    created = resp.json()
    assert tokens.well_formed(created["token"])
    assert created["prefix"] == created["token"][:12]
    assert resp.headers["location"] == f"{BASE}/{created['id']}"
    assert "token_hash" not in created

    listed = (await c.get(BASE, headers=admin)).json()["items"]
    assert created["id"] in [t["id"] for t in listed]
    assert all("token" not in t for t in listed)

    one = (await c.get(f"{BASE}/{created['id']}", headers=admin)).json()
    assert one["scopes"] == ["audit:read"] and one["name"] == "ci"
    assert (await c.get(f"{BASE}/{created['id']}/scopes", headers=admin)).json() == ["audit:read"]

    patched = await c.patch(
        f"{BASE}/{created['id']}", json={"name": "ci-2", "scopes": ["tokens:read"]}, headers=admin
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["scopes"] == ["tokens:read"]

    new = harness.auth(created["token"])
    assert (await c.get(BASE, headers=new)).status_code == 200
    assert (await c.delete(f"{BASE}/{created['id']}", headers=admin)).status_code == 204
    refused = await c.get(BASE, headers=new)
    assert refused.status_code == 401
    assert refused.json()["detail"] == "The token was revoked."
    assert refused.headers["www-authenticate"].startswith("Bearer")
    revoked = await c.get(BASE, params={"include_revoked": True}, headers=admin)
    assert created["id"] in [t["id"] for t in revoked.json()["items"]]
    assert created["id"] not in [
        t["id"] for t in (await c.get(BASE, headers=admin)).json()["items"]
    ]


async def test_scope_catalog(harness: Harness) -> None:
    """The catalog lists scopes with descriptions."""
    await harness.tenant("acme")
    reader = harness.auth(await harness.token("acme", "tokens:read"))
    scopes = (await harness.client.get(f"{BASE}/scopes", headers=reader)).json()
    names = {s["name"] for s in scopes}
    assert {"admin:*", "tokens:read", "connections:write", "platform:admin"} <= names
    assert all(s["description"] for s in scopes)


@pytest.mark.parametrize(
    ("header", "detail"),
    [
        (None, "Send an API token"),
        ("Bearer", "Send an API token"),
        ("Basic dXNlcjpwYXNz", "Send an API token"),
        ("Bearer gth_short", "malformed"),
        ("Bearer " + "gth_" + "A" * 49, "malformed"),
    ],
)
async def test_missing_and_malformed_tokens(
    harness: Harness, header: str | None, detail: str
) -> None:
    """Absent, malformed and wrong-checksum tokens get 401 problem+json."""
    headers = {"Authorization": header} if header else {}
    resp = await harness.client.get(BASE, headers=headers)
    assert resp.status_code == 401
    assert resp.headers["content-type"] == "application/problem+json"
    assert detail in resp.json()["detail"]


async def test_wrong_checksum_and_unknown_tokens(harness: Harness) -> None:
    """A flipped checksum is caught offline; a well-formed stranger is unknown."""
    await harness.tenant("acme")
    real = await harness.token("acme", "tokens:read")
    flipped = real[:-1] + ("a" if real[-1] != "a" else "b")
    resp = await harness.client.get(BASE, headers=harness.auth(flipped))
    assert resp.status_code == 401 and "checksum" in resp.json()["detail"]
    stranger = await harness.client.get(BASE, headers=harness.auth(tokens.generate()))
    assert stranger.status_code == 401 and "not recognised" in stranger.json()["detail"]


async def test_expired_token(harness: Harness) -> None:
    """A token past its expiry is refused."""
    await harness.tenant("acme")
    secret = await harness.token("acme", "tokens:read")
    async with harness.svc.db.transaction() as session:
        await session.execute(
            update(ApiToken)
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
            .execution_options(**{ALL_TENANTS: True})
        )
    resp = await harness.client.get(BASE, headers=harness.auth(secret))
    assert resp.status_code == 401 and "expired" in resp.json()["detail"]


async def test_wrong_scope_is_forbidden_and_audited(harness: Harness) -> None:
    """A token without the route's scope gets 403; a refused mutation is audited."""
    await harness.tenant("acme")
    weak = harness.auth(await harness.token("acme", "audit:read"))
    resp = await harness.client.post(
        BASE, json={"name": "x", "scopes": ["audit:read"]}, headers=weak
    )
    assert resp.status_code == 403
    assert resp.json()["required_scope"] == "tokens:write"
    logs = (await harness.client.get("/pip/audit/logs", headers=weak)).json()["items"]
    assert logs[0]["outcome"] == "denied"
    assert logs[0]["action"] == f"POST {BASE}"


async def test_no_privilege_escalation(harness: Harness) -> None:
    """A token cannot mint or widen a token beyond its own scopes."""
    await harness.tenant("acme")
    limited = harness.auth(await harness.token("acme", "tokens:write"))
    c = harness.client
    for scopes in (["admin:*"], ["secrets:write"], ["tokens:*"], ["platform:admin"]):
        resp = await c.post(BASE, json={"name": "x", "scopes": scopes}, headers=limited)
        assert resp.status_code in (403, 422), scopes
    ok = await c.post(BASE, json={"name": "x", "scopes": ["tokens:read"]}, headers=limited)
    assert ok.status_code == 201
    widened = await c.patch(
        f"{BASE}/{ok.json()['id']}", json={"scopes": ["admin:*"]}, headers=limited
    )
    assert widened.status_code == 403


async def test_tenant_isolation(harness: Harness) -> None:
    """Tenant A's token never sees tenant B's tokens: 404, not the object."""
    await harness.tenant("alpha")
    await harness.tenant("beta")
    a = harness.auth(await harness.token("alpha", "tokens:*"))
    b = harness.auth(await harness.token("beta", "tokens:*"))
    b_token = (
        await harness.client.post(
            BASE, json={"name": "beta-secret-name", "scopes": ["tokens:read"]}, headers=b
        )
    ).json()
    for method, path in [
        ("GET", f"{BASE}/{b_token['id']}"),
        ("GET", f"{BASE}/{b_token['id']}/scopes"),
        ("PATCH", f"{BASE}/{b_token['id']}"),
        ("DELETE", f"{BASE}/{b_token['id']}"),
    ]:
        body = {"name": "stolen"} if method == "PATCH" else None
        resp = await harness.client.request(method, path, json=body, headers=a)
        assert resp.status_code == 404, (method, path)
        assert "beta" not in resp.text and b_token["name"] not in resp.text
    listed = (await harness.client.get(BASE, headers=a)).json()["items"]
    assert {t["tenant_id"] for t in listed} == {"alpha"}
    still = await harness.client.get(BASE, headers=harness.auth(b_token["token"]))
    assert still.status_code == 200


async def test_validation_errors_list_fields(harness: Harness) -> None:
    """Unknown scopes and bad fields give 422 with the failing fields named."""
    await harness.tenant("acme")
    admin = harness.auth(await harness.token("acme", "admin:*"))
    resp = await harness.client.post(
        BASE, json={"name": "", "scopes": ["nope"], "extra": 1}, headers=admin
    )
    assert resp.status_code == 422
    fields = {e["field"] for e in resp.json()["errors"]}
    assert {"body.name", "body.scopes", "body.extra"} <= fields


async def test_usage_log_and_last_used(harness: Harness) -> None:
    """Each authenticated request is logged with status and latency; last_used_at moves."""
    await harness.tenant("acme")
    admin = harness.auth(await harness.token("acme", "tokens:*", name="admin"))
    await harness.client.get(BASE, headers=admin)
    await harness.client.get(f"{BASE}/nope", headers=admin)
    await harness.flush_usage()
    page = (await harness.client.get(f"{BASE}/usage-logs", headers=admin)).json()
    rows = page["items"]
    assert [(r["method"], r["path"], r["status"]) for r in rows[:2]] == [
        ("GET", BASE, 200),
        ("GET", f"{BASE}/nope", 404),
    ]
    assert all(r["latency_ms"] >= 0 and r["request_id"] for r in rows)
    listed = (await harness.client.get(BASE, headers=admin)).json()["items"]
    assert listed[0]["last_used_at"] is not None


async def test_pagination_with_cursor(harness: Harness) -> None:
    """Pages chain through next_cursor without repeats; a forged cursor is a 400."""
    await harness.tenant("acme")
    admin = harness.auth(await harness.token("acme", "tokens:*"))
    for i in range(5):
        await harness.client.post(
            BASE, json={"name": f"t{i}", "scopes": ["tokens:read"]}, headers=admin
        )
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = (await harness.client.get(BASE, params=params, headers=admin)).json()
        seen += [t["id"] for t in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert len(seen) == 6 == len(set(seen))
    bad = await harness.client.get(BASE, params={"cursor": "!!!"}, headers=admin)
    assert bad.status_code == 400


async def test_cannot_change_or_revoke_a_stronger_token(harness: Harness) -> None:
    """A tokens:write token may not narrow or revoke the tenant's admin token."""
    await harness.tenant("acme")
    admin = harness.auth(await harness.token("acme", "admin:*", name="root"))
    writer = harness.auth(await harness.token("acme", "tokens:write"))
    listed = (await harness.client.get(BASE, headers=admin)).json()["items"]
    root_id = next(t["id"] for t in listed if t["name"] == "root")
    narrowed = await harness.client.patch(
        f"{BASE}/{root_id}", json={"scopes": ["tokens:read"]}, headers=writer
    )
    assert narrowed.status_code == 403
    assert (await harness.client.delete(f"{BASE}/{root_id}", headers=writer)).status_code == 403
    assert (await harness.client.get(BASE, headers=admin)).status_code == 200


async def test_platform_token_reads_the_platform_audit_chain(harness: Harness) -> None:
    """Platform tokens may hold audit:read and see tenant administration."""
    from gatehouse.tenants.models import PLATFORM

    platform = harness.auth(await harness.token(PLATFORM, "platform:admin", "audit:read"))
    await harness.client.post("/v1/tenants", json={"id": "acme", "name": "Acme"}, headers=platform)
    entries = (await harness.client.get("/pip/audit/logs", headers=platform)).json()["items"]
    assert entries[0]["action"] == "tenant.create"
    assert entries[0]["target_id"] == "acme"

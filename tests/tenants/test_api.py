"""Tenant administration: platform tokens only; suspension and deletion take effect at once."""

import pytest

from gatehouse.tenants.models import PLATFORM
from tests.conftest import BOTH, Harness

pytestmark = BOTH


@pytest.fixture
async def platform(harness: Harness) -> dict[str, str]:
    """Headers of a platform admin token."""
    return harness.auth(await harness.token(PLATFORM, "platform:admin"))


async def test_crud(harness: Harness, platform: dict[str, str]) -> None:
    """Create, read, list, change and delete a tenant."""
    c = harness.client
    resp = await c.post(
        "/v1/tenants", json={"id": "acme", "name": "Acme", "tier": "pro"}, headers=platform
    )
    assert resp.status_code == 201, resp.text
    assert resp.headers["location"] == "/v1/tenants/acme"
    assert resp.json()["tier"] == "pro"
    assert (await c.get("/v1/tenants/acme", headers=platform)).json()["name"] == "Acme"
    ids = [t["id"] for t in (await c.get("/v1/tenants", headers=platform)).json()["items"]]
    assert ids == ["acme"]
    patched = await c.patch("/v1/tenants/acme", json={"tier": "enterprise"}, headers=platform)
    assert patched.json()["tier"] == "enterprise"
    assert (await c.delete("/v1/tenants/acme", headers=platform)).status_code == 204
    assert (await c.get("/v1/tenants/acme", headers=platform)).status_code == 404
    again = await c.post("/v1/tenants", json={"id": "acme", "name": "Again"}, headers=platform)
    assert again.status_code == 409


async def test_bad_input(harness: Harness, platform: dict[str, str]) -> None:
    """Bad slugs, tiers and unknown fields are refused with the field named."""
    c = harness.client
    for body, field in [
        ({"id": "Has Spaces", "name": "x"}, "body.id"),
        ({"id": "_platform", "name": "x"}, "body.id"),
        ({"id": "ok-id", "name": "x", "tier": "gold"}, "body.tier"),
        ({"id": "ok-id", "name": "x", "owner": "me"}, "body.owner"),
    ]:
        resp = await c.post("/v1/tenants", json=body, headers=platform)
        assert resp.status_code == 422, body
        assert field in {e["field"] for e in resp.json()["errors"]}
    patch = await c.patch("/v1/tenants/nope", json={"name": "x"}, headers=platform)
    assert patch.status_code == 404


async def test_tenant_tokens_cannot_administer(harness: Harness) -> None:
    """Even admin:* of a tenant gets 403 on tenant administration."""
    await harness.tenant("acme")
    admin = harness.auth(await harness.token("acme", "admin:*"))
    for method, path in [("GET", "/v1/tenants"), ("GET", "/v1/tenants/acme")]:
        assert (await harness.client.request(method, path, headers=admin)).status_code == 403
    created = await harness.client.post(
        "/v1/tenants", json={"id": "evil", "name": "x"}, headers=admin
    )
    assert created.status_code == 403


async def test_platform_tokens_hold_only_platform_scopes(harness: Harness) -> None:
    """A platform token cannot act inside a tenant."""
    secret = await harness.token(PLATFORM, "platform:admin")
    resp = await harness.client.get("/v1/integration/tokens/scopes", headers=harness.auth(secret))
    assert resp.status_code == 403


async def test_suspend_and_delete_stop_tokens(harness: Harness, platform: dict[str, str]) -> None:
    """Suspension refuses the tenant's tokens; deletion revokes them."""
    await harness.tenant("acme")
    user = harness.auth(await harness.token("acme", "tokens:read"))
    c = harness.client
    assert (await c.get("/v1/integration/tokens", headers=user)).status_code == 200
    await c.patch("/v1/tenants/acme", json={"status": "suspended"}, headers=platform)
    refused = await c.get("/v1/integration/tokens", headers=user)
    assert refused.status_code == 403
    assert "suspended" in refused.json()["detail"]
    await c.patch("/v1/tenants/acme", json={"status": "active"}, headers=platform)
    assert (await c.get("/v1/integration/tokens", headers=user)).status_code == 200
    await c.delete("/v1/tenants/acme", headers=platform)
    assert (await c.get("/v1/integration/tokens", headers=user)).status_code == 401

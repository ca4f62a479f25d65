"""Endpoints API: catalog, validation, secrets shown once, tenant isolation, audit."""

from typing import Any

from sqlalchemy import text

from gatehouse.events.catalog import NAMES
from tests.conftest import BOTH, Harness
from tests.opal.conftest import eventually
from tests.webhooks.conftest import Receiver, add_user, endpoint, tenant_auth

BASE = "/v1/integration/webhooks"
ISSUE_TYPES = [
    "sync.started",
    "sync.completed",
    "sync.failed",
    "bundle.published",
    "opal.published",
    "token.created",
    "token.revoked",
]


async def test_event_types_list_schemas(harness: Harness) -> None:
    """Every type of the catalog is listed with its JSON Schema, the issue's ones included."""
    auth = await tenant_auth(harness)
    r = await harness.client.get(f"{BASE}/event-types", headers=auth)
    assert r.status_code == 200, r.text
    types = {t["name"]: t for t in r.json()}
    assert set(types) == NAMES
    assert types["identity.created"]["schema"]["type"] == "object"
    assert types["membership.added"]["schema"]["required"][0] == "group_id"
    for name in ISSUE_TYPES:
        assert types[name]["schema"]["additionalProperties"] is False, name
        assert set(types[name]) == {"name", "description", "schema"}


@BOTH
async def test_create_read_patch_delete(harness: Harness, receiver: Receiver) -> None:
    """The secret is shown at creation and never again; PATCH and DELETE are audited."""
    auth = await tenant_auth(harness)
    c = harness.client
    made = await endpoint(
        harness,
        auth,
        receiver,
        event_types=["identity.*", "membership.added"],
        headers={"X-Team": "red", "Authorization": "Bearer hush"},
    )
    secret = made["secret"]
    assert secret.startswith("whsec_")
    assert made["timeout_seconds"] == 30 and made["retry_policy"] == "exponential"
    one = await c.get(f"{BASE}/{made['id']}", headers=auth)
    listed = await c.get(BASE, headers=auth)
    patched = await c.patch(
        f"{BASE}/{made['id']}", json={"enabled": False, "retry_policy": "linear"}, headers=auth
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["enabled"] is False and patched.json()["retry_policy"] == "linear"
    for r in (one, listed, patched):
        assert secret not in r.text and "hush" not in r.text
    assert one.json()["headers"] == {"X-Team": "***", "Authorization": "***"}
    assert [e["id"] for e in listed.json()["items"]] == [made["id"]]
    async with harness.svc.db.transaction(write=False) as s:
        stored = (await s.execute(text("SELECT secret_sealed FROM webhook_endpoints"))).scalar()
        actions = (await s.execute(text("SELECT action FROM audit_log"))).scalars().all()
    assert stored.startswith("ghx1.") and secret.removeprefix("whsec_") not in stored
    assert {"webhook.create", "webhook.update"} <= set(actions)
    assert (await c.delete(f"{BASE}/{made['id']}", headers=auth)).status_code == 204
    assert (await c.get(f"{BASE}/{made['id']}", headers=auth)).status_code == 404


@BOTH
async def test_custom_headers_are_sealed_at_rest(harness: Harness, receiver: Receiver) -> None:
    """Header values are in no column of the endpoint's row nor in its audit entries, shown
    by name only (every value masked) and sent as set; a PATCH re-seals them."""
    auth = await tenant_auth(harness)
    c = harness.client
    made = await endpoint(
        harness,
        auth,
        receiver,
        headers={"X-Team": "team-crimson-7", "Authorization": "Bearer hush-hush-42"},
    )
    assert made["headers"] == {"X-Team": "***", "Authorization": "***"}

    async def stored() -> str:
        async with harness.svc.db.transaction(write=False) as s:
            row = (await s.execute(text("SELECT * FROM webhook_endpoints"))).one()
            audit = (await s.execute(text("SELECT * FROM audit_log"))).all()
        assert str(row._mapping["headers_sealed"]).startswith("ghx1.")
        return str(tuple(row)) + str(audit)

    at_rest = await stored()
    assert "team-crimson-7" not in at_rest and "hush-hush-42" not in at_rest
    await add_user(harness, auth)

    async def sent() -> dict[str, str] | None:
        return receiver.headers[-1] if receiver.headers else None

    got = await eventually(sent)
    assert (got["x-team"], got["authorization"]) == ("team-crimson-7", "Bearer hush-hush-42")
    patched = await c.patch(
        f"{BASE}/{made['id']}", json={"headers": {"X-Api-Key": "key-cobalt-9"}}, headers=auth
    )
    assert patched.json()["headers"] == {"X-Api-Key": "***"}
    shown = (await c.get(f"{BASE}/{made['id']}", headers=auth)).json()
    assert shown["headers"] == {"X-Api-Key": "***"}
    assert "key-cobalt-9" not in await stored()
    cleared = await c.patch(f"{BASE}/{made['id']}", json={"headers": {}}, headers=auth)
    assert cleared.json()["headers"] == {}


async def test_invalid_endpoints_refused(harness: Harness, receiver: Receiver) -> None:
    """Bad URLs, private targets, unknown event types and reserved headers are 422."""
    auth = await tenant_auth(harness)
    bad: list[dict[str, Any]] = [
        {"url": "not a url"},
        {"url": "ftp://example.com/x"},
        {"url": "https://user:pw@example.com/x"},
        {"url": "http://10.1.2.3/hook"},
        {"url": "http://169.254.169.254/latest"},
        {"url": "https://example.com/x", "event_types": ["nope.created"]},
        {"url": "https://example.com/x", "event_types": ["identity.*x"]},
        {"url": "https://example.com/x", "headers": {"webhook-signature": "v1,x"}},
        {"url": "https://example.com/x", "headers": {"Content-Type": "text/plain"}},
        {"url": "https://example.com/x", "retry_policy": "sometimes"},
        {"url": "https://example.com/x", "timeout_seconds": 0},
    ]
    for body in bad:
        r = await harness.client.post(BASE, json=body, headers=auth)
        assert r.status_code == 422, (body, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
    ok = await harness.client.post(
        BASE, json={"url": "https://example.com/x", "event_types": ["*"]}, headers=auth
    )
    assert ok.status_code == 201, ok.text


async def test_https_only(harness: Harness) -> None:
    """With webhooks_require_https, http URLs are refused."""
    auth = await tenant_auth(harness)
    harness.svc.settings.webhooks_require_https = True
    r = await harness.client.post(BASE, json={"url": "http://example.com/x"}, headers=auth)
    assert r.status_code == 422
    r = await harness.client.post(BASE, json={"url": "https://example.com/x"}, headers=auth)
    assert r.status_code == 201


async def test_tenants_see_only_their_own(harness: Harness, receiver: Receiver) -> None:
    """Another tenant's endpoint is 404 for every route; scopes are enforced."""
    acme = await tenant_auth(harness, "acme")
    other = await tenant_auth(harness, "other")
    made = await endpoint(harness, acme, receiver)
    c = harness.client
    path = f"{BASE}/{made['id']}"
    assert (await c.get(path, headers=other)).status_code == 404
    assert (await c.patch(path, json={"enabled": False}, headers=other)).status_code == 404
    assert (await c.delete(path, headers=other)).status_code == 404
    assert (await c.get(f"{path}/deliveries", headers=other)).status_code == 404
    assert (await c.post(f"{path}/rotate-secret", headers=other)).status_code == 404
    assert (await c.get(BASE, headers=other)).json()["items"] == []
    reader = harness.auth(await harness.token("acme", "webhooks:read"))
    assert (await c.post(BASE, json={"url": receiver.url}, headers=reader)).status_code == 403

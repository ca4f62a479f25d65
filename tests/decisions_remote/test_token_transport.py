"""Remote OPA credentials: a bearer token only over https unless allowed, and stored secrets
never kept across a change of who may answer at the URL (TLS verification, CA bundle)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import select

from gatehouse.db.tenancy import ALL_TENANTS
from gatehouse.decisions.routing.models import DecisionConfig
from tests.conftest import Harness
from tests.decisions_remote.conftest import FAST, configure, router
from tests.decisions_remote.pki import Authority, server_context

URL = "/v1/tenants/acme/decision-config"
TOKEN = "opa-bearer-sekrit-123"


async def put(h: Harness, headers: dict[str, str], endpoint: dict[str, Any]) -> Any:
    """PUT a remote configuration with one endpoint; the raw response."""
    body = {**FAST, "mode": "remote", "opa_endpoints": [endpoint]}
    return await h.client.put(URL, json=body, headers=headers)


async def test_a_bearer_token_needs_https_unless_allowed(
    harness: Harness, platform: dict[str, str], opas: Any
) -> None:
    """Over http:// a token is refused (422 naming it, nothing stored) unless
    `allow_insecure_token` says so; a stored token cannot be kept once the flag is off."""
    await harness.tenant("acme")
    plain = await opas("plain")
    refused = await put(harness, platform, {"url": plain.url, "bearer_token": TOKEN})
    assert refused.status_code == 422, refused.text
    error = refused.json()["errors"][0]
    assert error["field"] == "body.opa_endpoints.0.bearer_token"
    assert "allow_insecure_token" in error["message"] and TOKEN not in refused.text
    assert (await harness.client.get(URL, headers=platform)).json()["version"] == 0
    allowed = {"url": plain.url, "bearer_token": TOKEN, "allow_insecure_token": True}
    doc = await configure(harness, platform, "acme", mode="remote", opa_endpoints=[allowed])
    assert doc["opa_endpoints"][0]["allow_insecure_token"] is True
    assert (await router(harness).evaluate("acme", "x", {})).engine == "remote"
    assert plain.authorizations[-1] == f"Bearer {TOKEN}"
    kept = await put(harness, platform, {"url": plain.url})
    assert kept.status_code == 422 and "only over https" in kept.json()["detail"]
    without = await put(harness, platform, {"url": plain.url, "bearer_token": None})
    assert without.status_code == 200 and not without.json()["opa_endpoints"][0]["bearer_token_set"]


async def test_turning_tls_verification_off_needs_the_secrets_again(
    harness: Harness, platform: dict[str, str], opas: Any, tmp_path: Path
) -> None:
    """Someone posing as the OPA at the endpoint's URL (a certificate from another CA) never
    gets the stored token: switching verification off or trusting another CA without sending
    the secrets again is refused."""
    await harness.tenant("acme")
    trusted, impostor_ca = Authority(), Authority()
    impostor = await opas(
        "mitm", ssl_context=server_context(impostor_ca, tmp_path, require_client=False)
    )
    endpoint = {"url": impostor.url, "ca_bundle": trusted.pem, "bearer_token": TOKEN}
    await configure(harness, platform, "acme", mode="remote", opa_endpoints=[endpoint])
    assert (await router(harness).evaluate("acme", "x", {})).engine == "fallback:deny"
    for trust in ({"tls_verify": False}, {"ca_bundle": impostor_ca.pem}):
        r = await put(harness, platform, {"url": impostor.url, **trust})
        assert r.status_code == 422, (trust, r.text)
        error = r.json()["errors"][0]
        assert error["type"] == "secret_required" and "bearer_token" in error["message"]
    shown = (await harness.client.get(URL, headers=platform)).json()
    assert shown["opa_endpoints"][0]["tls_verify"] and shown["version"] == 1
    await router(harness).evaluate("acme", "x", {})
    assert TOKEN not in " ".join(impostor.authorizations)
    # Sent again (the owner's decision), or cleared, the change goes through.
    again = {"url": impostor.url, "ca_bundle": impostor_ca.pem, "bearer_token": "fresh-token"}
    assert (await put(harness, platform, again)).status_code == 200
    assert (await router(harness).evaluate("acme", "x", {})).engine == "remote"
    assert impostor.authorizations == ["Bearer fresh-token"] * len(impostor.authorizations)
    cleared = {"url": impostor.url, "tls_verify": False, "bearer_token": None}
    assert (await put(harness, platform, cleared)).status_code == 200


async def test_a_token_stored_for_http_before_the_rule_is_not_sent(
    harness: Harness, platform: dict[str, str], opas: Any
) -> None:
    """A configuration saved before tokens needed https (an http URL, a sealed token, no
    `allow_insecure_token`) reaches its OPA without the token, never with it in clear."""
    await harness.tenant("acme")
    plain = await opas("legacy")
    allowed = {"url": plain.url, "bearer_token": TOKEN, "allow_insecure_token": True}
    await configure(harness, platform, "acme", mode="remote", opa_endpoints=[allowed])
    async with harness.svc.db.transaction() as session:
        stmt = select(DecisionConfig).execution_options(**{ALL_TENANTS: True})
        row = (await session.execute(stmt)).scalar_one()
        endpoints = [{**e, "allow_insecure_token": False} for e in row.settings["opa_endpoints"]]
        row.settings = {**row.settings, "opa_endpoints": endpoints}
    await router(harness).reload("acme")
    plain.authorizations.clear()
    asked = len(plain.seen)
    await router(harness).evaluate("acme", "x", {})
    assert len(plain.seen) > asked and TOKEN not in " ".join(plain.authorizations)

"""The decision configuration and health API: validation, secrets, isolation, audit, SSRF."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from gatehouse.audit.models import AuditEntry
from gatehouse.config import Settings
from gatehouse.db.tenancy import ALL_TENANTS
from gatehouse.decisions.remote.engine import NoEndpointAnswered, RemoteEngine
from gatehouse.decisions.remote.spec import EndpointSpec, HealthCheckSpec, RemoteSpec
from gatehouse.decisions.routing import service as routing
from gatehouse.decisions.routing.models import DecisionConfig, context
from gatehouse.secrets import service as secrets
from gatehouse.tenants.models import PLATFORM
from tests.conftest import BOTH, Harness, started
from tests.decisions_remote.conftest import configure, router, until
from tests.decisions_remote.pki import Authority, server_context

URL = "/v1/tenants/acme/decision-config"
TOKEN = "opa-bearer-sekrit-123"


async def test_defaults_and_round_trip(harness: Harness, platform: dict[str, str]) -> None:
    """An unconfigured tenant is embedded with deny fallback; PUT creates, then replaces."""
    await harness.tenant("acme")
    fresh = (await harness.client.get(URL, headers=platform)).json()
    assert (fresh["mode"], fresh["fallback_mode"], fresh["version"]) == ("embedded", "deny", 0)
    body = {"mode": "remote", "opa_endpoints": ["https://opa.example.com:8181"]}
    created = await harness.client.put(URL, json=body, headers=platform)
    assert created.status_code == 201, created.text
    again = await harness.client.put(URL, json=body, headers=platform)
    assert again.status_code == 200
    doc = again.json()
    assert doc["version"] == 2
    assert doc["opa_endpoints"][0]["url"] == "https://opa.example.com:8181"
    assert doc["health_check"]["endpoint"] == "/health"
    assert doc["circuit_breaker"] == {
        "failure_threshold": 5,
        "recovery_timeout": 30.0,
        "half_open_max_calls": 3,
    }


@BOTH
async def test_secrets_sealed_and_never_returned(
    harness: Harness, platform: dict[str, str], opas: Any
) -> None:
    """Bearer tokens are stored sealed, shown only as *_set, kept when left out, cleared by null."""
    await harness.tenant("acme")
    a = await opas("a")
    # The fake OPA speaks plain http on loopback: the token may go over it only when allowed.
    endpoint = {"url": a.url, "bearer_token": TOKEN, "allow_insecure_token": True}
    doc = await configure(harness, platform, "acme", mode="remote", opa_endpoints=[endpoint])
    assert TOKEN not in json.dumps(doc)
    assert doc["opa_endpoints"][0]["bearer_token_set"] is True
    async with harness.svc.read() as s:
        row = (
            await s.execute(select(DecisionConfig).execution_options(**{ALL_TENANTS: True}))
        ).scalar_one()
        audit = (
            (await s.execute(select(AuditEntry).execution_options(**{ALL_TENANTS: True})))
            .scalars()
            .all()
        )
    assert TOKEN not in json.dumps(row.settings) + json.dumps(row.credentials)
    assert all(TOKEN not in json.dumps([e.before, e.after]) for e in audit)
    assert "decision_config.create" in {e.action for e in audit}
    fetched = await harness.client.get(URL, headers=platform)
    assert TOKEN not in fetched.text
    same = {"url": a.url, "allow_insecure_token": True}
    kept = await configure(harness, platform, "acme", mode="remote", opa_endpoints=[same])
    assert kept["opa_endpoints"][0]["bearer_token_set"] is True
    spec = router(harness).routes["acme"].routing.remote
    assert spec is not None and spec.endpoints[0].bearer_token == TOKEN
    cleared = await configure(
        harness,
        platform,
        "acme",
        mode="remote",
        opa_endpoints=[{"url": a.url, "bearer_token": None}],
    )
    assert cleared["opa_endpoints"][0]["bearer_token_set"] is False


async def test_bearer_token_is_sent(
    harness: Harness, platform: dict[str, str], opas: Any, tmp_path: Path
) -> None:
    """The endpoint's bearer token goes in the Authorization header of each query (https)."""
    await harness.tenant("acme")
    ca = Authority()
    a = await opas("a", ssl_context=server_context(ca, tmp_path, require_client=False))
    endpoint = {"url": a.url, "ca_bundle": ca.pem, "bearer_token": TOKEN}
    await configure(harness, platform, "acme", mode="remote", opa_endpoints=[endpoint])
    assert (await router(harness).evaluate("acme", "x", {})).engine == "remote"
    assert a.authorizations[-1] == f"Bearer {TOKEN}"


async def test_validation(harness: Harness, platform: dict[str, str]) -> None:
    """Bad bodies are 422 problems naming the field."""
    await harness.tenant("acme")
    cases: list[tuple[dict[str, Any], str]] = [
        ({"mode": "remote"}, "body"),
        ({"mode": "remote", "opa_endpoints": ["ftp://x"]}, "body.opa_endpoints.0.url"),
        ({"opa_endpoints": ["https://u:p@opa.example.com"]}, "body.opa_endpoints.0.url"),
        ({"opa_endpoints": ["https://a.example", "https://a.example/"]}, "body"),
        (
            {"opa_endpoints": [{"url": "http://a.example", "tls_verify": False}]},
            "body.opa_endpoints.0",
        ),
        (
            {"opa_endpoints": [{"url": "https://a.example", "ca_bundle": "nope"}]},
            "body.opa_endpoints.0.ca_bundle",
        ),
        ({"load_balancing": "random"}, "body.load_balancing"),
        ({"fallback_mode": "allow"}, "body.fallback_mode"),
        (
            {"circuit_breaker": {"half_open_max_calls": 0}},
            "body.circuit_breaker.half_open_max_calls",
        ),
        ({"surprise": 1}, "body.surprise"),
    ]
    for body, field in cases:
        resp = await harness.client.put(URL, json=body, headers=platform)
        assert resp.status_code == 422, body
        assert resp.headers["content-type"].startswith("application/problem+json")
        assert field in {e["field"] for e in resp.json()["errors"]}, (body, resp.json())
    patched = await harness.client.patch(URL, json={"mode": "remote"}, headers=platform)
    assert patched.status_code == 422
    half = {"url": "https://a.example", "client_cert": None, "client_key": None}
    assert (
        await harness.client.put(URL, json={"opa_endpoints": [half]}, headers=platform)
    ).status_code == 201


async def test_reference_forms(harness: Harness, platform: dict[str, str]) -> None:
    """Reference 002's shapes are accepted: bare URLs and `embedded_policies`."""
    await harness.tenant("acme")
    body = {
        "mode": "remote",
        "opa_endpoints": ["https://opa-1.example.com:8181", "https://opa-2.example.com:8181"],
        "policy_package": "acme.enterprise.authz",
        "fallback_mode": "embedded_policies",
        "load_balancing": "health_based",
        "health_check": {"endpoint": "/health", "interval_seconds": 15, "timeout_seconds": 5},
    }
    doc = (await harness.client.put(URL, json=body, headers=platform)).json()
    assert doc["fallback_mode"] == "embedded"
    assert len(doc["opa_endpoints"]) == 2


async def test_tenant_isolation(harness: Harness) -> None:
    """A tenant manages only its own configuration; other tenants' answer 404; scopes apply."""
    await harness.tenant("acme")
    await harness.tenant("globex")
    writer = harness.auth(await harness.token("acme", "policies:write"))
    reader = harness.auth(await harness.token("acme", "policies:read"))
    other = harness.auth(await harness.token("acme", "identities:read"))
    body = {"fallback_mode": "basic"}
    assert (await harness.client.put(URL, json=body, headers=writer)).status_code == 201
    assert (await harness.client.get(URL, headers=reader)).json()["fallback_mode"] == "basic"
    assert (await harness.client.put(URL, json=body, headers=reader)).status_code == 403
    assert (await harness.client.get(URL, headers=other)).status_code == 403
    globex = "/v1/tenants/globex/decision-config"
    for method in ("GET", "PUT", "PATCH", "DELETE"):
        resp = await harness.client.request(method, globex, json=body, headers=writer)
        assert resp.status_code == 404, method
    assert (
        await harness.client.get("/v1/tenants/globex/health", headers=writer)
    ).status_code == 404
    metrics = harness.auth(await harness.token(PLATFORM, "platform:metrics"))
    assert (await harness.client.get(URL, headers=metrics)).status_code == 403
    assert (
        await harness.client.get("/v1/tenants/nope/decision-config", headers=writer)
    ).status_code == 404


async def test_refused_write_is_audited(harness: Harness) -> None:
    """A write refused for want of a scope lands in the tenant's audit chain."""
    await harness.tenant("acme")
    reader = harness.auth(await harness.token("acme", "policies:read"))
    assert (await harness.client.delete(URL, headers=reader)).status_code == 403
    async with harness.svc.read() as s:
        stmt = select(AuditEntry).execution_options(**{ALL_TENANTS: True})
        entries = (await s.execute(stmt)).scalars().all()
    assert any(e.outcome == "denied" and e.tenant_id == "acme" for e in entries)


async def test_health_route(harness: Harness, platform: dict[str, str], opas: Any) -> None:
    """GET /v1/tenants/{id}/health shows each endpoint's checks, breaker, errors and latency."""
    await harness.tenant("acme")
    a, b = await opas("a"), await opas("b")
    await configure(harness, platform, "acme", mode="remote", opa_endpoints=[a.url, b.url])
    engine = router(harness).routes["acme"].engine
    assert engine is not None
    await until(lambda: all(e.health.healthy for e in engine.endpoints), "both checked")
    await router(harness).evaluate("acme", "x", {})
    await b.go_down()
    await until(lambda: engine.endpoints[1].health.healthy is False, "b down")
    doc = (await harness.client.get("/v1/tenants/acme/health", headers=platform)).json()
    assert (doc["tenant_id"], doc["mode"], doc["healthy"]) == ("acme", "remote", True)
    up, down = doc["endpoints"][a.url], doc["endpoints"][b.url]
    assert up["healthy"] is True and up["breaker_state"] == "closed" and up["last_check"]
    assert down["healthy"] is False and down["consecutive_failures"] >= 2 and down["last_error"]
    assert doc["metrics"] == {"decisions": 1, "fallbacks": 0, "errors": 0}
    assert up["latency_ms"] is not None or down["latency_ms"] is not None
    await harness.tenant("plain")
    plain = (await harness.client.get("/v1/tenants/plain/health", headers=platform)).json()
    assert (plain["mode"], plain["endpoints"]) == ("embedded", {})


async def test_ssrf_guard_without_allowlist(tmp_path: Path, database_url: str) -> None:
    """Without an allowlist, loopback and private endpoints are refused on save and on call."""
    settings = Settings(
        home=tmp_path / "home",
        database_url=database_url,
        worker_in_process=False,
        _env_file=None,  # type: ignore[call-arg]
    )
    async with started(settings) as h:
        await h.tenant("acme")
        admin = h.auth(await h.token(PLATFORM, "platform:admin"))
        for url in (
            "http://127.0.0.1:8181",
            "http://10.1.2.3:8181",
            "http://[::1]:8181",
            "http://169.254.169.254",
        ):
            body = {"mode": "remote", "opa_endpoints": [url]}
            resp = await h.client.put(URL, json=body, headers=admin)
            assert resp.status_code == 422, url
            assert "refused" in resp.json()["detail"]
        async with h.svc.read() as s:
            stmt = select(AuditEntry).execution_options(**{ALL_TENANTS: True})
            outcomes = {(e.action, e.outcome) for e in (await s.execute(stmt)).scalars().all()}
        assert ("decision_config.put", "failure") in outcomes
        # A name that resolves to loopback is refused by the guard when connecting, too.
        spec = RemoteSpec(
            endpoints=(EndpointSpec("http://localhost:9"),),
            health_check=HealthCheckSpec(enabled=False),
        )
        engine = RemoteEngine(spec, [])
        try:
            with pytest.raises(NoEndpointAnswered):
                await engine.ask("x", {})
            assert "refused" in (engine.endpoints[0].last_error or "")
        finally:
            await engine.close()


async def test_key_rotation_reseals(harness: Harness, platform: dict[str, str]) -> None:
    """`keys rotate` re-seals endpoint secrets with the new key; they still open after it."""
    await harness.tenant("acme")
    body = {"opa_endpoints": [{"url": "https://opa.example.com", "bearer_token": TOKEN}]}
    assert (await harness.client.put(URL, json=body, headers=platform)).status_code == 201
    ring = harness.svc.keys
    before = ring.active
    async with harness.svc.db.transaction() as s:
        await secrets.rotate(s, ring)
    async with harness.svc.read() as s:
        row = await routing.find(s, "acme")
        assert row is not None
        sealed = row.credentials["https://opa.example.com"]["bearer_token"]
        assert ring.key_of(sealed) == ring.active != before
        url = "https://opa.example.com"
        assert ring.decrypt(sealed, context("acme", url, "bearer_token")) == TOKEN

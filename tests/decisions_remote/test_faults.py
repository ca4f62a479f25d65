"""Endpoints that cannot be reached by name, or that redirect: failures, failover and health."""

from __future__ import annotations

from typing import Any

from tests.conftest import Harness
from tests.decisions_remote.conftest import configure, router, until

INPUT = {"subject": {"id": "ada"}, "action": "read"}
NOWHERE = "http://nonexistent.invalid:8181"  # RFC 6761: `.invalid` never resolves


async def test_unresolvable_host_fails_over_and_shows_unhealthy(
    harness: Harness, platform: Any, opas: Any
) -> None:
    """Decisions go to the peer that answers; health checks keep running and mark the name down."""
    await harness.tenant("acme")
    b = await opas("b")
    await configure(harness, platform, "acme", mode="remote", opa_endpoints=[NOWHERE, b.url])
    engine = router(harness).routes["acme"].engine
    assert engine is not None
    nowhere = engine.endpoints[0]
    decisions = [await router(harness).evaluate("acme", "authz/allow", INPUT) for _ in range(4)]
    assert [(d.engine, d.endpoint) for d in decisions] == [("remote", b.url)] * 4
    await until(lambda: nowhere.health.healthy is False, "the unresolvable endpoint marked down")
    await until(lambda: nowhere.health.consecutive_failures >= 3, "checks go on after failing")
    assert not any(task.done() for task in engine.watchers)
    doc = (await harness.client.get("/v1/tenants/acme/health", headers=platform)).json()
    shown = doc["endpoints"][NOWHERE]
    assert shown["healthy"] is False and "cannot resolve host" in shown["last_error"]
    assert doc["endpoints"][b.url]["healthy"] is True and doc["healthy"] is True


async def test_unresolvable_only_endpoint_falls_back(harness: Harness, platform: Any) -> None:
    """With no other endpoint, the tenant's fallback answers (no 500), and the breaker counts it."""
    await harness.tenant("acme")
    body = {"mode": "remote", "opa_endpoints": [NOWHERE], "health_check": {"enabled": False}}
    await configure(harness, platform, "acme", **body)
    decision = await router(harness).evaluate("acme", "authz/allow", INPUT)
    assert (decision.engine, decision.result) == ("fallback:deny", False)
    endpoint = router(harness).routes["acme"].engine.endpoints[0]  # type: ignore[union-attr]
    assert endpoint.breaker.failures == 1 and "cannot resolve host" in (endpoint.last_error or "")


async def test_unresolvable_host_through_the_api(
    harness: Harness, platform: Any, opas: Any
) -> None:
    """POST /v1/data answers 200 from the reachable peer, whichever endpoint comes first."""
    await harness.tenant("acme")
    b = await opas("b", results={"authz/allow": True})
    await configure(harness, platform, "acme", mode="remote", opa_endpoints=[NOWHERE, b.url])
    headers = harness.auth(await harness.token("acme", "decisions:evaluate"))
    for _ in range(2):
        resp = await harness.client.post(
            "/v1/data/authz/allow", json={"input": INPUT}, headers=headers
        )
        assert resp.status_code == 200, resp.text
        assert resp.json()["result"] is True


async def test_redirect_is_a_failure(harness: Harness, platform: Any, opas: Any) -> None:
    """A 302 is no answer: the next endpoint answers, and alone it falls back (not undefined)."""
    await harness.tenant("acme")
    a, b = await opas("a", mode="redirect"), await opas("b")
    await configure(harness, platform, "acme", mode="remote", opa_endpoints=[a.url, b.url])
    engine = router(harness).routes["acme"].engine
    assert engine is not None
    redirecting = engine.endpoints[0]
    decisions = [await router(harness).evaluate("acme", "authz/allow", INPUT) for _ in range(4)]
    assert [(d.engine, d.endpoint) for d in decisions] == [("remote", b.url)] * 4
    assert redirecting.failures >= 1 and "HTTP 302" in (redirecting.last_error or "")
    await until(lambda: redirecting.health.healthy is False, "a redirecting health check fails")
    await configure(harness, platform, "acme", mode="remote", opa_endpoints=[a.url])
    alone = await router(harness).evaluate("acme", "authz/allow", INPUT)
    assert (alone.engine, alone.defined, alone.result) == ("fallback:deny", True, False)

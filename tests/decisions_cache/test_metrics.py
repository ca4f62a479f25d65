"""GET /v1/metrics (reference 002's dashboard JSON) and the Prometheus lines."""

from __future__ import annotations

from gatehouse.tenants.models import PLATFORM
from tests.decisions.conftest import Api

FIELDS = {
    "total_evaluations",
    "cache_hits",
    "cache_misses",
    "server_failures",
    "avg_response_time",
    "policy_violations",
    "fallbacks",
}


async def test_a_tenant_sees_its_own_counts_and_the_platform_all(api: Api) -> None:
    """Tenant tokens with decisions:read see their tenant only; platform:metrics sees all."""
    h = api.h
    await h.tenant("globex")
    globex = await h.token("globex", "decisions:evaluate", "decisions:read")
    for _ in range(2):
        await api.ask("authz/allow", {"action": "write"})  # denied: a policy violation
    await api.ask("authz/allow", {}, token=globex)
    mine = await h.client.get(
        "/v1/metrics", headers=h.auth(await h.token("acme", "decisions:read"))
    )
    assert mine.status_code == 200, mine.text
    body = mine.json()
    assert set(body["tenant_metrics"]) == {"acme"}
    acme = body["tenant_metrics"]["acme"]
    assert set(acme) == FIELDS and body["global_metrics"] == acme
    assert (acme["total_evaluations"], acme["cache_hits"], acme["cache_misses"]) == (2, 1, 1)
    assert acme["policy_violations"] == 2 and acme["server_failures"] == 0
    assert isinstance(acme["avg_response_time"], float) and body["alerts"] == {"acme": []}
    theirs = (await h.client.get("/v1/metrics", headers=h.auth(globex))).json()
    assert set(theirs["tenant_metrics"]) == {"globex"}
    platform = h.auth(await h.token(PLATFORM, "platform:metrics"))
    everything = (await h.client.get("/v1/metrics", headers=platform)).json()
    assert {"acme", "globex"} <= set(everything["tenant_metrics"])
    assert everything["global_metrics"]["total_evaluations"] == 3
    refused = await h.client.get("/v1/metrics", headers=h.auth(api.evaluator))
    assert refused.status_code == 403


async def test_prometheus_carries_decision_counters(api: Api) -> None:
    """The collector's counters appear at /metrics with a tenant label."""
    h = api.h
    for _ in range(2):
        await api.ask("authz/allow", {"action": "read"})
    text = (
        await h.client.get("/metrics", headers=h.auth(await h.token(PLATFORM, "platform:metrics")))
    ).text
    assert 'gatehouse_decisions_total{tenant="acme"} 2.0' in text
    assert 'gatehouse_decision_cache_hits_total{tenant="acme"} 1.0' in text
    assert 'gatehouse_decision_cache_misses_total{tenant="acme"} 1.0' in text
    assert 'gatehouse_decision_violations_total{tenant="acme"} 2.0' in text
    assert "gatehouse_decision_response_seconds_total" in text

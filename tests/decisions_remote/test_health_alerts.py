"""A tenant's health shows the alerts its decisions raise now: raised, followed, cleared."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tests.conftest import Harness
from tests.decisions_remote.conftest import Clock, configure, until

HEALTH = "/v1/tenants/acme/health"


async def test_failure_rate_alert_shows_in_health_and_clears(
    harness: Harness, platform: Any, opas: Any
) -> None:
    """With its OPA down every decision falls back (a failure): the failure-rate alert is in
    the tenant's health with its threshold, value and start; once OPA answers again and the
    window has passed, it is gone."""
    h = harness
    await h.tenant("acme")
    opa = await opas("a", results={"authz/allow": True})
    breaker = {"failure_threshold": 3, "recovery_timeout": 0.2, "half_open_max_calls": 2}
    await configure(
        h, platform, "acme", mode="remote", opa_endpoints=[opa.url], circuit_breaker=breaker
    )
    writer = h.auth(await h.token("acme", "policies:write", "policies:read"))
    acme = h.auth(await h.token("acme", "decisions:evaluate"))
    thresholds = {"failure_rate": 0.5, "response_time": 60_000}
    resp = await h.client.put("/v1/decision-settings/alerts", json=thresholds, headers=writer)
    assert resp.status_code == 200, resp.text
    alerts, clock = h.svc.alerts, Clock()
    alerts.clock, alerts.last = clock, None
    alerts.history.clear()

    async def decide(n: int) -> None:
        for _ in range(n):
            answer = await h.client.post("/v1/data/authz/allow", json={"input": {}}, headers=acme)
            assert answer.status_code == 200, answer.text

    async def tick() -> list[dict[str, Any]]:
        clock.now += 60
        await alerts.tick()
        health = await h.client.get(HEALTH, headers=writer)
        assert health.status_code == 200, health.text
        return list(health.json()["alerts"])

    await decide(1)
    assert await tick() == []
    await opa.go_down()
    await decide(4)  # refused connections: the deny fallback answers
    raised = await tick()
    assert [a["alert"] for a in raised] == ["failure_rate"]
    first = raised[0]
    assert first["threshold"] == 0.5 and 0.5 < first["value"] <= 1.0
    assert first["window_seconds"] == alerts.window
    since = datetime.fromisoformat(first["since"])
    platform_view = (await h.client.get(HEALTH, headers=platform)).json()["alerts"]
    assert [a["alert"] for a in platform_view] == ["failure_rate"]

    await decide(2)
    still = await tick()  # still raised: the value follows the window, `since` does not move
    assert datetime.fromisoformat(still[0]["since"]) == since

    await opa.come_up()
    route = h.svc.decision_router.routes["acme"]
    assert route.engine is not None
    await until(lambda: route.engine.endpoints[0].usable(), "OPA usable again")
    clock.now += alerts.window
    await decide(3)
    assert await tick() == []
    health = (await h.client.get(HEALTH, headers=writer)).json()
    assert health["alerts"] == [] and health["healthy"] is True

"""Alerts: thresholds over a sliding window; raised and cleared exactly once each."""

from __future__ import annotations

from sqlalchemy import select

from gatehouse.db.tenancy import TENANT
from gatehouse.events.models import Event
from tests.decisions.conftest import Api
from tests.decisions_cache.conftest import Clock

URL = "/v1/decision-settings/alerts"


async def alert_events(api: Api) -> list[tuple[str, str]]:
    """The tenant's alert events, oldest first."""
    stmt = select(Event).where(Event.type.like("alert.%")).order_by(Event.id)
    async with api.h.svc.read() as session:
        found = await session.scalars(stmt.execution_options(**{TENANT: api.org.tenant}))
        return [(e.type, e.subject_id) for e in found]


async def test_violations_raise_once_and_clear_once(api: Api) -> None:
    """Denials above the hourly threshold raise `alert.raised`; a quiet window clears it."""
    h = api.h
    thresholds = {"policy_violations": 10, "cache_hit_rate": 0.1}
    resp = await h.client.put(URL, json=thresholds, headers=h.auth(api.writer))
    assert resp.status_code == 200, resp.text
    assert (await h.client.get(URL, headers=h.auth(api.reader))).json()["policy_violations"] == 10
    alerts = h.svc.alerts
    clock = Clock()
    alerts.clock, alerts.last = clock, None
    alerts.history.clear()
    await alerts.tick()
    for n in range(3):
        await api.ask("authz/allow", {"action": "write", "n": n})  # denied, cache misses
    clock.now += 60
    await alerts.tick()  # 3 denials in 60 s: 180 an hour; a hit rate of 0
    clock.now += 60
    await alerts.tick()  # still raised: no second event
    raised = [("alert.raised", "cache_hit_rate"), ("alert.raised", "policy_violations")]
    assert sorted(await alert_events(api)) == raised
    metrics = h.auth(await h.token(api.org.tenant, "decisions:read"))
    body = (await h.client.get("/v1/metrics", headers=metrics)).json()
    assert {a["alert"] for a in body["alerts"]["acme"]} == {"cache_hit_rate", "policy_violations"}
    clock.now += alerts.window + 60
    await alerts.tick()
    clock.now += 60
    await alerts.tick()
    cleared = [("alert.cleared", "cache_hit_rate"), ("alert.cleared", "policy_violations")]
    assert sorted((await alert_events(api))[2:]) == cleared
    assert len(await alert_events(api)) == 4


async def test_thresholds_are_validated(api: Api) -> None:
    """A rate above 1 or an unknown threshold is refused."""
    h = api.h
    for bad in ({"failure_rate": 2}, {"latency": 5}):
        assert (await h.client.put(URL, json=bad, headers=h.auth(api.writer))).status_code == 422

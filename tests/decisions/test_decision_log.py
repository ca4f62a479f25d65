"""Decisions of the embedded engine in the decision log: written off the request, redacted."""

from __future__ import annotations

from tests.conftest import BOTH
from tests.decisions.conftest import Api


@BOTH
async def test_decisions_are_logged_and_masked(api: Api) -> None:
    """Every decision (defined or not) is a row with engine `embedded`; secrets are erased."""
    h = api.h
    alice = api.org.users["alice"]
    made = await api.ask("authz/allow", {"action": "read", "subject": alice, "password": "pw"})
    undefined = await api.ask("authz/nothing", {"action": "read"})
    await h.svc.decision_log.flush()
    reader = h.auth(await h.token("acme", "decisions:read"))
    resp = await h.client.get("/v1/decisions?engine=embedded", headers=reader)
    assert resp.status_code == 200, resp.text
    items = {i["decision_id"]: i for i in resp.json()["items"]}
    row = items[made["decision_id"]]
    assert row["path"] == "authz/allow"
    assert row["result"] is True
    assert "password" not in row["input"]
    assert "/input/password" in row["erased"]
    assert row["input"]["subject"]["id"] == alice  # stored as enriched
    assert row["cache_hit"] is False
    assert row["latency_ms"] >= 0
    assert items[undefined["decision_id"]]["defined"] is False
    written = h.svc.metrics.decisions_logged._value.get()
    assert written >= 2


async def test_full_queue_counts_drops(api: Api) -> None:
    """A decision that finds the queue full is counted, not silently lost."""
    log = api.h.svc.decision_log
    log.capacity = 0
    await api.ask("authz/allow", {})
    dropped = log.metrics.decision_log_dropped.labels("queue_full")._value.get()
    assert dropped == 1


async def test_enrichment_can_be_turned_off(api: Api) -> None:
    """With enrichment off, the subject is passed as sent."""
    h = api.h
    url = "/v1/decision-settings"
    assert (await h.client.get(url, headers=h.auth(api.reader))).json()["enrich"] is True
    resp = await h.client.put(url, json={"enrich": False}, headers=h.auth(api.writer))
    assert resp.status_code == 200, resp.text
    body = await api.ask("authz/allow", {"action": "read", "subject": "alice"})
    assert body["result"] is False

"""Settings PUTs change only what they name, everywhere (decision, cache, alert settings)."""

from __future__ import annotations

from tests.decisions.conftest import Api, api

__all__ = ["api"]


async def test_decision_settings_keep_what_is_not_named(api: Api) -> None:
    """`{"enrich": false}` leaves the AuthZEN entrypoint as it was, and answers both."""
    h, url = api.h, "/v1/decision-settings"
    set_rule = await h.client.put(
        url, json={"entrypoint": "authz/allow"}, headers=h.auth(api.writer)
    )
    assert set_rule.json() == {"enrich": True, "entrypoint": "authz/allow"}
    off = await h.client.put(url, json={"enrich": False}, headers=h.auth(api.writer))
    assert off.status_code == 200, off.text
    assert off.json() == {"enrich": False, "entrypoint": "authz/allow"}
    now = (await h.client.get(url, headers=h.auth(api.reader))).json()
    assert now == {"enrich": False, "entrypoint": "authz/allow"}


async def test_cache_and_alert_settings_keep_what_is_not_named(api: Api) -> None:
    """A named null goes back to the default; an unnamed field keeps its value."""
    h = api.h
    token = await h.token("acme", "admin:*")
    url = "/v1/decision-settings/cache"
    first = await h.client.put(
        url, json={"enabled": False, "ttl_seconds": 7}, headers=h.auth(token)
    )
    assert first.status_code == 200, first.text
    second = (await h.client.put(url, json={"max_entries": 10}, headers=h.auth(token))).json()
    assert (second["enabled"], second["ttl_seconds"], second["max_entries"]) == (False, 7, 10)
    third = (await h.client.put(url, json={"ttl_seconds": None}, headers=h.auth(token))).json()
    assert (third["enabled"], third["ttl_seconds"], third["max_entries"]) == (False, None, 10)
    alerts = "/v1/decision-settings/alerts"
    await h.client.put(alerts, json={"failure_rate": 0.2}, headers=h.auth(token))
    changed = await h.client.put(alerts, json={"cache_hit_rate": 0.5}, headers=h.auth(token))
    body = changed.json()
    assert (body["failure_rate"], body["cache_hit_rate"]) == (0.2, 0.5)

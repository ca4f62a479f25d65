"""OPAL settings, OPAL client reports, and the generated OPAL configuration."""

from __future__ import annotations

import json

from tests.distribution.conftest import Org
from tests.fleet.conftest import audit_of, problem
from tests.opal.conftest import Recorder, configure, opal_settings, opal_status

SECRETS = ("opal-datasource-secret", "gth_fetch_secret")


async def test_settings_store_tokens_sealed_and_show_only_whether_set(
    org: Org, opal_server: Recorder
) -> None:
    """Defaults before anything is set; tokens never come back; null keeps, "" clears."""
    empty = await org.h.client.get("/pip/opal/settings", headers=org.headers(org.admin))
    assert empty.json()["enabled"] is False
    assert empty.json()["topics"] == ["gatehouse:{tenant}"]
    assert empty.json()["save_method"] == "PUT" and empty.json()["debounce_seconds"] == 1.0
    r = await configure(org, opal_server.url)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["datasource_token_set"] and body["fetch_token_set"] and body["version"] == 1
    assert not any(secret in r.text for secret in SECRETS)
    kept = opal_settings(
        opal_server.url, datasource_token=None, fetch_token=None, topics=["gatehouse:{tenant}:t1"]
    )
    r = await org.h.client.put("/pip/opal/settings", json=kept, headers=org.headers(org.admin))
    assert r.json()["datasource_token_set"]
    assert r.json()["topics"] == ["gatehouse:{tenant}:t1"]
    cleared = opal_settings(opal_server.url, enabled=False, datasource_token="", fetch_token=None)
    r = await org.h.client.put("/pip/opal/settings", json=cleared, headers=org.headers(org.admin))
    assert not r.json()["datasource_token_set"] and r.json()["fetch_token_set"]
    entries = await audit_of(org.h)
    changes = [e for e in entries if e.action == "opal.settings"]
    assert len(changes) == 3
    assert not any(s in json.dumps([e.before, e.after]) for e in changes for s in SECRETS)
    async with org.h.svc.read() as session:
        from gatehouse.opal.service import settings_row

        row = await settings_row(session, org.tenant)
    assert (
        row is not None
        and row.fetch_token_sealed
        and "gth_fetch_secret" not in row.fetch_token_sealed
    )


async def test_bad_settings_are_refused(org: Org) -> None:
    """Enabled without a server, base URL or fetch token; bad topics, paths, methods: 422."""
    bad = [
        {"enabled": True},
        {"enabled": True, "server_url": "http://opal.test", "fetch_base_url": "http://g.test"},
        {"topics": ["has space"]},
        {"topics": []},
        {"dst_path": "no-leading-slash"},
        {"save_method": "POST"},
        {"debounce_seconds": -1},
        {"server_url": "ftp://opal.test"},
        {"unknown": 1},
    ]
    for body in bad:
        r = await org.h.client.put("/pip/opal/settings", json=body, headers=org.headers(org.admin))
        problem(r, 422)
    first = await org.h.client.put(
        "/pip/opal/settings", json=bad[0], headers=org.headers(org.admin)
    )
    fields = {e["field"] for e in problem(first, 422)["errors"]}
    assert fields == {"server_url", "fetch_base_url", "fetch_token"}
    reader = await org.h.token(org.tenant, "opal:read")
    r = await org.h.client.put("/pip/opal/settings", json={}, headers=org.headers(reader))
    problem(r, 403)


def report(update_id: str | None = "u-1", saved: bool = True) -> dict[str, object]:
    """A DataUpdateReport as an OPAL client posts it."""
    entry = {
        "url": "http://gatehouse.test/opal/pip-data/acme",
        "config": {"headers": {"Authorization": "Bearer gth_fetch_secret"}},
        "topics": ["gatehouse:acme"],
        "dst_path": "/gatehouse",
        "save_method": "PUT",
        "data": None,
    }
    return {
        "update_id": update_id,
        "reports": [{"entry": entry, "fetched": True, "saved": saved, "hash": "abc"}],
        "policy_hash": None,
        "user_data": {},
    }


async def test_reports_are_validated_stored_and_shown(org: Org) -> None:
    """A client's report is kept (without the entry's token) and shown in the status;
    malformed, oversize, foreign and unauthenticated posts are refused."""
    client = await org.h.token(org.tenant, "opal:read")
    url = f"/opal/reports/{org.tenant}"
    r = await org.h.client.post(url, json=report(), headers=org.headers(client))
    assert r.status_code == 200, r.text
    assert r.json() == {"stored": True, "succeeded": True}
    r = await org.h.client.post(url, json=report("u-2", saved=False), headers=org.headers(client))
    assert r.json()["succeeded"] is False
    shown = (await opal_status(org))["reports"]
    assert [x["update_id"] for x in shown] == ["u-2", "u-1"]
    assert shown[1]["entries"][0]["saved"] is True
    assert "gth_fetch_secret" not in json.dumps(shown)
    for bad in ({}, {"reports": "x"}, {"reports": [{"entry": {}}]}, [1, 2]):
        problem(await org.h.client.post(url, json=bad, headers=org.headers(client)), 422)
    garbage = await org.h.client.post(
        url,
        content=b"{not json",
        headers={**org.headers(client), "content-type": "application/json"},
    )
    problem(garbage, 400)
    huge = report()
    huge["user_data"] = {"x": "y" * 300_000}
    problem(await org.h.client.post(url, json=huge, headers=org.headers(client)), 413)
    await org.h.tenant("globex")
    theirs = await org.h.token("globex", "opal:read")
    problem(await org.h.client.post(url, json=report(), headers=org.headers(theirs)), 404)
    problem(await org.h.client.post(url, json=report()), 401)


async def test_generated_config_works_as_opal_reads_it_and_holds_no_secret(
    org: Org, opal_server: Recorder
) -> None:
    """OPAL_DATA_CONFIG_SOURCES carries one entry for the complete document; client env names
    topics and report callbacks; placeholders stand where tokens go."""
    await configure(org, opal_server.url, callback_url="http://gatehouse.test/opal/reports/acme")
    r = await org.h.client.get("/pip/opal/config", headers=org.headers(org.admin))
    assert r.status_code == 200, r.text
    assert not any(secret in r.text for secret in SECRETS)
    body = r.json()
    sources = json.loads(body["server_env"]["OPAL_DATA_CONFIG_SOURCES"])
    assert sources == body["data_sources"]
    (entry,) = sources["config"]["entries"]
    assert entry["url"] == "http://gatehouse.test/opal/pip-data/acme"
    assert entry["dst_path"] == "/gatehouse" and entry["save_method"] == "PUT"
    assert entry["config"]["headers"]["Authorization"].startswith("Bearer <")
    client = body["client_env"]
    assert client["OPAL_DATA_TOPICS"] == "gatehouse:acme"
    assert entry["topics"] == ["gatehouse:acme"]
    assert client["OPAL_SERVER_URL"] == opal_server.url
    assert client["OPAL_SHOULD_REPORT_ON_DATA_UPDATES"] == "true"
    callbacks = json.loads(client["OPAL_DEFAULT_UPDATE_CALLBACKS"])["callbacks"]
    assert callbacks[0][0] == "http://gatehouse.test/opal/reports/acme"
    missing = await org.h.client.get(
        "/pip/connections/nope/opal-config", headers=org.headers(org.admin)
    )
    problem(missing, 404)

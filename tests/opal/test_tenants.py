"""Two tenants on one OPAL server: each tenant's updates reach its own clients only, a report
about another tenant's update is refused, and stored tokens never follow a moved server."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from gatehouse.opal.wire import TOKEN_PLACEHOLDER
from tests.conftest import BOTH, Harness
from tests.distribution.conftest import Org
from tests.fleet.conftest import audit_of, problem
from tests.opal.conftest import (
    Recorder,
    configure,
    eventually,
    opal_settings,
    opal_status,
    recording,
)


@dataclass
class Subscriber:
    """An OPAL client's subscription: its topics and the updates the server pushed to it."""

    topics: list[str]
    inbox: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Broker:
    """An OPAL server stand-in that fans each update out by topic, as OPAL's pub/sub does:
    every subscriber gets the update once per published topic it subscribes to."""

    url: str = ""
    subscribers: list[Subscriber] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def subscribe(self, topics: list[str]) -> Subscriber:
        """A client connecting with `OPAL_DATA_TOPICS`."""
        found = Subscriber(topics)
        self.subscribers.append(found)
        return found

    def publish(self, update: dict[str, Any]) -> None:
        """Push an update to the subscribers of its entries' topics."""
        published = [t for entry in update["entries"] for t in entry.get("topics", [])]
        with self.lock:
            for subscriber in self.subscribers:
                for topic in published:
                    if topic in subscriber.topics:
                        subscriber.inbox.append(update)


@pytest.fixture
def broker() -> Iterator[Broker]:
    """The shared OPAL server on loopback."""
    for server in recording():
        found = Broker(server.url)
        server.listeners.append(found.publish)
        yield found


@dataclass
class Client:
    """An OPAL client of one tenant, run from the configuration Gatehouse generated for it:
    it fetches every entry it is told about, stores it at `dst_path`, and reports back."""

    org: Org
    token: str  # the tenant's opal:read token, where the config has placeholders
    env: dict[str, str]
    subscription: Subscriber
    store: dict[str, Any] = field(default_factory=dict)
    fetched: list[str] = field(default_factory=list)
    applied: list[str] = field(default_factory=list)

    async def apply(self) -> None:
        """Fetch, save and report every update pushed so far."""
        while self.subscription.inbox:
            update = self.subscription.inbox.pop(0)
            reports = []
            for entry in update["entries"]:
                r = await self.org.h.client.get(entry["url"], headers=entry["config"]["headers"])
                self.fetched.append(entry["url"])
                if r.status_code == 200:
                    self.store[entry["dst_path"]] = r.json()
                ok = r.status_code == 200
                reports.append({"entry": entry, "fetched": ok, "saved": ok, "hash": "h"})
            self.applied.append(update["id"])
            report = {"update_id": update["id"], "reports": reports}
            defaults = json.loads(self.env["OPAL_DEFAULT_UPDATE_CALLBACKS"])["callbacks"]
            for url, config in defaults:
                headers = {
                    k: v.replace(TOKEN_PLACEHOLDER, self.token)
                    for k, v in config["headers"].items()
                }
                await self.org.h.client.post(url, json=report, headers=headers)


async def tenant(h: Harness, name: str, user: str) -> Org:
    """A tenant with one SCIM user."""
    await h.tenant(name)
    org = Org(h, name, await h.token(name, "admin:*"), await h.token(name, "bundles:read"), {}, {})
    await org.add_user(user, title="Staff")
    return org


async def client_of(org: Org, broker: Broker) -> Client:
    """Publishing turned on against the shared server, and a client run from the config."""
    token = await org.h.token(org.tenant, "opal:read")
    assert (await configure(org, broker.url, fetch_token=token)).status_code == 200
    r = await org.h.client.get("/pip/opal/config", headers=org.headers(org.admin))
    env = r.json()["client_env"]
    return Client(org, token, env, broker.subscribe(env["OPAL_DATA_TOPICS"].split(",")))


async def delivered_at(org: Org, revision: int) -> dict[str, Any]:
    """The tenant's delivered publish at `revision` or later."""

    async def check() -> Any:
        last = (await opal_status(org))["last_delivered"]
        return last if last and last["revision"] >= revision else None

    return dict(await eventually(check))


@BOTH
async def test_one_tenants_update_never_reaches_another_tenants_client(
    harness: Harness, broker: Broker
) -> None:
    """Tenants acme and globex publish to one OPAL server: globex's change reaches globex's
    client once (one topic, one update, one fetch) and acme's client never sees, fetches or
    reports it; acme's OPA keeps acme's document."""
    acme = await tenant(harness, "acme", "alice")
    globex = await tenant(harness, "globex", "gina")
    ours, theirs = await client_of(acme, broker), await client_of(globex, broker)
    await delivered_at(acme, 0)
    first = await delivered_at(globex, 0)
    await globex.patch_user(globex.users["gina"], "title", "Boss")
    update = await delivered_at(globex, first["revision"] + 1)
    await ours.apply()
    await theirs.apply()
    assert theirs.applied.count(update["id"]) == 1
    assert theirs.fetched.count("http://gatehouse.test/opal/pip-data/globex") == len(theirs.applied)
    assert update["id"] not in ours.applied
    assert not [url for url in ours.fetched if "globex" in url]
    assert "alice" in json.dumps(ours.store) and "gina" not in json.dumps(ours.store)
    reported = {r["update_id"] for r in (await opal_status(acme))["reports"]}
    assert update["id"] not in reported and reported
    shown = (await opal_status(globex))["reports"]
    assert [r["succeeded"] for r in shown if r["update_id"] == update["id"]] == [True]
    assert ours.subscription.topics == ["gatehouse:acme"]
    assert theirs.subscription.topics == ["gatehouse:globex"]


async def test_a_report_about_another_tenants_update_is_refused(
    harness: Harness, broker: Broker
) -> None:
    """An acme client posting, with acme's token, a report about globex's update (its entry
    names globex's document and topic) is refused and nothing is recorded under acme."""
    acme = await tenant(harness, "acme", "alice")
    globex = await tenant(harness, "globex", "gina")
    ours, theirs = await client_of(acme, broker), await client_of(globex, broker)
    await delivered_at(globex, 0)

    async def pushed() -> Any:
        return list(theirs.subscription.inbox)

    update = (await eventually(pushed))[0]
    entry = update["entries"][0]
    report = {
        "update_id": update["id"],
        "reports": [{"entry": entry, "fetched": True, "saved": True, "hash": "h"}],
    }
    url = "/opal/reports/acme"
    refused = await harness.client.post(url, json=report, headers=acme.headers(ours.token))
    body = problem(refused, 422)
    assert "did not publish" in body["detail"] and body["errors"][0]["field"].startswith("body")
    # The same entry under acme's topic, or acme's URL under globex's topic: refused too.
    for forged in (
        {**entry, "topics": ["gatehouse:acme"]},
        {**entry, "url": "http://gatehouse.test/opal/pip-data/acme"},
    ):
        report["reports"][0]["entry"] = forged
        again = await harness.client.post(url, json=report, headers=acme.headers(ours.token))
        problem(again, 422)
    assert (await opal_status(acme))["reports"] == []
    actions = {e.action: e.outcome for e in await audit_of(harness, "acme")}
    assert actions.get("opal.report") == "failure"


async def test_topics_are_the_tenants_own(org: Org) -> None:
    """A shared topic (OPAL's `policy_data`), another tenant's, a second topic or a sub-topic
    is refused; a named topic of the tenant's own is taken."""
    for topics in (
        ["policy_data"],
        ["gatehouse:globex"],
        ["gatehouse:{tenant}", "gatehouse:{tenant}:x"],
        ["gatehouse:{tenant}/users"],
        ["x-gatehouse:{tenant}"],
    ):
        r = await org.h.client.put(
            "/pip/opal/settings", json={"topics": topics}, headers=org.headers(org.admin)
        )
        expected = "the tenant's own" if len(topics) == 1 else "at most 1 item"
        assert expected in json.dumps(problem(r, 422)), topics
    r = await org.h.client.put(
        "/pip/opal/settings",
        json={"topics": ["gatehouse:{tenant}:eu"]},
        headers=org.headers(org.admin),
    )
    assert r.status_code == 200 and r.json()["topics"] == ["gatehouse:{tenant}:eu"]


@BOTH
async def test_moving_the_server_needs_the_tokens_again(
    org: Org, opal_server: Recorder, other_opal_server: Recorder
) -> None:
    """An `opal:write` token that points the settings at its own server (or moves where
    clients fetch and report) without sending the tokens again is refused: the stored
    datasource and fetch tokens never reach the new destination."""
    assert (await configure(org, opal_server.url)).status_code == 200
    await eventually(lambda: _count(opal_server, 1))
    admin = org.headers(org.admin)
    moves = {
        "server_url": (other_opal_server.url, {"body.datasource_token", "body.fetch_token"}),
        "fetch_base_url": ("http://elsewhere.test", {"body.fetch_token"}),
        "callback_url": ("http://elsewhere.test/opal/reports/acme", {"body.fetch_token"}),
    }
    for name, (value, named) in moves.items():
        body = opal_settings(opal_server.url, datasource_token=None, fetch_token=None)
        body[name] = value
        r = await org.h.client.put("/pip/opal/settings", json=body, headers=admin)
        errors = problem(r, 422)["errors"]
        assert {e["field"] for e in errors} == named, name
        assert all("must be sent again" in e["message"] for e in errors)
    shown = (await org.h.client.get("/pip/opal/settings", headers=admin)).json()
    assert shown["server_url"].startswith(opal_server.url) and shown["version"] == 1
    r = await org.h.client.post("/pip/opal/publish", headers=admin)
    assert r.status_code == 202
    await eventually(lambda: _count(opal_server, 2))  # the first publish, and this one
    assert other_opal_server.updates == []
    moved = opal_settings(
        other_opal_server.url, datasource_token="new-datasource", fetch_token="gth_new_fetch"
    )
    r = await org.h.client.put("/pip/opal/settings", json=moved, headers=admin)
    assert r.status_code == 200, r.text
    await org.h.client.post("/pip/opal/publish", headers=admin)
    await eventually(lambda: _count(other_opal_server, 1))
    assert other_opal_server.auth == ["Bearer new-datasource"]
    sent = json.dumps(other_opal_server.updates)
    assert "gth_new_fetch" in sent and "gth_fetch_secret" not in sent
    # Clearing a token is as good as sending it again.
    cleared = opal_settings(opal_server.url, datasource_token="", fetch_token="gth_fetch_secret")
    r = await org.h.client.put("/pip/opal/settings", json=cleared, headers=admin)
    assert r.status_code == 200 and not r.json()["datasource_token_set"]


async def _count(server: Recorder, n: int) -> bool:
    return len(server.updates) >= n

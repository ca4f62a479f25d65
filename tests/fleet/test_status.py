"""POST /opa/status and GET /v1/distribution/status: each OPA's revisions, lag, errors, silence."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import update

from gatehouse.fleet.models import OpaInstance
from gatehouse.fleet.revisions import ServedRevision
from tests.conftest import BOTH, Harness
from tests.fleet.conftest import GO_ZERO, audit_of, problem, status_report

PUBLISHED = datetime(2026, 1, 2, 3, 0, tzinfo=UTC)


class History:
    """The revisions a tenant's bundle went through, as the distribution package records them."""

    def __init__(self, *revisions: str) -> None:
        self.revisions = list(revisions)

    async def current(self, tenant_id: str, bundle: str) -> ServedRevision | None:
        """The newest revision, for the acme tenant's `gatehouse` bundle only."""
        if tenant_id != "acme" or bundle != "gatehouse" or not self.revisions:
            return None
        return await self.lookup(tenant_id, bundle, self.revisions[-1])

    async def lookup(self, tenant_id: str, bundle: str, revision: str) -> ServedRevision | None:
        """A revision's place in the history."""
        if revision not in self.revisions:
            return None
        n = self.revisions.index(revision)
        return ServedRevision(revision, PUBLISHED + timedelta(minutes=n), n + 1)


async def fleet(h: Harness, tenant: str = "acme") -> tuple[str, str]:
    """A tenant, its OPAs' reporting token and a reader's token."""
    await h.tenant(tenant)
    return await h.token(tenant, "fleet:report"), await h.token(tenant, "fleet:read")


async def report(h: Harness, token: str, doc: dict[str, Any], path: str = "/opa/status") -> Any:
    """POST a status report and return the answer's JSON (asserting it was taken)."""
    resp = await h.client.post(path, json=doc, headers=h.auth(token))
    assert resp.status_code == 200, resp.text
    return resp.json()


async def view(h: Harness, token: str, query: str = "") -> dict[str, Any]:
    """The fleet status."""
    resp = await h.client.get(f"/v1/distribution/status{query}", headers=h.auth(token))
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


@BOTH
async def test_a_report_is_kept_as_the_instance_state(harness: Harness) -> None:
    """OPA's report (nanosecond times, zero times for never) becomes the instance's state."""
    reporter, reader = await fleet(harness)
    doc = status_report(
        revision="7-abc",
        code="bundle_error",
        message="server replied with Forbidden",
        http_code=403,
        errors=[{"code": "rego_parse_error", "message": "unexpected eof"}],
        last_successful_activation=GO_ZERO,
    )
    doc["bundles"]["other"] = {"name": "other", "active_revision": "", "last_request": GO_ZERO}
    answer = await report(harness, reporter, doc)
    assert answer["instance_id"] == "opa-1"
    assert answer["bundles"] == {"gatehouse": "7-abc", "other": ""}
    status = await view(harness, reader)
    assert (status["instances"], status["stale"]) == (1, 0)
    [opa] = status["items"]
    assert opa["version"] == "1.4.2" and opa["labels"]["app"] == "orders"
    assert opa["reports"] == 1 and opa["stale"] is False
    assert opa["plugins"]["bundle"] == {"state": "OK", "message": ""}
    gatehouse, other = opa["bundles"]
    assert gatehouse["active_revision"] == "7-abc"
    assert gatehouse["last_request"].startswith("2026-01-02T03:04:05.123456")
    assert gatehouse["last_successful_activation"] is None
    assert gatehouse["error"] == {
        "code": "bundle_error",
        "message": "server replied with Forbidden",
        "http_code": 403,
        "errors": [{"code": "rego_parse_error", "message": "unexpected eof"}],
    }
    # Nothing is known to be served (the distribution hook is not wired): lag is unknown.
    assert (gatehouse["served_revision"], gatehouse["behind"]) == (None, None)
    assert other["revision_seen_at"] is None and other["error"] is None


@BOTH
async def test_behind_by_how_much_and_since_when(harness: Harness) -> None:
    """Against the served revision: behind, how many revisions, since when; caught up after."""
    history = History("5-aaa", "6-bbb", "7-ccc")
    harness.svc.served_revisions = history
    reporter, reader = await fleet(harness)
    await report(harness, reporter, status_report("opa-old", "5-aaa"))
    await report(harness, reporter, status_report("opa-new", "7-ccc"))
    await report(harness, reporter, status_report("opa-odd", "9-zzz"))
    items = {i["instance_id"]: i["bundles"][0] for i in (await view(harness, reader))["items"]}
    old, new, odd = items["opa-old"], items["opa-new"], items["opa-odd"]
    assert (old["behind"], old["revisions_behind"], old["served_revision"]) == (True, 2, "7-ccc")
    # Since the served revision was published (earlier than the report that showed the lag).
    assert old["behind_since"].startswith("2026-01-02T03:02:00")
    assert old["behind_seconds"] > 0
    assert (new["behind"], new["revisions_behind"], new["behind_since"]) == (False, 0, None)
    assert (odd["behind"], odd["revisions_behind"]) == (True, None)
    history.revisions.append("8-ddd")
    await report(harness, reporter, status_report("opa-new", "7-ccc"))
    caught = (await view(harness, reader))["items"]
    new = {i["instance_id"]: i["bundles"][0] for i in caught}["opa-new"]
    assert (new["behind"], new["revisions_behind"]) == (True, 1)
    await report(harness, reporter, status_report("opa-old", "8-ddd"))
    old = {i["instance_id"]: i["bundles"][0] for i in (await view(harness, reader))["items"]}
    assert old["opa-old"]["behind"] is False


async def test_revision_seen_at_follows_the_active_revision(harness: Harness) -> None:
    """A report of the same revision keeps when it was first seen; a new revision resets it."""
    reporter, reader = await fleet(harness)
    await report(harness, reporter, status_report(revision="1-a"))
    first = (await view(harness, reader))["items"][0]["bundles"][0]["revision_seen_at"]
    await report(harness, reporter, status_report(revision="1-a"))
    opa = (await view(harness, reader))["items"][0]
    assert opa["reports"] == 2 and opa["bundles"][0]["revision_seen_at"] == first
    await report(harness, reporter, status_report(revision="2-b"))
    later = (await view(harness, reader))["items"][0]["bundles"][0]["revision_seen_at"]
    assert later > first


@BOTH
async def test_silent_instances_are_stale(harness: Harness) -> None:
    """An instance without a report for the configured intervals is flagged and countable."""
    reporter, reader = await fleet(harness)
    for name in ("opa-a", "opa-b", "opa-c"):
        await report(harness, reporter, status_report(name))
    limit = harness.svc.settings.opa_status_interval_seconds * 3
    silent_since = datetime.now(UTC) - timedelta(seconds=limit + 60)
    async with harness.svc.db.transaction() as s:
        await s.execute(
            update(OpaInstance)
            .where(OpaInstance.tenant_id == "acme", OpaInstance.instance_id == "opa-b")
            .values(last_report_at=silent_since)
            .execution_options(gatehouse_tenant_id="acme")
        )
    status = await view(harness, reader)
    assert (status["instances"], status["stale"]) == (3, 1)
    assert status["stale_after_seconds"] == limit
    flags = {i["instance_id"]: i["stale"] for i in status["items"]}
    assert flags == {"opa-a": False, "opa-b": True, "opa-c": False}
    only = await view(harness, reader, "?stale=true")
    assert [i["instance_id"] for i in only["items"]] == ["opa-b"]
    assert only["items"][0]["silent_seconds"] > limit
    live = await view(harness, reader, "?stale=false")
    assert [i["instance_id"] for i in live["items"]] == ["opa-a", "opa-c"]


async def test_instances_page_by_cursor(harness: Harness) -> None:
    """The fleet pages like every list: `limit` and `next_cursor`."""
    reporter, reader = await fleet(harness)
    for n in range(5):
        await report(harness, reporter, status_report(f"opa-{n}"))
    seen: list[str] = []
    query = "?limit=2"
    while True:
        page = await view(harness, reader, query)
        seen += [i["instance_id"] for i in page["items"]]
        if page["next_cursor"] is None:
            break
        query = f"?limit=2&cursor={page['next_cursor']}"
    assert seen == [f"opa-{n}" for n in range(5)]
    problem(
        await harness.client.get(
            "/v1/distribution/status?cursor=nonsense", headers=harness.auth(reader)
        ),
        400,
    )


@pytest.mark.parametrize(
    ("doc", "status"),
    [
        ({"bundles": {}}, 422),
        ({"labels": {"version": "1.4.2"}}, 422),
        ({"labels": {"id": ""}}, 422),
        ({"labels": {"id": 7}}, 422),
        ({"labels": {"id": "x"}, "bundles": {"b": {"last_request": "yesterday"}}}, 422),
        ({"labels": {"id": "x"}, "bundles": {"b": {"last_request": "2026-01-02T03:04:05"}}}, 422),
        ({"labels": {"id": "x"}, "bundles": []}, 422),
        ({"labels": {"id": "x"}, "plugins": {"bundle": {"state": 3}}}, 422),
        ({"labels": {"id": "x" * 201}}, 422),
        ({"labels": {"id": "nul\u0000"}}, 422),
        ([status_report()], 422),
    ],
    ids=[
        "no-labels",
        "no-id",
        "empty-id",
        "id-not-string",
        "bad-time",
        "naive-time",
        "bundles-not-object",
        "plugin-state",
        "long-id",
        "nul",
        "array",
    ],
)
async def test_malformed_reports_are_refused(harness: Harness, doc: Any, status: int) -> None:
    """Reports that are not OPA's status updates are 422 problem+json; nothing is kept."""
    reporter, reader = await fleet(harness)
    resp = await harness.client.post("/opa/status", json=doc, headers=harness.auth(reporter))
    problem(resp, status)
    assert (await view(harness, reader))["instances"] == 0


async def test_broken_json_and_oversized_reports(harness: Harness) -> None:
    """Broken JSON is 400, a report over the size limit 413."""
    reporter, _ = await fleet(harness)
    headers = {**harness.auth(reporter), "Content-Type": "application/json"}
    problem(await harness.client.post("/opa/status", content=b'{"labels":', headers=headers), 400)
    huge = status_report()
    huge["metrics"] = {"prometheus": {"blob": "x" * (harness.svc.settings.opa_status_max_bytes)}}
    problem(await harness.client.post("/opa/status", json=huge, headers=headers), 413)


async def test_reports_are_audited(harness: Harness) -> None:
    """Every report is one audit entry naming the instance and its revisions."""
    reporter, _ = await fleet(harness)
    await report(harness, reporter, status_report(revision="3-x", code="bundle_error"))
    last = (await audit_of(harness))[-1]
    assert (last.action, last.target_id, last.outcome) == ("opa.status", "opa-1", "success")
    assert last.after == {
        "bundles": {"gatehouse": "3-x"},
        "version": "1.4.2",
        "failing": ["gatehouse"],
    }


async def test_partitioned_reports(harness: Harness) -> None:
    """`status.partition_name` posts to /opa/status/<partition>, kept on the instance."""
    reporter, reader = await fleet(harness)
    await report(harness, reporter, status_report(), path="/opa/status/eu-west")
    assert (await view(harness, reader))["items"][0]["partition"] == "eu-west"


@BOTH
async def test_tenants_see_only_their_own_fleet(harness: Harness) -> None:
    """Instance ids are per tenant: one tenant's report neither shows nor overwrites another's."""
    acme, acme_reader = await fleet(harness, "acme")
    globex, globex_reader = await fleet(harness, "globex")
    await report(harness, acme, status_report("opa-1", "1-acme"))
    await report(harness, globex, status_report("opa-1", "9-globex"))
    mine = (await view(harness, acme_reader))["items"]
    theirs = (await view(harness, globex_reader))["items"]
    assert [b["active_revision"] for i in mine for b in i["bundles"]] == ["1-acme"]
    assert [b["active_revision"] for i in theirs for b in i["bundles"]] == ["9-globex"]


@pytest.mark.parametrize(
    ("scope", "method", "path"),
    [
        ("fleet:read", "POST", "/opa/status"),
        ("decisions:read", "POST", "/opa/status"),
        ("bundles:read", "POST", "/opa/status"),
        ("fleet:report", "GET", "/v1/distribution/status"),
        ("decisions:read", "GET", "/v1/distribution/status"),
    ],
)
async def test_wrong_scopes_are_forbidden(
    harness: Harness, scope: str, method: str, path: str
) -> None:
    """An OPA's token reads no fleet status; a reader reports nothing."""
    await harness.tenant("acme")
    token = await harness.token("acme", scope)
    body = status_report() if method == "POST" else None
    resp = await harness.client.request(method, path, json=body, headers=harness.auth(token))
    problem(resp, 403)
    problem(await harness.client.post("/opa/status", json=status_report()), 401)

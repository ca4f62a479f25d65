"""GET /v1/decisions: search by time, path, id and instance, keyset pages, OPA-format export."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from tests.conftest import BOTH, Harness
from tests.fleet.conftest import event, post_logs, problem


async def loaded(h: Harness, events: list[dict[str, Any]]) -> dict[str, str]:
    """Tenant acme with `events` uploaded; the reader's auth header."""
    await h.tenant("acme")
    reporter = await h.token("acme", "fleet:report")
    resp = await post_logs(h, reporter, events)
    assert resp.status_code == 200, resp.text
    return h.auth(await h.token("acme", "decisions:read"))


async def ids(h: Harness, auth: dict[str, str], query: str) -> list[str]:
    """Decision ids of one search page."""
    resp = await h.client.get(f"/v1/decisions?{query}", headers=auth)
    assert resp.status_code == 200, resp.text
    return [i["decision_id"] for i in resp.json()["items"]]


@BOTH
async def test_search_filters(harness: Harness) -> None:
    """Time range (start inclusive, end exclusive), path, decision id, instance, engine."""
    events = [event(n) for n in range(6)]
    events[4]["path"] = "/authz/admin"
    events[5]["labels"] = {"id": "opa-2", "version": "1.4.2"}
    auth = await loaded(harness, events)
    start, end = "2026-01-02T03:00:01Z", "2026-01-02T03:00:04Z"
    assert await ids(harness, auth, f"start={start}&end={end}") == ["d-3", "d-2", "d-1"]
    assert await ids(harness, auth, "path=authz/admin") == ["d-4"]
    assert await ids(harness, auth, "path=/authz/admin") == ["d-4"]
    assert await ids(harness, auth, "decision_id=d-2") == ["d-2"]
    assert await ids(harness, auth, "instance=opa-2") == ["d-5"]
    assert len(await ids(harness, auth, "engine=opa")) == 6
    assert await ids(harness, auth, "engine=embedded") == []
    problem(await harness.client.get("/v1/decisions?start=soon", headers=auth), 422)
    problem(await harness.client.get("/v1/decisions/nope", headers=auth), 404)


@BOTH
async def test_pages_walk_every_decision_once(harness: Harness) -> None:
    """Keyset pages, newest first; decisions at the same instant are not skipped or repeated."""
    same = "2026-01-02T03:00:00Z"
    auth = await loaded(harness, [event(n, timestamp=same) for n in range(7)])
    seen: list[str] = []
    cursor = ""
    while True:
        resp = await harness.client.get(f"/v1/decisions?limit=3{cursor}", headers=auth)
        page = resp.json()
        seen += [i["decision_id"] for i in page["items"]]
        if page["next_cursor"] is None:
            break
        cursor = f"&cursor={page['next_cursor']}"
    assert sorted(seen) == [f"d-{n}" for n in range(7)]
    assert len(seen) == 7
    bad = await harness.client.get("/v1/decisions?cursor=eyJrIjoxfQ", headers=auth)
    problem(bad, 400)


@BOTH
async def test_export_is_opas_event_format(harness: Harness) -> None:
    """Exported events are OPA's EventV1: uploading them again reproduces the log."""
    events = [event(n) for n in range(3)]
    del events[1]["result"]
    events[2]["erased"] = ["/input/password"]
    events[2]["span_id"] = "00f067aa0ba902b7"
    auth = await loaded(harness, events)
    resp = await harness.client.get("/v1/decisions/export", headers=auth)
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("application/x-ndjson")
    lines = [orjson.loads(line) for line in resp.content.splitlines()]
    assert [e["decision_id"] for e in lines] == ["d-2", "d-1", "d-0"]
    first = lines[2]
    assert first == {**event(0), "timestamp": "2026-01-02T03:00:00.123456Z"}
    assert "result" not in lines[1]
    assert lines[0]["erased"] == ["/input/password"] and lines[0]["span_id"] == "00f067aa0ba902b7"
    as_array = await harness.client.get("/v1/decisions/export?format=json", headers=auth)
    assert orjson.loads(as_array.content) == lines
    await harness.tenant("copy")
    copier = await harness.token("copy", "fleet:report")
    again = await post_logs(harness, copier, lines)
    assert again.json()["stored"] == 3
    copy_auth = harness.auth(await harness.token("copy", "decisions:read"))
    copied = await harness.client.get("/v1/decisions/export", headers=copy_auth)
    assert copied.content == resp.content


async def test_export_filters_and_limit(harness: Harness) -> None:
    """The export takes the search filters and a most-events limit."""
    auth = await loaded(harness, [event(n) for n in range(5)])
    resp = await harness.client.get("/v1/decisions/export?limit=2&format=json", headers=auth)
    assert [e["decision_id"] for e in orjson.loads(resp.content)] == ["d-4", "d-3"]
    one = await harness.client.get("/v1/decisions/export?decision_id=d-1", headers=auth)
    assert [orjson.loads(x)["decision_id"] for x in one.content.splitlines()] == ["d-1"]
    empty = await harness.client.get("/v1/decisions/export?format=json&path=none", headers=auth)
    assert orjson.loads(empty.content) == []


@pytest.mark.parametrize("query", ["format=xml", "limit=0", "limit=1000001"])
async def test_export_refuses_bad_parameters(harness: Harness, query: str) -> None:
    """Unknown formats and out-of-range limits are 422 problem+json."""
    auth = await loaded(harness, [event(0)])
    problem(await harness.client.get(f"/v1/decisions/export?{query}", headers=auth), 422)

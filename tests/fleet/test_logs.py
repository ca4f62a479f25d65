"""POST /opa/logs: OPA's decision-log uploads stored whole, once, and refused clearly."""

from __future__ import annotations

import asyncio
import gzip
import os
from typing import Any

import orjson
import pytest
from sqlalchemy import func, select

from gatehouse.config import Settings
from gatehouse.db.tenancy import TENANT
from gatehouse.fleet.models import DecisionRecord
from tests.conftest import BOTH, Harness, started
from tests.fleet.conftest import audit_of, event, gz, post_logs, problem


async def stored(h: Harness, tenant: str = "acme") -> int:
    """How many decisions the tenant's log holds."""
    async with h.svc.db.transaction(write=False) as s:
        stmt = select(func.count()).select_from(DecisionRecord)
        stmt = stmt.where(DecisionRecord.tenant_id == tenant)
        return int(await s.scalar(stmt.execution_options(**{TENANT: tenant})) or 0)


async def reporter(h: Harness, tenant: str = "acme") -> str:
    """A tenant and the token its OPAs report with."""
    await h.tenant(tenant)
    return await h.token(tenant, "fleet:report")


@BOTH
async def test_an_upload_is_stored_as_sent(harness: Harness) -> None:
    """Every field of OPA's events lands in the log; the answer counts what was stored."""
    token = await reporter(harness)
    events = [event(n) for n in range(3)]
    events[2]["path"] = "/authz/allow"  # receivers should tolerate slash-prefixed paths
    del events[1]["result"]  # an undefined decision has no result
    events[0]["trace_id"] = "4bf92f3577b34da6a3ce929d0e0e4736"
    resp = await post_logs(harness, token, events)
    assert resp.status_code == 200, resp.text
    assert resp.json() == {"received": 3, "stored": 3, "duplicates": 0}
    reader = await harness.token("acme", "decisions:read")
    page = await harness.client.get("/v1/decisions", headers=harness.auth(reader))
    assert page.status_code == 200, page.text
    items = page.json()["items"]
    assert [i["decision_id"] for i in items] == ["d-2", "d-1", "d-0"]  # newest first
    first = items[2]
    assert first["engine"] == "opa" and first["instance_id"] == "opa-1"
    assert first["path"] == "authz/allow" and items[0]["path"] == "authz/allow"
    assert first["decided_at"].startswith("2026-01-02T03:00:00.123456")
    assert first["latency_ms"] == 2.5
    assert first["result"] is True and first["defined"] is True
    assert items[1]["defined"] is False and items[1]["result"] is None
    assert first["input"] == event(0)["input"]
    assert first["bundles"] == {"gatehouse": {"revision": "7-abc"}}
    assert first["labels"]["version"] == "1.4.2"
    one = await harness.client.get("/v1/decisions/d-0", headers=harness.auth(reader))
    assert one.status_code == 200 and one.json() == first


@BOTH
async def test_uploads_are_idempotent_on_decision_id(harness: Harness) -> None:
    """OPA resends a chunk it got no 2xx for: repeats are counted, never stored twice."""
    token = await reporter(harness)
    first = await post_logs(harness, token, [event(n) for n in range(4)])
    assert first.json() == {"received": 4, "stored": 4, "duplicates": 0}
    again = await post_logs(harness, token, [event(n) for n in range(4)])
    assert again.status_code == 200
    assert again.json() == {"received": 4, "stored": 0, "duplicates": 4}
    overlap = await post_logs(harness, token, [event(n) for n in range(2, 7)])
    assert overlap.json() == {"received": 5, "stored": 3, "duplicates": 2}
    twice = await post_logs(harness, token, [event(9), event(9, result=False)])
    assert twice.json() == {"received": 2, "stored": 1, "duplicates": 1}
    assert await stored(harness) == 8


@BOTH
async def test_one_bad_event_refuses_the_whole_upload(harness: Harness) -> None:
    """All or nothing: an upload with a bad event stores none of its good ones."""
    token = await reporter(harness)
    bad = event(1)
    del bad["decision_id"]
    resp = await post_logs(harness, token, [event(0), bad, event(2, timestamp="yesterday")])
    body = problem(resp, 422)
    assert "nothing was stored" in body["detail"]
    assert {"field": "[1].decision_id", "message": "is required (a string)"} in body["errors"]
    assert {"field": "[2].timestamp", "message": "is not an RFC 3339 time"} in body["errors"]
    assert await stored(harness) == 0
    last = (await audit_of(harness))[-1]
    assert (last.action, last.outcome) == ("decision_log.upload", "failure")
    assert last.after is not None and last.after["status"] == 422


def truncated() -> bytes:
    """A gzip stream cut short."""
    return gz([event(0)])[:-12]


@pytest.mark.parametrize(
    ("raw", "encoding", "status", "detail"),
    [
        (orjson.dumps([event(0)]), "gzip", 400, "declared gzip"),
        (truncated(), "gzip", 400, "truncated"),
        (b"\x1f\x8b" + bytes(range(64)), "gzip", 400, "not valid gzip"),
        (gzip.compress(b"[{not json"), "gzip", 400, "not valid JSON"),
        (gzip.compress(b""), "gzip", 400, "empty"),
        (b"", None, 400, "empty"),
        (gz({"decision_id": "x"}), "gzip", 422, "JSON array of decision events"),
        (gz(["d-1"]), "gzip", 422, "problem(s)"),
        (gz([event(0, labels={"id": 7})]), "gzip", 422, "problem(s)"),
        (gz([event(0, erased=["input/password"])]), "gzip", 422, "problem(s)"),
        (gz([event(0, decision_id="x" * 129)]), "gzip", 422, "problem(s)"),
        (gz([event(0, timestamp="2026-01-02T03:04:05")]), "gzip", 422, "problem(s)"),
        (gz([event(0, input={"name": "a\u0000b"})]), "gzip", 422, "NUL"),
        (gz([event(0)]), "br", 415, "not supported"),
    ],
    ids=[
        "plain-declared-gzip",
        "truncated",
        "corrupt",
        "not-json",
        "empty-gzip",
        "empty",
        "object",
        "strings",
        "label-not-string",
        "bad-pointer",
        "long-id",
        "naive-time",
        "nul",
        "brotli",
    ],
)
async def test_malformed_uploads_are_clear_problems(
    harness: Harness, raw: bytes, encoding: str | None, status: int, detail: str
) -> None:
    """Not gzip, broken gzip, not JSON, not an array, events that are not OPA's: problem+json."""
    token = await reporter(harness)
    body = problem(await post_logs(harness, token, None, raw=raw, encoding=encoding), status)
    assert detail in body["detail"]
    assert await stored(harness) == 0


async def test_plain_json_and_multi_member_gzip_are_accepted(harness: Harness) -> None:
    """Without Content-Encoding a plain array is taken; concatenated gzip members are one body."""
    token = await reporter(harness)
    plain = await post_logs(harness, token, [event(0)], encoding=None)
    assert plain.json()["stored"] == 1
    two = orjson.dumps([event(1), event(2)])
    cut = two.index(b',{"labels"') + 1
    members = gzip.compress(two[:cut]) + gzip.compress(two[cut:])
    joined = await post_logs(harness, token, None, raw=members)
    assert joined.status_code == 200, joined.text
    assert joined.json()["stored"] == 2


async def test_a_gzip_bomb_is_refused_before_it_is_inflated(settings: Settings) -> None:
    """A small body that decompresses past the limit is 413; the limit holds in memory too."""
    small = settings.model_copy(update={"decision_log_max_decompressed_bytes": 1024 * 1024})
    async with started(small) as h:
        token = await reporter(h)
        bomb = gzip.compress(b"[" + b" " * (64 * 1024 * 1024) + b"]", compresslevel=9)
        assert len(bomb) < 100 * 1024
        body = problem(await post_logs(h, token, None, raw=bomb), 413)
        assert "decompresses to more than 1048576 bytes" in body["detail"]
        assert "upload_size_limit_bytes" in body["detail"]
        fits = await post_logs(h, token, [event(n) for n in range(10)])
        assert fits.json()["stored"] == 10


async def test_upload_size_and_event_count_limits(settings: Settings) -> None:
    """The compressed body and the number of events per upload are bounded."""
    tight = settings.model_copy(
        update={"decision_log_max_bytes": 4096, "decision_log_max_events": 5}
    )
    async with started(tight) as h:
        token = await reporter(h)
        noise = [event(0, input={"blob": os.urandom(6000).hex()})]
        problem(await post_logs(h, token, noise), 413)
        many = problem(await post_logs(h, token, [event(n) for n in range(6)]), 413)
        assert "at most 5" in many["detail"]
        assert await stored(h) == 0


async def test_each_upload_is_audited_once(harness: Harness) -> None:
    """An upload of many events is one audit entry with its counts, not one per event."""
    token = await reporter(harness)
    before = len(await audit_of(harness))
    await post_logs(harness, token, [event(n) for n in range(50)])
    await post_logs(harness, token, [event(n) for n in range(45, 55)])
    entries = (await audit_of(harness))[before:]
    assert [(e.action, e.target_id, e.outcome) for e in entries] == [
        ("decision_log.upload", "opa-1", "success"),
        ("decision_log.upload", "opa-1", "success"),
    ]
    assert entries[1].after == {"received": 10, "stored": 5, "duplicates": 5}


@BOTH
async def test_tenants_never_see_each_others_decisions(harness: Harness) -> None:
    """The tenant comes from the token; the same decision id in two tenants is two decisions."""
    acme = await reporter(harness, "acme")
    globex = await reporter(harness, "globex")
    await post_logs(harness, acme, [event(0, input={"secret_plan": "acme"}), event(1)])
    resp = await post_logs(harness, globex, [event(0, input={"plan": "globex"})])
    assert resp.json()["stored"] == 1
    reader = harness.auth(await harness.token("globex", "decisions:read"))
    page = (await harness.client.get("/v1/decisions", headers=reader)).json()
    assert [(i["decision_id"], i["input"]) for i in page["items"]] == [("d-0", {"plan": "globex"})]
    problem(await harness.client.get("/v1/decisions/d-1", headers=reader), 404)
    exported = await harness.client.get("/v1/decisions/export", headers=reader)
    assert b"acme" not in exported.content
    assert await stored(harness, "acme") == 2


@pytest.mark.parametrize(
    ("scope", "method", "path"),
    [
        ("decisions:read", "POST", "/opa/logs"),
        ("fleet:read", "POST", "/opa/logs"),
        ("decisions:evaluate", "POST", "/opa/logs"),
        ("fleet:report", "GET", "/v1/decisions"),
        ("fleet:report", "GET", "/v1/decisions/export"),
        ("fleet:report", "GET", "/v1/decisions/d-0"),
        ("fleet:read", "GET", "/v1/decisions"),
    ],
)
async def test_wrong_scopes_are_forbidden(
    harness: Harness, scope: str, method: str, path: str
) -> None:
    """An OPA's reporting token reads nothing; a reader cannot write the log."""
    await harness.tenant("acme")
    token = await harness.token("acme", scope)
    headers = {**harness.auth(token), "Content-Encoding": "gzip"}
    content = gz([event(0)]) if method == "POST" else None
    resp = await harness.client.request(method, path, content=content, headers=headers)
    assert problem(resp, 403)["required_scope"] in {"fleet:report", "decisions:read"}
    assert await stored(harness) == 0
    if method == "POST":
        last = (await audit_of(harness))[-1]
        assert last.outcome == "denied"


async def test_no_token_is_401(harness: Harness) -> None:
    """Without a bearer token nothing is read or written."""
    await harness.tenant("acme")
    resp = await harness.client.post("/opa/logs", content=gz([event(0)]))
    problem(resp, 401)
    problem(await harness.client.get("/v1/decisions"), 401)


async def test_partitioned_uploads_land_in_the_same_log(harness: Harness) -> None:
    """`decision_logs.partition_name` posts to /opa/logs/<partition>."""
    token = await reporter(harness)
    resp = await post_logs(harness, token, [event(0)], path="/opa/logs/eu-west")
    assert resp.json()["stored"] == 1


def big_event(n: int) -> dict[str, Any]:
    """An event with a large input (its upload is decoded off the event loop)."""
    return event(n, input={"rows": [{"k": i, "v": "x" * 40} for i in range(200)]})


async def test_large_uploads_are_stored(harness: Harness) -> None:
    """An upload above the in-loop threshold is decoded in a thread and stored alike."""
    token = await reporter(harness)
    events = [big_event(n) for n in range(40)]
    resp = await post_logs(harness, token, events, encoding=None)
    assert resp.status_code == 200, resp.text
    assert resp.json()["stored"] == 40


@BOTH
async def test_concurrent_uploads_of_the_same_decisions_store_each_once(harness: Harness) -> None:
    """Two OPAs' retries racing: whichever commits second finds the decisions stored."""
    token = await reporter(harness)
    events = [event(n) for n in range(300)]
    answers = await asyncio.gather(*(post_logs(harness, token, events) for _ in range(3)))
    bodies = [a.json() for a in answers]
    assert all(a.status_code == 200 for a in answers), bodies
    assert sum(b["stored"] for b in bodies) == 300
    assert sum(b["duplicates"] for b in bodies) == 600
    assert await stored(harness) == 300

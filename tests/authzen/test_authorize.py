"""The enterprise request: `/v1/authorize` and its batch, with constraints and reasons."""

from __future__ import annotations

import json

from tests.authzen.conftest import Zen
from tests.conftest import BOTH


def request(subject: str, *compliance: str) -> dict[str, object]:
    """A /v1/authorize body."""
    return {
        "subject": subject,
        "action": "read",
        "resource": "invoice-7",
        "resource_type": "invoice",
        "resource_namespace": "finance",
        "compliance_requirements": list(compliance),
        "context": {"ip": "10.0.0.1"},
    }


@BOTH
async def test_object_result_and_log(zen: Zen) -> None:
    """An object rule's constraints and reasons are returned; the decision is logged."""
    await zen.entrypoint("authz/detailed")
    resp = await zen.post("/v1/authorize", request("alice", "pci-dss"))
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["allow"] is True
    assert body["constraints"] == {"max_amount": 100, "pci": True}
    assert body["reasons"] == ["engineer"]
    assert (body["engine"], body["cached"]) == ("embedded", False)
    await zen.h.svc.decision_log.flush()
    reader = zen.h.auth(await zen.h.token("acme", "decisions:read"))
    items = (await zen.h.client.get("/v1/decisions", headers=reader)).json()["items"]
    row = {i["decision_id"]: i for i in items}[body["decision_id"]]
    assert row["path"] == "authz/detailed"
    assert row["input"]["resource_namespace"] == "finance"
    assert row["input"]["subject"]["userName"] == "alice"  # enriched by userName


async def test_batch_and_boolean_rule(zen: Zen) -> None:
    """A batch answers in order; a boolean rule has no constraints or reasons."""
    await zen.entrypoint("authz/detailed")
    resp = await zen.post("/v1/authorize/batch", {"requests": [request("bob"), request("alice")]})
    assert resp.status_code == 200, resp.text
    results = resp.json()["results"]
    assert [r["allow"] for r in results] == [False, True]
    assert results[0]["reasons"] == ["only engineers"]
    await zen.entrypoint("authz/allow")
    plain = (await zen.post("/v1/authorize", request("alice"))).json()
    assert (plain["allow"], plain["constraints"], plain["reasons"]) == (True, {}, [])


async def test_errors_are_problems(zen: Zen) -> None:
    """Malformed bodies, oversized batches and wrong scopes are problem+json."""
    resp = await zen.post("/v1/authorize", {"subject": "alice"})
    assert resp.status_code == 422
    assert resp.headers["content-type"] == "application/problem+json"
    most = zen.h.svc.settings.authzen_max_evaluations
    big = {"requests": [request("alice")] * (most + 1)}
    resp = await zen.post("/v1/authorize/batch", big)
    assert resp.status_code == 400, resp.text
    assert resp.headers["content-type"] == "application/problem+json"
    reader = await zen.h.token("acme", "policies:read")
    assert (await zen.post("/v1/authorize", request("alice"), reader)).status_code == 403


async def test_input_json_cannot_carry_is_refused(zen: Zen) -> None:
    """An integer over 64 bits parses in Python but is not JSON the engine takes: refused at the
    request boundary (422, naming the value), also once the engine is loaded and the decision
    cache would hash the input."""
    body = {**request("alice"), "context": {"n": 2**70}}
    for _ in range(2):
        resp = await zen.h.client.post(
            "/v1/authorize",
            content=json.dumps(body).encode(),
            headers={**zen.h.auth(zen.api.evaluator), "Content-Type": "application/json"},
        )
        assert resp.status_code == 422, resp.text
        assert resp.json()["errors"][0]["field"] == "/context/n"
    ok = await zen.post("/v1/authorize", request("alice"))
    assert ok.status_code == 200, ok.text
    huge = {**request("alice"), "context": {"n": 2**70}}
    resp = await zen.h.client.post(
        "/v1/authorize",
        content=json.dumps(huge).encode(),
        headers={**zen.h.auth(zen.api.evaluator), "Content-Type": "application/json"},
    )
    assert resp.status_code == 422, resp.text


@BOTH
async def test_repeated_questions_come_from_the_cache_and_are_counted(zen: Zen) -> None:
    """The batch path uses the decision cache like /v1/data, and counts in /v1/metrics."""
    await zen.entrypoint("authz/detailed")
    first = (await zen.post("/v1/authorize", request("alice", "pci-dss"))).json()
    again = (await zen.post("/v1/authorize", request("alice", "pci-dss"))).json()
    assert (first["cached"], again["cached"]) == (False, True)
    assert (again["allow"], again["constraints"]) == (True, first["constraints"])
    batch = await zen.post("/v1/authorize/batch", {"requests": [request("alice", "pci-dss")]})
    assert batch.json()["results"][0]["cached"] is True
    await zen.h.svc.decision_log.flush()
    reader = zen.h.auth(await zen.h.token("acme", "decisions:read"))
    items = (await zen.h.client.get("/v1/decisions", headers=reader)).json()["items"]
    hits = {i["decision_id"]: i["cache_hit"] for i in items}
    assert (hits[first["decision_id"]], hits[again["decision_id"]]) == (False, True)
    metrics = (await zen.h.client.get("/v1/metrics", headers=reader)).json()
    assert metrics["tenant_metrics"]["acme"]["cache_hits"] >= 2

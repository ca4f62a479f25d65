"""OPA's REST API for a tenant routed to remote OPAs: `?explain=` passed on, `POST /` asked."""

from __future__ import annotations

from typing import Any

from tests.conftest import Harness
from tests.decisions_remote.conftest import configure, until


async def test_explain_is_passed_on_to_the_remote_opa(
    harness: Harness, platform: Any, opas: Any
) -> None:
    """`?explain=` (and `pretty`) reach the tenant's OPA; its `explanation` is returned, and
    the decision is logged as a remote one. A fallback answer carries no explanation."""
    h = harness
    await h.tenant("acme")
    opa = await opas("a", results={"authz/allow": True})
    await configure(h, platform, "acme", mode="remote", opa_endpoints=[opa.url])
    acme = h.auth(await h.token("acme", "decisions:evaluate", "decisions:read"))
    body = {"input": {"action": "read"}}

    resp = await h.client.post("/v1/data/authz/allow?explain=full", json=body, headers=acme)
    assert resp.status_code == 200, resp.text
    doc = resp.json()
    assert doc["result"] is True and doc["decision_id"]
    assert doc["explanation"] == ["explain=full", "query=explain=full"]
    assert opa.seen[-1] == ("authz/allow", {"action": "read"})
    pretty = await h.client.post(
        "/v1/data/authz/allow?explain=notes&pretty=true&metrics=true", json=body, headers=acme
    )
    assert pretty.json()["explanation"] == ["explain=notes", "query=explain=notes&pretty=true"]
    assert b"\n  " in pretty.content and "metrics" in pretty.json()
    got = await h.client.get(
        '/v1/data/authz/allow?explain=fails&input={"action":"get"}', headers=acme
    )
    assert got.json()["explanation"][0] == "explain=fails"
    assert opa.seen[-1] == ("authz/allow", {"action": "get"})
    plain = await h.client.post("/v1/data/authz/allow?explain=off", json=body, headers=acme)
    assert "explanation" not in plain.json() and opa.queries[-1] == ""

    await h.svc.decision_log.flush()
    logged = (await h.client.get("/v1/decisions", headers=acme)).json()["items"]
    assert {i["decision_id"]: i["engine"] for i in logged}[doc["decision_id"]] == "remote"

    opa.mode = "error"
    route = h.svc.decision_router.routes["acme"]
    assert route.engine is not None
    await until(lambda: route.engine.endpoints[0].health.healthy is False, "OPA marked down")
    fallback = await h.client.post("/v1/data/authz/allow?explain=full", json=body, headers=acme)
    assert fallback.status_code == 200, fallback.text
    assert fallback.json()["result"] is False and "explanation" not in fallback.json()


async def test_default_decision_goes_to_the_remote_opa(
    harness: Harness, platform: Any, opas: Any
) -> None:
    """`POST /` asks the tenant's OPA for its configured default decision, with the body as
    the input; an undefined answer is OPA's 404."""
    h = harness
    await h.tenant("acme")
    opa = await opas("a", results={"system/main": {"allowed": True}, "http/authz": "yes"})
    await configure(h, platform, "acme", mode="remote", opa_endpoints=[opa.url])
    acme = {**h.auth(await h.token("acme", "decisions:evaluate")), "Content-Type": "text/json"}

    resp = await h.client.post("/", content=b'{"user": "alice"}', headers=acme)
    assert resp.status_code == 200, resp.text
    assert resp.json() == {"allowed": True}
    assert opa.seen[-1] == ("system/main", {"user": "alice"})

    await configure(
        h, platform, "acme", mode="remote", opa_endpoints=[opa.url], default_decision="http/authz"
    )
    assert (await h.client.post("/", content=b"[1]", headers=acme)).json() == "yes"
    assert opa.seen[-1] == ("http/authz", [1])

    await configure(
        h, platform, "acme", mode="remote", opa_endpoints=[opa.url], default_decision="/undefined"
    )
    missing = await h.client.post("/", content=b"{}", headers=acme)
    assert missing.status_code == 404
    assert missing.json() == {
        "code": "undefined_document",
        "message": "document missing or undefined: data.undefined",
    }

"""OPA's Data API asks the router: a remote tenant's decisions come from its OPAs, are logged
with the engine and endpoint, and fall back as configured."""

from __future__ import annotations

from typing import Any

from tests.conftest import Harness
from tests.decisions_remote.conftest import configure, until


async def test_v1_data_goes_to_the_tenants_opa_and_is_logged(
    harness: Harness, platform: Any, opas: Any
) -> None:
    """A remote tenant's /v1/data answer is its OPA's; an embedded tenant's is not routed."""
    h = harness
    await h.tenant("acme")
    await h.tenant("globex")
    opa = await opas("a", results={"authz/allow": "from-opa"})
    await configure(h, platform, "acme", mode="remote", opa_endpoints=[opa.url])
    acme = h.auth(await h.token("acme", "decisions:evaluate", "decisions:read"))
    globex = h.auth(await h.token("globex", "decisions:evaluate"))
    body = {"input": {"action": "read"}}

    answer = await h.client.post("/v1/data/authz/allow", json=body, headers=acme)
    assert answer.status_code == 200, answer.text
    assert answer.json()["result"] == "from-opa"
    assert opa.seen[-1] == ("authz/allow", {"action": "read"})
    # globex has no routing: the embedded engine answers (no policy: undefined), OPA unasked.
    asked = len(opa.seen)
    other = await h.client.post("/v1/data/authz/allow", json=body, headers=globex)
    assert other.status_code == 200 and "result" not in other.json()
    assert len(opa.seen) == asked

    opa.mode = "error"
    route = h.svc.decision_router.routes["acme"]
    assert route.engine is not None
    await until(lambda: route.engine.endpoints[0].health.healthy is False, "OPA marked down")
    denied = await h.client.post("/v1/data/authz/allow", json=body, headers=acme)
    assert denied.json()["result"] is False  # the default fallback: deny

    await h.svc.decision_log.flush()
    logged = (await h.client.get("/v1/decisions", headers=acme)).json()["items"]
    by_id = {i["decision_id"]: i for i in logged}
    remote = by_id[answer.json()["decision_id"]]
    assert (remote["engine"], remote["endpoint"]) == ("remote", opa.url)
    assert by_id[denied.json()["decision_id"]]["engine"] == "fallback:deny"

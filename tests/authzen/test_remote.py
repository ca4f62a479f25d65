"""AuthZEN asks the decision router: a remote tenant's decisions come from its OPA."""

from __future__ import annotations

from typing import Any

from tests.conftest import Harness
from tests.decisions_remote.conftest import configure, opas, platform, settings

__all__ = ["opas", "platform", "settings"]


async def test_evaluations_go_to_the_tenants_opa(
    harness: Harness, platform: Any, opas: Any
) -> None:
    """The remote OPA's answers become decisions, logged with engine `remote`."""
    h = harness
    await h.tenant("acme")
    opa = await opas("a", results={"authz/allow": True})
    await configure(h, platform, "acme", mode="remote", opa_endpoints=[opa.url])
    headers = h.auth(await h.token("acme", "decisions:evaluate", "decisions:read"))
    body = {
        "subject": {"type": "user", "id": "u1"},
        "action": {"name": "read"},
        "resource": {"type": "doc", "id": "d1"},
        "evaluations": [{}, {"action": {"name": "write"}}],
    }
    resp = await h.client.post("/access/v1/evaluations", json=body, headers=headers)
    assert resp.status_code == 200, resp.text
    got = resp.json()["evaluations"]
    assert [e["decision"] for e in got] == [True, True]
    assert opa.seen[-1][0] == "authz/allow"
    assert opa.seen[-1][1]["action"] == {"name": "write"}
    await h.svc.decision_log.flush()
    logged = (await h.client.get("/v1/decisions", headers=headers)).json()["items"]
    by_id = {i["decision_id"]: i for i in logged}
    assert by_id[got[0]["context"]["decision_id"]]["engine"] == "remote"

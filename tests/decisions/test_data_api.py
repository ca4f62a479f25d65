"""POST/GET /v1/data: evaluation against the store's data, undefined, metrics, limits."""

from __future__ import annotations

import asyncio

import pytest

from gatehouse.decisions.embedded.engines import EmbeddedEngines
from gatehouse.decisions.types import EvaluationError
from tests.conftest import BOTH
from tests.decisions.conftest import Api, opa_error


@BOTH
async def test_decision_uses_store_data_and_sees_scim_changes(api: Api) -> None:
    """A rule reads the store's document; a SCIM change becomes visible in later decisions."""
    alice, bob = api.org.users["alice"], api.org.users["bob"]
    body = await api.ask("authz/allow", {"action": "read", "subject": alice})
    assert body["result"] is True
    assert isinstance(body["decision_id"], str) and body["decision_id"]
    assert (await api.ask("authz/allow", {"action": "read", "subject": bob}))["result"] is False
    await api.org.patch_user(bob, "title", "Boss")
    await api.org.h.svc.engines.changed(api.org.tenant)
    assert (await api.ask("authz/allow", {"action": "read", "subject": bob}))["result"] is True
    titles = (await api.ask("authz/titles", None))["result"]
    assert sorted(titles) == ["Boss", "Engineer"]


async def test_undefined_and_unknown_paths(api: Api) -> None:
    """Undefined rules and unknown paths answer 200 with a decision id and no result."""
    for path in ("authz/nothing", "nowhere/at/all", "authz/user"):
        body = await api.ask(path, {"subject": {"id": "nobody"}})
        assert "result" not in body
        assert body["decision_id"]


async def test_get_package_document_and_pretty_metrics(api: Api) -> None:
    """GET a package (every rule's value), `?metrics=true` and `?pretty=true`."""
    resp = await api.h.client.get(
        "/v1/data/authz?metrics=true&pretty=true", headers=api.h.auth(api.evaluator)
    )
    assert resp.status_code == 200, resp.text
    assert b"\n  " in resp.content
    body = resp.json()
    assert body["result"]["allow"] is False
    assert body["metrics"]["timer_server_handler_ns"] > 0
    assert "timer_rego_query_eval_ns" in body["metrics"]
    data = await api.post("gatehouse/users", {}, await api.h.token(api.org.tenant, "data:read"))
    assert set(data.json()["result"]) == set(api.org.users.values())


async def test_subject_enrichment_by_user_name(api: Api) -> None:
    """A subject given by userName is replaced by its store record (groups, roles, ...)."""
    body = await api.ask("authz/allow", {"action": "read", "subject": "alice"})
    assert body["result"] is True
    body = await api.ask("authz/allow", {"action": "read", "subject": {"id": "alice"}})
    assert body["result"] is True


async def test_tenant_isolation_and_scopes(api: Api) -> None:
    """Another tenant sees none of acme's policies or data; wrong scopes are refused."""
    h = api.h
    await h.tenant("globex")
    other = await h.token("globex", "decisions:evaluate", "policies:read", "data:read")
    alice = api.org.users["alice"]
    body = await api.ask("authz/allow", {"action": "read", "subject": alice}, token=other)
    assert "result" not in body
    assert (await api.ask("gatehouse/users", {}, token=other)).get("result") == {}
    listed = await h.client.get("/v1/policies", headers=h.auth(other))
    assert listed.json() == {"result": []}
    opa_error(await h.client.get("/v1/policies/authz/main.rego", headers=h.auth(other)), 404)
    opa_error(await api.post("authz/allow", {"input": {}}, token=api.reader), 403)
    denied = await api.put_policy("x.rego", "package x\n", token=api.evaluator)
    assert opa_error(denied, 403)["code"] == "unauthorized"
    opa_error(await h.client.post("/v1/data/authz/allow", content=b"{}"), 401)


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (b"{not json", "malformed"),
        (b"[1, 2]", "object"),
        (b'{"input": ' + b"[" * 100 + b"]" * 100 + b"}", "deeper"),
        (b'{"input": [' + b",".join([b"1"] * 100_010) + b"]}", "more than"),
    ],
)
async def test_bad_inputs_are_opa_400s(api: Api, content: bytes, fragment: str) -> None:
    """Non-JSON bodies, and inputs too deep or too large, are OPA's 400 invalid_parameter."""
    resp = await api.h.client.post(
        "/v1/data/authz/allow",
        content=content,
        headers={**api.h.auth(api.evaluator), "Content-Type": "application/json"},
    )
    body = opa_error(resp, 400)
    assert body["code"] == "invalid_parameter"
    assert fragment in body["message"]


async def test_explain_is_refused_by_the_embedded_engine(api: Api) -> None:
    """OPA's explain modes are OPA's 400 for an embedded tenant (POST and GET); other values
    are ignored, as OPA ignores them."""
    for mode in ("notes", "fails", "full", "debug"):
        resp = await api.post("authz/allow", {"input": {}}, query=f"?explain={mode}")
        body = opa_error(resp, 400)
        assert body["code"] == "invalid_parameter"
        assert body["message"].startswith("explain is not supported by the embedded engine")
    got = await api.h.client.get(
        "/v1/data/authz/allow?explain=full", headers=api.h.auth(api.evaluator)
    )
    assert opa_error(got, 400)["code"] == "invalid_parameter"
    for ignored in ("off", "true", ""):
        resp = await api.post("authz/allow", {"input": {}}, query=f"?explain={ignored}")
        assert resp.status_code == 200, resp.text
        assert resp.json()["result"] is False and "explanation" not in resp.json()


async def test_slow_policy_hits_the_time_limit(api: Api) -> None:
    """An evaluation over the time limit is answered with OPA's error, the engine keeps serving."""
    api.h.svc.engines.limit_ns = 1_000_000  # 1 ms
    slow = "package slow\n\nspin := count([x | some x in numbers.range(1, 2000000)])\n"
    assert (await api.put_policy("slow.rego", slow)).status_code == 200
    body = opa_error(await api.post("slow/spin", {"input": {}}), 500)
    assert body["code"] == "internal_error"
    assert body["errors"][0]["code"] == "eval_cancel_error"
    api.h.svc.engines.limit_ns = 10_000_000_000
    assert "result" in await api.ask("authz/allow", {})


async def test_worker_threads_answer_the_same(api: Api) -> None:
    """With evaluation threads (one engine copy each), answers and errors are the same."""
    svc = api.h.svc
    pooled = EmbeddedEngines(svc.db, svc.distribution, threads=2, time_limit_ms=10_000)
    try:
        alice = api.org.users["alice"]
        subject = {"id": alice, "groups": ["engineering"]}
        for _ in range(4):
            found = await pooled.evaluate(
                "acme", "authz/allow", {"action": "read", "subject": subject}
            )
            assert found.result is True
        assert (await pooled.evaluate("acme", "authz", {})).result["allow"] is False
        assert not (await pooled.evaluate("acme", "nowhere", {})).defined
        pooled.limit_ns = 1
        with pytest.raises(EvaluationError) as caught:
            await pooled.evaluate("acme", "authz/allow", {})
        assert caught.value.code == "eval_cancel_error"
    finally:
        await pooled.stop()


async def test_first_callers_of_a_cold_tenant_share_one_build(api: Api) -> None:
    """32 decisions arriving together before the tenant's engine exists build it once."""
    svc = api.h.svc
    cold = EmbeddedEngines(svc.db, svc.distribution, time_limit_ms=10_000)
    try:
        alice = api.org.users["alice"]
        ask = {"action": "read", "subject": {"id": alice, "groups": ["engineering"]}}
        found = await asyncio.gather(
            *(cold.evaluate("acme", "authz/allow", ask) for _ in range(32))
        )
        assert [d.result for d in found] == [True] * 32
        assert cold.tenants["acme"].rebuilds == 1
        assert cold.generation == 1
    finally:
        await cold.stop()

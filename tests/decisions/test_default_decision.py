"""OPA's `POST /`: the body is the input, the answer the bare value of the default decision."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import BOTH
from tests.decisions.conftest import Api, opa_error

SYSTEM = """package system

main := {"allow": object.get(input, "user", "") == "alice", "subject": subject}

default subject := null

subject := input.subject
"""
CONFIG = "/v1/tenants/acme/decision-config"


async def post_root(api: Api, content: bytes, token: str | None = None, query: str = "") -> Any:
    """POST / as OPA's clients send it (the input as the body)."""
    headers = {"Content-Type": "application/json"}
    if token != "":
        headers.update(api.h.auth(token or api.evaluator))
    return await api.h.client.post("/" + query, content=content, headers=headers)


@BOTH
async def test_default_decision_answers_the_bare_value(api: Api) -> None:
    """`/system/main` is evaluated with the body as input; no `result` wrapper, no decision id."""
    assert (await api.put_policy("system.rego", SYSTEM)).status_code == 200
    resp = await post_root(api, b'{"user": "alice"}')
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"] == "application/json"
    assert resp.json() == {"allow": True, "subject": None}
    assert (await post_root(api, b'{"user": "bob"}')).json()["allow"] is False
    pretty = await post_root(api, b'{"user": "alice"}', query="?pretty=true")
    assert b"\n  " in pretty.content and pretty.json()["allow"] is True
    # No body: no input; the subject is enriched from the store as on /v1/data.
    assert (await post_root(api, b"")).json() == {"allow": False, "subject": None}
    enriched = (await post_root(api, b'{"subject": "alice"}')).json()
    assert "engineering" in enriched["subject"]["groups"]


async def test_undefined_default_decision_is_opas_404(api: Api) -> None:
    """No `/system/main`: 404 `undefined_document` naming the reference, as OPA answers."""
    body = opa_error(await post_root(api, b"{}"), 404)
    assert body == {
        "code": "undefined_document",
        "message": "document missing or undefined: data.system.main",
    }


async def test_default_decision_is_configurable_per_tenant(api: Api) -> None:
    """`default_decision` in the tenant's decision configuration names another rule."""
    h = api.h
    resp = await h.client.patch(
        CONFIG, json={"default_decision": "authz/allow"}, headers=h.auth(api.writer)
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["default_decision"] == "/authz/allow"
    assert resp.json()["mode"] == "embedded"
    alice = api.org.users["alice"]
    allowed = await post_root(api, b'{"action": "read", "subject": "%s"}' % alice.encode())
    assert allowed.json() is True
    config = await h.client.get(CONFIG, headers=h.auth(api.reader))
    assert config.json()["default_decision"] == "/authz/allow"
    for bad in ("a b", "../x", "a.b", ""):
        refused = await h.client.patch(
            CONFIG, json={"default_decision": bad}, headers=h.auth(api.writer)
        )
        assert refused.status_code == 422, bad
        assert refused.headers["content-type"] == "application/problem+json"
    assert (await h.client.delete(CONFIG, headers=h.auth(api.writer))).status_code == 204
    assert opa_error(await post_root(api, b"{}"), 404)["code"] == "undefined_document"


async def test_bad_bodies_and_tokens(api: Api) -> None:
    """A non-JSON body is OPA's 400; no token 401, a token without the scope 403, another
    tenant's token evaluates that tenant's (empty) default decision."""
    assert (await api.put_policy("system.rego", SYSTEM)).status_code == 200
    body = opa_error(await post_root(api, b"{not json"), 400)
    assert body["code"] == "invalid_parameter"
    assert body["message"].startswith("unexpected parse error for input: body contains malformed")
    deep = b"[" * 100 + b"]" * 100
    assert "deeper" in opa_error(await post_root(api, deep), 400)["message"]
    assert opa_error(await post_root(api, b"{}", token=""), 401)["code"] == "unauthorized"
    assert opa_error(await post_root(api, b"{}", token=api.reader), 403)["code"] == "unauthorized"
    await api.h.tenant("globex")
    other = await api.h.token("globex", "decisions:evaluate")
    undefined = opa_error(await post_root(api, b'{"user": "alice"}', token=other), 404)
    assert undefined["code"] == "undefined_document"


async def test_root_route_leaves_other_routes_alone(api: Api) -> None:
    """`POST /` is dispatched on its own; `/health`, `/docs`, OpenAPI and 404s are as before."""
    c: httpx.AsyncClient = api.h.client
    assert (await c.get("/health")).status_code == 200
    assert (await c.get("/docs")).status_code == 200
    spec = (await c.get("/openapi.json")).json()
    assert "post" in spec["paths"]["/"]
    assert (await c.get("/nowhere")).status_code == 404
    assert opa_error(await c.get("/"), 405) == {
        "code": "invalid_operation",
        "message": "Method Not Allowed",
    }


@BOTH
async def test_bare_number_inputs_and_results_are_logged_and_read_back(api: Api) -> None:
    """A bare number as the input (and the result) is logged and exported as written; SQLite
    hands such JSON values back as numbers, which used to break reading the log."""
    echo = "package system\n\nmain := input\n"
    assert (await api.put_policy("system.rego", echo)).status_code == 200
    for body, value in ((b"7", 7), (b"1.5", 1.5), (b'"x"', "x")):
        resp = await post_root(api, body)
        assert resp.status_code == 200 and resp.json() == value
    await api.h.svc.decision_log.flush()
    reader = api.h.auth(await api.h.token("acme", "decisions:read"))
    export = await api.h.client.get("/v1/decisions/export?format=json", headers=reader)
    assert export.status_code == 200, export.text
    events = [(e["input"], e["result"]) for e in export.json() if e["path"] == "system/main"]
    assert len(events) == 3
    assert all((value, value) in events for value in (7, 1.5, "x"))

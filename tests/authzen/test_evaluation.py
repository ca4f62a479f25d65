"""AuthZEN's single evaluation: the entrypoint rule, enrichment, results that are not booleans,
errors in AuthZEN's shape, tokens and the decision log."""

from __future__ import annotations

import orjson

from tests.authzen.conftest import Zen, ask
from tests.conftest import BOTH


@BOTH
async def test_allow_deny_and_log(zen: Zen) -> None:
    """The enriched subject decides (alice is in engineering, bob is not); both are logged."""
    alice = await zen.one(ask(zen.user("alice")))
    bob = await zen.one(ask(zen.user("bob")))
    assert alice["decision"] is True
    assert bob["decision"] is False
    await zen.h.svc.decision_log.flush()
    reader = zen.h.auth(await zen.h.token("acme", "decisions:read"))
    resp = await zen.h.client.get("/v1/decisions", headers=reader)
    rows = {i["decision_id"]: i for i in resp.json()["items"]}
    row = rows[alice["context"]["decision_id"]]
    assert row["path"] == "authz/allow"
    assert row["result"] is True
    assert row["input"]["subject"]["title"] == "Engineer"  # stored as enriched
    assert row["input"]["action"] == {"name": "read"}
    assert rows[bob["context"]["decision_id"]]["result"] is False


async def test_properties_and_context_reach_the_policy(zen: Zen) -> None:
    """`resource.properties` is passed as sent."""
    body = ask(zen.user("bob"), "write", properties={"public": True})
    assert (await zen.one({**body, "context": {"ip": "10.0.0.1"}}))["decision"] is True


async def test_undefined_and_non_boolean_results_deny(zen: Zen) -> None:
    """An undefined rule or a value that is neither boolean nor `{allow}` is false, with why."""
    await zen.entrypoint("authz/missing")
    undefined = await zen.one(ask(zen.user("alice")))
    assert undefined["decision"] is False
    assert "undefined" in undefined["context"]["reasons"][0]
    await zen.entrypoint("authz/text")
    text = await zen.one(ask(zen.user("alice")))
    assert text["decision"] is False
    assert "str" in text["context"]["reasons"][0]
    await zen.entrypoint("authz/detailed")
    detailed = await zen.one(ask(zen.user("alice")))
    assert detailed["decision"] is True
    assert detailed["context"]["constraints"]["max_amount"] == 100


async def test_malformed_bodies_are_authzen_400s(zen: Zen) -> None:
    """Not JSON, missing or mistyped fields: 400 with the spec's body, an error message string
    (`text/plain`), X-Request-ID echoed."""
    headers = {
        **zen.h.auth(zen.api.evaluator),
        "X-Request-ID": "req-1",
        "Content-Type": "application/json",
    }
    bad = await zen.h.client.post("/access/v1/evaluation", content=b"{", headers=headers)
    assert bad.status_code == 400
    assert bad.headers["content-type"] == "text/plain; charset=utf-8"
    assert bad.headers["x-request-id"] == "req-1"
    assert "malformed" in bad.text
    for body in (
        [],
        {"action": {"name": "read"}, "resource": {"type": "d", "id": "1"}},
        {**ask(zen.user("alice")), "action": {"verb": "read"}},
        {**ask(zen.user("alice")), "context": []},
    ):
        resp = await zen.post("/access/v1/evaluation", body)
        assert resp.status_code == 400, resp.text
        assert resp.headers["content-type"].startswith("text/plain")
        assert resp.text and not resp.text.startswith("{")
    deep: dict[str, object] = {}
    node = deep
    for _ in range(100):
        node["x"] = node = {}
    resp = await zen.post("/access/v1/evaluation", {**ask(zen.user("alice")), "context": deep})
    assert resp.status_code == 400 and "deeper" in resp.text


async def test_bodies_must_be_sent_as_json(zen: Zen) -> None:
    """The HTTPS binding requires `Content-Type: application/json`: without it (or with
    another media type) both routes answer 415, even for a well-formed JSON body."""
    body = orjson.dumps(ask(zen.user("alice")))
    auth = zen.h.auth(zen.api.evaluator)
    for path in ("/access/v1/evaluation", "/access/v1/evaluations"):
        for kind in (None, "text/plain", "application/x-www-form-urlencoded", "json"):
            headers = auth if kind is None else {**auth, "Content-Type": kind}
            resp = await zen.h.client.post(path, content=body, headers=headers)
            assert resp.status_code == 415, (path, kind, resp.text)
            assert resp.headers["content-type"].startswith("text/plain")
        sent = {**auth, "Content-Type": "application/json; charset=utf-8"}
        resp = await zen.h.client.post(path, content=body, headers=sent)
        assert resp.status_code == 200, resp.text


async def test_tokens(zen: Zen) -> None:
    """No token 401, a token without the scope 403 (AuthZEN's shape); another tenant's token
    evaluates that tenant's rule and store, never acme's."""
    body = ask(zen.user("alice"))
    anonymous = await zen.h.client.post("/access/v1/evaluation", json=body)
    assert anonymous.status_code == 401 and "token" in anonymous.text.lower()
    wrong = await zen.post("/access/v1/evaluation", body, await zen.h.token("acme", "audit:read"))
    assert wrong.status_code == 403 and "decisions:evaluate" in wrong.text
    await zen.h.tenant("globex")
    globex = await zen.h.token("globex", "decisions:evaluate")
    resp = await zen.post("/access/v1/evaluation", body, globex)
    assert resp.status_code == 200, resp.text
    assert resp.json()["decision"] is False
    assert "undefined" in resp.json()["context"]["reasons"][0]


async def test_settings_are_validated_and_audited(zen: Zen) -> None:
    """The entrypoint is a rule path; a change is audited with before and after."""
    h = zen.h
    writer = h.auth(zen.api.writer)
    got = await h.client.get("/v1/decision-settings", headers=h.auth(zen.api.reader))
    assert got.json() == {"enrich": True, "entrypoint": "authz/allow"}
    for rule in ("", "authz//allow", "data.authz allow", "x" * 501):
        body = {"enrich": True, "entrypoint": rule}
        resp = await h.client.put("/v1/decision-settings", json=body, headers=writer)
        assert resp.status_code == 422, rule
    await zen.entrypoint("authz/detailed")
    audit = h.auth(await h.token("acme", "audit:read"))
    resp = await h.client.get("/pip/audit/logs?action=decision_settings.put", headers=audit)
    assert resp.status_code == 200, resp.text
    entry = resp.json()["items"][0]
    assert entry["before"]["entrypoint"] == "authz/allow"
    assert entry["after"]["entrypoint"] == "authz/detailed"


async def test_metadata_is_public(zen: Zen) -> None:
    """The well-known document names the endpoints as absolute URLs."""
    resp = await zen.h.client.get("/.well-known/authzen-configuration")
    assert resp.status_code == 200, resp.text
    doc = resp.json()
    base = doc["policy_decision_point"]
    assert base.startswith("http")
    assert doc["access_evaluation_endpoint"] == base + "/access/v1/evaluation"
    assert doc["access_evaluations_endpoint"] == base + "/access/v1/evaluations"


async def test_openapi_marks_metadata_public(zen: Zen) -> None:
    """The metadata needs no token in the OpenAPI document; the evaluations do."""
    paths = (await zen.h.client.get("/openapi.json")).json()["paths"]
    assert "security" not in paths["/.well-known/authzen-configuration"]["get"]
    assert paths["/access/v1/evaluation"]["post"]["security"]

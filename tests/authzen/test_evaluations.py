"""AuthZEN's batch: defaults each item overrides, the three semantics, limits, the log."""

from __future__ import annotations

from typing import Any

from tests.authzen.conftest import Zen, ask
from tests.conftest import BOTH


def batch(zen: Zen, semantic: str | None = None) -> dict[str, Any]:
    """bob (deny), alice (allow), bob (deny) on one default action and resource."""
    body: dict[str, Any] = {
        **ask(zen.user("bob")),
        "evaluations": [{}, {"subject": zen.user("alice")}, {"action": {"name": "read"}}],
    }
    if semantic:
        body["options"] = {"evaluations_semantic": semantic}
    return body


@BOTH
async def test_defaults_overrides_and_log(zen: Zen) -> None:
    """Items inherit top-level fields and override whole ones; each decision is a log row."""
    body = {
        **ask(zen.user("alice")),
        "evaluations": [
            {},
            {"subject": zen.user("bob")},
            {"action": {"name": "write"}},
            {
                "subject": zen.user("bob"),
                "resource": {"type": "doc", "id": "2", "properties": {"public": True}},
            },
        ],
    }
    got = await zen.many(body)
    assert [e["decision"] for e in got] == [True, False, False, True]
    await zen.h.svc.decision_log.flush()
    reader = zen.h.auth(await zen.h.token("acme", "decisions:read"))
    items = (await zen.h.client.get("/v1/decisions", headers=reader)).json()["items"]
    rows = {i["decision_id"]: i for i in items}
    logged = [rows[e["context"]["decision_id"]] for e in got]
    assert [r["result"] for r in logged] == [True, False, False, True]
    assert logged[2]["input"]["action"] == {"name": "write"}
    # The OPA-format export names the route that asked.
    export = await zen.h.client.get("/v1/decisions/export?format=json", headers=reader)
    events = {e["decision_id"]: e for e in export.json()}
    assert events[got[0]["context"]["decision_id"]]["api"] == "/access/v1/evaluations"


async def test_semantics(zen: Zen) -> None:
    """execute_all answers all; the others stop after the first deny or permit."""
    assert [e["decision"] for e in await zen.many(batch(zen))] == [False, True, False]
    all_ = await zen.many(batch(zen, "execute_all"))
    assert len(all_) == 3
    deny = await zen.many(batch(zen, "deny_on_first_deny"))
    assert [e["decision"] for e in deny] == [False]
    permit = await zen.many(batch(zen, "permit_on_first_permit"))
    assert [e["decision"] for e in permit] == [False, True]
    resp = await zen.post("/access/v1/evaluations", batch(zen, "first_come"))
    assert resp.status_code == 400 and "evaluations_semantic" in resp.text


async def test_without_evaluations_is_one(zen: Zen) -> None:
    """A body without `evaluations`, or with an empty one, is a single evaluation, answered as
    `/access/v1/evaluation` answers."""
    for body in (ask(zen.user("alice")), {**ask(zen.user("alice")), "evaluations": []}):
        resp = await zen.post("/access/v1/evaluations", body)
        assert resp.status_code == 200, resp.text
        assert resp.json()["decision"] is True


async def test_limits_and_malformed_items(zen: Zen) -> None:
    """More than the configured evaluations, or an item lacking a field: 400."""
    most = zen.h.svc.settings.authzen_max_evaluations
    big = {**ask(zen.user("alice")), "evaluations": [{}] * (most + 1)}
    resp = await zen.post("/access/v1/evaluations", big)
    assert resp.status_code == 400 and "at most" in resp.text
    resp = await zen.post("/access/v1/evaluations", {"evaluations": [ask(zen.user("bob")), {}]})
    assert resp.status_code == 400
    assert resp.text.startswith("evaluations[1].subject")
    for body in ({"evaluations": {}}, {"evaluations": [1]}, {"options": []}):
        assert (await zen.post("/access/v1/evaluations", body)).status_code == 400

"""The conflicts API: list, filter, read and decide conflicts; isolation, scopes and audit."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from gatehouse.audit.context import Actor
from gatehouse.db.tenancy import TENANT
from gatehouse.events.models import Event
from gatehouse.identity import service
from gatehouse.identity.correlation import policy_for
from gatehouse.identity.ingest import IngestReport, SourceRecord, ingest_identities
from gatehouse.identity.schemas import IdentityData
from gatehouse.tenants.models import Tenant
from tests.conftest import BOTH, Harness

pytestmark = BOTH
ACME = Actor("acme", "test:conflicts")
PRECEDENCE = {"department": ["hr", "okta"]}


async def _setup(h: Harness) -> dict[str, str]:
    """acme with HR before Okta on departments; tokens; an identity and its e-mail twins."""
    await h.tenant("acme")
    await h.tenant("other")
    async with h.svc.db.transaction() as s:
        tenant = await s.get(Tenant, "acme")
        assert tenant is not None
        tenant.settings = {"correlation": {"precedence": PRECEDENCE}}
        for name in ("x1", "x2"):  # two accounts sharing one mailbox
            data = IdentityData(user_name=name, email="shared@example.com")
            await service.create_identity(s, ACME, data, source="scim")
    return {
        "read": await h.token("acme", "identities:read"),
        "write": await h.token("acme", "identities:write", "audit:read"),
        "other": await h.token("other", "identities:write"),
    }


async def _ingest(h: Harness, source: str, ext: str, **data: Any) -> IngestReport:
    async with h.svc.db.transaction() as s:
        policy = await policy_for(s, "acme")
        return await ingest_identities(s, ACME, source, [SourceRecord(ext, data)], policy)


async def _ada(h: Harness) -> str:
    report = await _ingest(
        h, "hr", "E1", user_name="ada", email="ada@example.com", department="R&D"
    )
    await _ingest(h, "okta", "00u1", email="ada@example.com", department="Sales")
    return report.ids["E1"]


async def _list(h: Harness, token: str, path: str = "/v1/conflicts", **params: Any) -> Any:
    resp = await h.client.get(path, params=params, headers=h.auth(token))
    assert resp.status_code == 200, resp.text
    return resp.json()


async def _resolve(h: Harness, token: str, conflict_id: str, **body: Any) -> Any:
    return await h.client.post(
        f"/v1/conflicts/{conflict_id}/resolve", json=body, headers=h.auth(token)
    )


async def _identity(h: Harness, ident: str) -> Any:
    async with h.svc.db.transaction(write=False) as s:
        return await service.get_identity(s, "acme", ident)


async def test_list_filter_and_read(harness: Harness) -> None:
    tokens = await _setup(harness)
    ada = await _ada(harness)
    report = await _ingest(harness, "okta", "00u9", email="Shared@example.com", title="Ops")
    assert report.ambiguous == 1
    page = await _list(harness, tokens["read"])
    kinds = [(c["kind"], c["status"], c["source"]) for c in page["items"]]
    assert kinds == [("precedence", "open", "okta"), ("ambiguous", "open", "okta")]
    precedence, ambiguous = page["items"]
    assert (precedence["identity_id"], precedence["attribute"]) == (ada, "department")
    assert (precedence["offered"], precedence["kept"], precedence["kept_source"]) == (
        "Sales",
        "R&D",
        "hr",
    )
    assert ambiguous["identity_id"] is None and ambiguous["offered"]["title"] == "Ops"
    assert len(ambiguous["candidates"]) == 2
    first = await _list(harness, tokens["read"], limit=1)
    assert [c["id"] for c in first["items"]] == [precedence["id"]]
    second = await _list(harness, tokens["read"], limit=1, cursor=first["next_cursor"])
    assert [c["id"] for c in second["items"]] == [ambiguous["id"]]
    assert second["next_cursor"] is None
    assert [c["id"] for c in (await _list(harness, tokens["read"], kind="ambiguous"))["items"]] == [
        ambiguous["id"]
    ]
    assert (await _list(harness, tokens["read"], connection="hr"))["items"] == []
    assert (await _list(harness, tokens["read"], status="resolved"))["items"] == []
    mine = await _list(harness, tokens["read"], identity=ada)
    assert [c["id"] for c in mine["items"]] == [precedence["id"]]
    nested = await _list(harness, tokens["read"], f"/v1/identities/{ada}/conflicts", status="open")
    assert [c["id"] for c in nested["items"]] == [precedence["id"]]
    one = await harness.client.get(
        f"/v1/conflicts/{precedence['id']}", headers=harness.auth(tokens["read"])
    )
    assert one.json() == precedence

    for params in ({"status": "closed"}, {"kind": "other"}, {"limit": 0}):
        bad = await harness.client.get(
            "/v1/conflicts", params=params, headers=harness.auth(tokens["read"])
        )
        assert bad.status_code == 422, params
        assert bad.headers["content-type"].startswith("application/problem+json")
    cursor = await harness.client.get(
        "/v1/conflicts", params={"cursor": "nonsense!"}, headers=harness.auth(tokens["read"])
    )
    assert cursor.status_code == 400


async def test_keep_pins_the_current_value(harness: Harness) -> None:
    tokens = await _setup(harness)
    ada = await _ada(harness)
    (conflict,) = (await _list(harness, tokens["read"]))["items"]
    kept = await _resolve(
        harness, tokens["write"], conflict["id"], action="keep", note="HR is right"
    )
    assert kept.status_code == 200, kept.text
    body = kept.json()
    assert (body["status"], body["resolution"], body["note"]) == ("resolved", "keep", "HR is right")
    assert body["resolved_by"].startswith("token:") and body["resolved_at"]
    person = await _identity(harness, ada)
    assert (person.department, person.provenance["department"], person.version) == (
        "R&D",
        "manual",
        1,
    )
    # The same offer again is not raised again; HR itself no longer overwrites the pinned value.
    await _ingest(harness, "okta", "00u1", email="ada@example.com", department="Sales")
    assert len((await _list(harness, tokens["read"]))["items"]) == 1
    await _ingest(harness, "hr", "E1", user_name="ada", department="Ops")
    assert (await _identity(harness, ada)).department == "R&D"
    raised = (await _list(harness, tokens["read"], status="open"))["items"]
    assert [(c["source"], c["offered"], c["kept_source"]) for c in raised] == [
        ("hr", "Ops", "manual")
    ]
    again = await _resolve(harness, tokens["write"], conflict["id"], action="accept")
    assert again.status_code == 409
    assert again.headers["content-type"].startswith("application/problem+json")
    assert "already resolved (keep)" in again.json()["detail"]


async def test_accept_takes_the_offered_value(harness: Harness) -> None:
    tokens = await _setup(harness)
    ada = await _ada(harness)
    (conflict,) = (await _list(harness, tokens["read"]))["items"]
    accepted = await _resolve(harness, tokens["write"], conflict["id"], action="accept")
    assert accepted.status_code == 200, accepted.text
    assert (accepted.json()["status"], accepted.json()["resolution"]) == ("resolved", "accept")
    person = await _identity(harness, ada)
    assert (person.department, person.provenance["department"], person.version) == (
        "Sales",
        "manual",
        2,
    )
    async with harness.svc.db.transaction(write=False) as s:
        stmt = select(Event.type, Event.payload).where(Event.subject_id == ada)
        events = (await s.execute(stmt.execution_options(**{TENANT: "acme"}))).all()
    updated = [p for t, p in events if t == "identity.updated"]
    assert [(p["version"], p["source"], p["after"]["department"]) for p in updated] == [
        (2, "manual", "Sales")
    ]
    await _ingest(harness, "hr", "E1", user_name="ada", department="R&D")
    assert (await _identity(harness, ada)).department == "Sales"  # HR does not undo it
    audit = await harness.client.get("/pip/audit/logs", headers=harness.auth(tokens["write"]))
    resolved = [e for e in audit.json()["items"] if e["action"] == "conflict.resolve"]
    assert [(e["outcome"], e["after"]["action"]) for e in resolved] == [("success", "accept")]


async def test_an_ambiguous_match_is_linked_to_the_chosen_identity(harness: Harness) -> None:
    tokens = await _setup(harness)
    await _ingest(harness, "okta", "00u9", email="shared@example.com", title="Ops")
    (conflict,) = (await _list(harness, tokens["read"]))["items"]
    x1 = conflict["candidates"][0]
    keep = await _resolve(harness, tokens["write"], conflict["id"], action="keep")
    assert keep.status_code == 422 and "accept with identity_id" in keep.json()["detail"]
    missing = await _resolve(harness, tokens["write"], conflict["id"], action="accept")
    assert missing.status_code == 422
    assert missing.json()["errors"][0]["field"] == "identity_id"
    unknown = await _resolve(
        harness, tokens["write"], conflict["id"], action="accept", identity_id="nobody"
    )
    assert unknown.status_code == 404
    chosen = await _resolve(
        harness, tokens["write"], conflict["id"], action="accept", identity_id=x1
    )
    assert chosen.status_code == 200, chosen.text
    assert (chosen.json()["identity_id"], chosen.json()["status"]) == (x1, "resolved")
    person = await _identity(harness, x1)
    assert (person.title, person.version) == ("Ops", 2)
    async with harness.svc.db.transaction(write=False) as s:
        links = {(x.source, x.external_id) for x in await service.links_of(s, "acme", x1)}
    assert ("okta", "00u9") in links
    again = await _ingest(harness, "okta", "00u9", email="shared@example.com", title="Lead")
    assert (again.ambiguous, again.updated) == (0, 1)
    assert (await _identity(harness, x1)).title == "Lead"
    mine = await _list(harness, tokens["read"], f"/v1/identities/{x1}/conflicts")
    assert [c["id"] for c in mine["items"]] == [conflict["id"]]


async def test_dismiss_changes_nothing_and_is_remembered(harness: Harness) -> None:
    tokens = await _setup(harness)
    ada = await _ada(harness)
    (conflict,) = (await _list(harness, tokens["read"]))["items"]
    wrong = await _resolve(
        harness, tokens["write"], conflict["id"], action="dismiss", identity_id=ada
    )
    assert wrong.status_code == 422
    dismissed = await _resolve(harness, tokens["write"], conflict["id"], action="dismiss")
    assert (dismissed.json()["status"], dismissed.json()["resolution"]) == ("dismissed", "dismiss")
    person = await _identity(harness, ada)
    assert (person.department, person.provenance["department"]) == ("R&D", "hr")
    await _ingest(harness, "okta", "00u1", email="ada@example.com", department="Sales")
    assert (await _list(harness, tokens["read"], status="open"))["items"] == []
    await _ingest(harness, "okta", "00u1", email="ada@example.com", department="Legal")
    assert [
        c["offered"] for c in (await _list(harness, tokens["read"], status="open"))["items"]
    ] == ["Legal"]


async def test_tenants_scopes_and_bad_bodies(harness: Harness) -> None:
    tokens = await _setup(harness)
    ada = await _ada(harness)
    (conflict,) = (await _list(harness, tokens["read"]))["items"]
    cid = conflict["id"]
    stranger = harness.auth(tokens["other"])
    assert (await harness.client.get(f"/v1/conflicts/{cid}", headers=stranger)).status_code == 404
    assert (await harness.client.get("/v1/conflicts", headers=stranger)).json()["items"] == []
    assert (
        await harness.client.get(f"/v1/identities/{ada}/conflicts", headers=stranger)
    ).status_code == 404
    assert (await _resolve(harness, tokens["other"], cid, action="keep")).status_code == 404
    assert (await _resolve(harness, tokens["read"], cid, action="keep")).status_code == 403
    no_scope = harness.auth(await harness.token("acme", "connections:read"))
    assert (await harness.client.get("/v1/conflicts", headers=no_scope)).status_code == 403
    for body in ({"action": "maybe"}, {"action": "keep", "extra": 1}, {}):
        bad = await harness.client.post(
            f"/v1/conflicts/{cid}/resolve", json=body, headers=harness.auth(tokens["write"])
        )
        assert bad.status_code == 422, body
        assert bad.headers["content-type"].startswith("application/problem+json")
    assert (
        await harness.client.get(f"/v1/conflicts/{cid}", headers=harness.auth(tokens["read"]))
    ).json()["status"] == "open"
    refused = await _resolve(harness, tokens["other"], cid, action="keep")
    assert refused.status_code == 404
    audit = await harness.client.get("/pip/audit/logs", headers=harness.auth(tokens["write"]))
    denied = [e for e in audit.json()["items"] if e["outcome"] == "denied"]
    assert denied  # the read token's attempt to decide

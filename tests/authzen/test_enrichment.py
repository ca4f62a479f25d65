"""Enrichment as an attacker and an interop PEP see it: claims never pass for store facts, the
caller's id is kept, and subjects are found by every id the store knows them by."""

from __future__ import annotations

from typing import Any

from tests.authzen.conftest import Zen, ask
from tests.conftest import BOTH
from tests.imports.conftest import PEOPLE, post_import

PROBE = """package probe

who := input.subject

admin if "admin" in input.subject.roles

engineer if "engineering" in input.subject.groups

owner if input.resource.properties.owner == input.subject.id
"""
CLAIMS = {"roles": ["admin"], "groups": ["engineering"], "title": "Boss"}


async def probe(zen: Zen) -> None:
    """Upload the probe policy."""
    resp = await zen.api.put_policy("probe.rego", PROBE)
    assert resp.status_code == 200, resp.text


async def seen(zen: Zen, subject: Any) -> dict[str, Any]:
    """The subject as a policy sees it (through the Data API)."""
    body = await zen.api.ask("probe/who", {"subject": subject})
    out: dict[str, Any] = body["result"]
    return out


@BOTH
async def test_unknown_subjects_cannot_claim_roles_or_groups(zen: Zen) -> None:
    """A subject the store does not know, sending roles and groups, is granted nothing by rules
    on store facts, through AuthZEN, /v1/authorize and the Data API; its claims are kept under
    `claimed` and it is marked not found."""
    await probe(zen)
    mallory = {"type": "user", "id": "mallory", **CLAIMS}
    for rule in ("probe/admin", "probe/engineer", "authz/allow"):
        await zen.entrypoint(rule)
        assert (await zen.one(ask(mallory)))["decision"] is False, rule
        (item,) = await zen.many({**ask(mallory), "evaluations": [{}]})
        assert item["decision"] is False, rule
        resp = await zen.post(
            "/v1/authorize", {"subject": mallory, "action": "read", "resource": "x"}
        )
        assert resp.status_code == 200 and resp.json()["allow"] is False, (rule, resp.text)
    for path in ("probe/admin", "probe/engineer"):
        assert "result" not in await zen.api.ask(path, {"subject": mallory})
    subject = await seen(zen, mallory)
    assert subject["enrichment"] == {"found": False}
    assert subject["claimed"] == CLAIMS
    assert "roles" not in subject and "groups" not in subject
    # Without an id, or claiming to be enriched, it is still a claim.
    forged = {"roles": ["admin"], "enrichment": {"found": True}}
    subject = await seen(zen, forged)
    assert subject["enrichment"] == {"found": False}
    assert subject["claimed"] == forged


async def test_known_subjects_keep_store_facts(zen: Zen) -> None:
    """bob (a clerk, in no group) claiming admin and engineering gets the store's facts."""
    await probe(zen)
    bob = {**zen.user("bob"), **CLAIMS}
    for rule in ("probe/admin", "probe/engineer", "authz/allow"):
        await zen.entrypoint(rule)
        assert (await zen.one(ask(bob)))["decision"] is False, rule
    subject = await seen(zen, bob)
    assert subject["title"] == "Clerk" and subject["groups"] == [] and subject["roles"] == []
    assert subject["claimed"] == CLAIMS
    assert subject["enrichment"]["found"] is True


async def test_the_callers_id_is_kept(zen: Zen) -> None:
    """A policy comparing a resource's owner with the id the PEP sent works: `subject.id` is the
    caller's, the store's id is in `enrichment.id` (with the document key)."""
    await probe(zen)
    await zen.entrypoint("probe/owner")
    body = ask({"type": "user", "id": "alice"}, properties={"owner": "alice"})
    assert (await zen.one(body))["decision"] is True
    subject = await seen(zen, "alice")
    assert subject["id"] == "alice"
    assert subject["enrichment"] == {
        "found": True,
        "id": zen.api.org.users["alice"],
        "key": zen.api.org.users["alice"],
    }
    assert subject["title"] == "Engineer" and "engineering" in subject["groups"]


@BOTH
async def test_subjects_are_found_by_every_id_the_store_knows(zen: Zen) -> None:
    """userName and e-mail case-insensitively (as SCIM's filter compares them), externalId, and
    the ids a source linked; a reference naming two people finds neither."""
    org = zen.api.org
    morty = await org.add_user(
        "morty@the-citadel.com",
        externalId="CiRmZDE2MTRkMy1jMzlhLTQ3ODEtYjdiZC04Yjk2ZjVhNTEwMGQSBWxvY2Fs",
        emails=[{"value": "Morty.Smith@the-citadel.com", "primary": True}],
        title="Sidekick",
    )
    scim = await zen.h.client.get(
        "/scim/v2/Users",
        params={"filter": 'userName eq "Morty@The-Citadel.com"'},
        headers=zen.h.auth(org.admin),
    )
    assert scim.json()["totalResults"] == 1  # SCIM finds him so; enrichment must too
    await probe(zen)
    for ref in (
        "Morty@The-Citadel.com",
        "CiRmZDE2MTRkMy1jMzlhLTQ3ODEtYjdiZC04Yjk2ZjVhNTEwMGQSBWxvY2Fs",
        "morty.smith@THE-CITADEL.com",
    ):
        subject = await seen(zen, {"type": "user", "id": ref})
        assert subject["enrichment"]["id"] == morty, ref
        assert subject["id"] == ref and subject["title"] == "Sidekick"
    csv = "id,login,email,name,title\nokta-00u1,rick,rick@the-citadel.com,Rick,Scientist\n"
    writer = await zen.h.token("acme", "identities:write")
    resp = await post_import(zen.h, writer, "okta.csv", csv.encode(), PEOPLE)
    assert resp.status_code == 200, resp.text
    await zen.h.svc.distribution.catch_up("acme")
    subject = await seen(zen, {"type": "user", "id": "okta-00u1"})
    assert subject["enrichment"]["found"] is True and subject["title"] == "Scientist"
    # Another source's record with the same id for someone else: "7" names two people.
    for name, login in (("hr.csv", "ann"), ("crm.csv", "cat")):
        row = f"id,login,email,name,title\n7,{login},{login}@acme.test,{login},Twin\n"
        resp = await post_import(zen.h, writer, name, row.encode(), PEOPLE)
        assert resp.json()["counts"]["identity"]["created"] == 1, resp.text
    await zen.h.svc.distribution.catch_up("acme")
    assert (await seen(zen, "7"))["enrichment"] == {"found": False}
    assert (await seen(zen, "ann"))["enrichment"]["found"] is True

"""The operator read API of the identity store."""

from gatehouse.audit.context import Actor
from gatehouse.identity import groups, service
from gatehouse.identity.schemas import GroupData, IdentityData
from tests.conftest import BOTH, Harness

pytestmark = BOTH
ACME = Actor("acme", "test:api")


async def _seed(h: Harness) -> dict[str, str]:
    await h.tenant("acme")
    await h.tenant("other")
    async with h.svc.db.transaction() as s:
        ada = await service.create_identity(
            s,
            ACME,
            IdentityData(user_name="ada", department="R&D", attributes={"clearance": "high"}),
            source="okta",
        )
        bob = await service.create_identity(
            s, ACME, IdentityData(user_name="bob", department="Sales"), source="workday"
        )
        eng = await groups.create_group(s, ACME, GroupData(display_name="Eng"), source="okta")
        staff = await groups.create_group(s, ACME, GroupData(display_name="Staff"), source="okta")
        await groups.add_members(s, ACME, eng.id, [ada.id], source="okta")
        await groups.add_members(s, ACME, staff.id, [eng.id, bob.id], source="okta")
        await service.link(s, "acme", "okta", "00u1", ada.id)
        return {"ada": ada.id, "bob": bob.id, "eng": eng.id, "staff": staff.id}


async def test_filters(harness: Harness) -> None:
    """Filter by column, JSON attribute, group (nested), source and status."""
    ids = await _seed(harness)
    auth = harness.auth(await harness.token("acme", "identities:read"))

    async def names(**params: str) -> list[str]:
        resp = await harness.client.get("/v1/identities", params=params, headers=auth)
        assert resp.status_code == 200, resp.text
        return sorted(i["user_name"] for i in resp.json()["items"])

    assert await names() == ["ada", "bob"]
    assert await names(department="Sales") == ["bob"]
    assert await names(user_name="ADA") == ["ada"]
    assert await names(**{"attributes.clearance": "high"}) == ["ada"]
    assert await names(group=ids["staff"]) == ["ada", "bob"]
    assert await names(group=ids["eng"]) == ["ada"]
    assert await names(source="okta") == ["ada"]
    assert await names(status="deleted") == []
    bad = await harness.client.get("/v1/identities", params={"token_hash": "x"}, headers=auth)
    assert bad.status_code == 400


async def test_detail_members_and_isolation(harness: Harness) -> None:
    """Detail shows links, inherited groups and history; other tenants get 404."""
    ids = await _seed(harness)
    auth = harness.auth(await harness.token("acme", "identities:read"))
    detail = (await harness.client.get(f"/v1/identities/{ids['ada']}", headers=auth)).json()
    assert {(x["source"], x["external_id"]) for x in detail["links"]} == {("okta", "00u1")}
    assert [g["display_name"] for g in detail["groups"]] == ["Eng", "Staff"]
    assert detail["history"][0]["version"] == 1
    direct = await harness.client.get(f"/v1/groups/{ids['staff']}/members", headers=auth)
    assert {(m["display"], m["type"]) for m in direct.json()} == {
        ("Eng", "group"),
        ("bob", "identity"),
    }
    nested = await harness.client.get(
        f"/v1/groups/{ids['staff']}/members", params={"transitive": "true"}, headers=auth
    )
    assert {m["display"] for m in nested.json()} == {"Eng", "ada", "bob"}
    listed = await harness.client.get("/v1/groups", params={"name": "eng"}, headers=auth)
    assert [g["id"] for g in listed.json()["items"]] == [ids["eng"]]
    assert (await harness.client.get("/v1/resources", headers=auth)).json()["items"] == []
    other = harness.auth(await harness.token("other", "identities:read"))
    for path in (f"/v1/identities/{ids['ada']}", f"/v1/groups/{ids['eng']}/members"):
        assert (await harness.client.get(path, headers=other)).status_code == 404
    assert (await harness.client.get("/v1/identities", headers=other)).json()["items"] == []
    weak = harness.auth(await harness.token("acme", "audit:read"))
    assert (await harness.client.get("/v1/identities", headers=weak)).status_code == 403

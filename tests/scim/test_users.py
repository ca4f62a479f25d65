"""/Users through scim2-client: CRUD, ETags, the enterprise extension, and bad input."""

from typing import Any

import pytest
from scim2_models import (
    Email,
    EnterpriseUser,
    Manager,
    Name,
    NotFoundException,
    PatchOp,
    PatchOperation,
    PhoneNumber,
    User,
)
from sqlalchemy import select

from gatehouse.db.tenancy import ALL_TENANTS
from gatehouse.identity.models import Identity
from tests.conftest import BOTH
from tests.scim.conftest import Scim, scim_http

pytestmark = BOTH
FULL = User[EnterpriseUser]
ENTERPRISE = str(EnterpriseUser.__schema__)


async def stored(scim: Scim, ident: str) -> Identity:
    """The identity row behind a SCIM user."""
    async with scim.h.svc.db.transaction(write=False) as s:
        stmt = select(Identity).where(Identity.id == ident)
        found = (await s.execute(stmt.execution_options(**{ALL_TENANTS: True}))).scalar_one()
        return found


def bjensen(boss: str) -> Any:
    """Barbara Jensen with core and enterprise attributes; `boss` is her manager's id."""
    user = FULL(
        user_name="bjensen@example.com",
        external_id="okta-00u1",
        display_name="Babs Jensen",
        title="Tour Guide",
        active=True,
        name=Name(given_name="Barbara", family_name="Jensen", formatted="Ms. Barbara J Jensen"),
        emails=[
            Email(value="babs@home.example", type="home"),
            Email(value="bjensen@example.com", type="work", primary=True),
        ],
        phone_numbers=[PhoneNumber(value="+1 555 0100", type="work")],
    )
    user[EnterpriseUser] = EnterpriseUser(
        employee_number="701984",
        department="Tour Operations",
        organization="Universal Studios",
        cost_center="4130",
        division="Theme Park",
        manager=Manager(value=boss, ref=f"https://example.com/scim/v2/Users/{boss}"),
    )
    return user


async def test_create_read_replace_delete(scim: Scim) -> None:
    """The full life of a user, as scim2-client drives it, and what the store holds."""
    client = scim.client
    boss = (await scim.user("boss@example.com"))["id"]
    created = await client.create(bjensen(boss))
    assert created.id and created.meta is not None
    assert created.meta.version == 'W/"1"'
    assert created.meta.location.endswith(f"/scim/v2/Users/{created.id}")
    assert created.meta.created == created.meta.last_modified
    row = await stored(scim, created.id)
    assert (row.user_name, row.email, row.given_name, row.family_name) == (
        "bjensen@example.com",
        "bjensen@example.com",
        "Barbara",
        "Jensen",
    )
    assert (row.employee_number, row.department, row.organization) == (
        "701984",
        "Tour Operations",
        "Universal Studios",
    )
    assert (row.cost_center, row.manager_id, row.title) == ("4130", boss, "Tour Guide")
    assert row.attributes["division"] == "Theme Park"
    assert [e["value"] for e in row.attributes["emails"]] == [
        "babs@home.example",
        "bjensen@example.com",
    ]
    assert row.attributes["name"] == {"formatted": "Ms. Barbara J Jensen"}

    fetched = await client.query(FULL, created.id)
    assert fetched.model_dump() == created.model_dump()
    assert fetched[EnterpriseUser].manager.value == boss

    fetched.title = "Chief Guide"
    fetched[EnterpriseUser].department = "Management"
    replaced = await client.replace(fetched)
    assert replaced.meta.version == 'W/"2"'
    row = await stored(scim, created.id)
    assert (row.title, row.department, row.version) == ("Chief Guide", "Management", 2)

    patch = PatchOp[FULL](
        operations=[PatchOperation[FULL](op="replace", path="active", value=False)]
    )
    patched = await client.modify(FULL, created.id, patch)
    assert patched is not None and patched.active is False

    await client.delete(FULL, created.id)
    with pytest.raises(NotFoundException):
        await client.query(FULL, created.id)
    assert (await stored(scim, created.id)).status == "deleted"


async def test_etags(scim: Scim) -> None:
    """ETag matches meta.version; If-None-Match answers 304; If-Match guards writes."""
    user = await scim.user("etag@example.com")
    url = f"/Users/{user['id']}"
    got = await scim.http.get(url)
    assert got.headers["etag"] == 'W/"1"' == got.json()["meta"]["version"]
    assert (await scim.http.get(url, headers={"If-None-Match": 'W/"1"'})).status_code == 304
    assert (await scim.http.get(url, headers={"If-None-Match": 'W/"9"'})).status_code == 200
    body = {"userName": "etag@example.com", "title": "Dr"}
    ok = await scim.http.put(url, json=body, headers={"If-Match": 'W/"1"'})
    assert ok.status_code == 200 and ok.headers["etag"] == 'W/"2"'
    stale = await scim.http.put(url, json=body, headers={"If-Match": 'W/"1"'})
    assert stale.status_code == 412
    assert (await scim.http.delete(url, headers={"If-Match": "*"})).status_code == 204


async def test_unknown_attributes_and_wrong_types_change_nothing(scim: Scim) -> None:
    """Unknown attributes are invalidSyntax, wrong types invalidValue; the store is untouched."""
    user = await scim.user("strict@example.com")
    before = await scim.counts()
    bad: list[tuple[dict[str, Any], str]] = [
        ({"userName": "x", "favouriteColour": "blue"}, "invalidSyntax"),
        ({"userName": "x", "urn:example:custom:2.0:User": {"a": 1}}, "invalidSyntax"),
        ({"userName": 42}, "invalidValue"),
        ({"userName": "x", "active": "sometimes"}, "invalidValue"),
        ({"userName": "x", "emails": "x@example.com"}, "invalidValue"),
        ({"userName": "x", "emails": [{"value": "not-an-address"}]}, "invalidValue"),
        ({"userName": "x", "name": "Barbara"}, "invalidValue"),
        ({"displayName": "no userName"}, "invalidValue"),
        ({"userName": "x" * 300}, "invalidValue"),
    ]
    for body, scim_type in bad:
        for resp in (
            await scim.http.post("/Users", json=body),
            await scim.http.put(f"/Users/{user['id']}", json=body),
        ):
            assert resp.status_code == 400, (body, resp.text)
            assert resp.json()["scimType"] == scim_type, (body, resp.text)
    assert await scim.counts() == before


async def test_tenants_do_not_see_each_other(scim: Scim) -> None:
    """Another tenant's ids are 404 for every verb, and its lists are empty."""
    user = await scim.user("mine@example.com")
    group = await scim.group("Mine", [user["id"]])
    token = await scim.h.token("other", "scim:write")
    before = await scim.counts()
    async with scim_http(scim.h, token) as other:
        for path in (f"/Users/{user['id']}", f"/Groups/{group['id']}"):
            assert (await other.get(path)).status_code == 404
            assert (
                await other.put(path, json={"userName": "x", "displayName": "x"})
            ).status_code == 404
            patch = {"Operations": [{"op": "replace", "path": "displayName", "value": "x"}]}
            assert (await other.patch(path, json=patch)).status_code == 404
            assert (await other.delete(path)).status_code == 404
        assert (await other.get("/Users")).json()["totalResults"] == 0
        # The same userName is free in another tenant; our user cannot be made a member there.
        theirs = await other.post("/Users", json={"userName": "mine@example.com"})
        assert theirs.status_code == 201
        refused = await other.post(
            "/Groups", json={"displayName": "Theirs", "members": [{"value": user["id"]}]}
        )
        assert refused.status_code == 400
    after = await scim.counts()
    assert after[1] == before[1] + 1 and after[2] == before[2]


async def test_deleted_user_name_can_be_provisioned_again(scim: Scim) -> None:
    """After DELETE, an IdP may create the same userName and externalId again."""
    first = await scim.user("again@example.com", externalId="ext-1")
    assert (await scim.http.delete(f"/Users/{first['id']}")).status_code == 204
    second = await scim.user("again@example.com", externalId="ext-1")
    assert second["id"] != first["id"]
    listed = await scim.http.get("/Users", params={"filter": 'userName eq "again@example.com"'})
    assert [u["id"] for u in listed.json()["Resources"]] == [second["id"]]


async def test_plain_json_requests(scim: Scim) -> None:
    """Clients may send application/json instead of application/scim+json."""
    headers = {"Content-Type": "application/json"}
    resp = await scim.http.post("/Users", content=b'{"userName": "plain"}', headers=headers)
    assert resp.status_code == 201 and resp.headers["content-type"] == "application/scim+json"


async def test_password_is_accepted_and_never_kept(scim: Scim) -> None:
    """Okta may send a password; Gatehouse is not a credential store and drops it."""
    user = await scim.user("pw@example.com", password="hunter2")
    assert "password" not in user
    row = await stored(scim, user["id"])
    assert "hunter2" not in repr(row.attributes)

"""The request sequences Okta and Microsoft Entra ID send when provisioning, replayed as
their documentation shows them."""

from typing import Any

import httpx

from tests.conftest import BOTH
from tests.scim.conftest import Scim

pytestmark = BOTH
CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENT = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def ok(resp: httpx.Response, status: int = 200) -> dict[str, Any]:
    """Assert a status and return the JSON body (empty for 204)."""
    assert resp.status_code == status, resp.text
    return dict(resp.json()) if resp.content else {}


def ops(*operations: dict[str, Any]) -> dict[str, Any]:
    """A PatchOp body."""
    return {"schemas": [PATCH_OP], "Operations": list(operations)}


async def test_okta_user_lifecycle(scim: Scim) -> None:
    """Okta: look up by userName, create, read, replace the profile, deactivate, reactivate."""
    http = scim.http
    lookup = {"filter": 'userName eq "test.user@okta.local"', "startIndex": 1, "count": 100}
    assert ok(await http.get("/Users", params=lookup))["totalResults"] == 0
    created = ok(
        await http.post(
            "/Users",
            json={
                "schemas": [CORE],
                "userName": "test.user@okta.local",
                "name": {"givenName": "Test", "familyName": "User"},
                "emails": [{"primary": True, "value": "test.user@okta.local", "type": "work"}],
                "displayName": "Test User",
                "locale": "en-US",
                "externalId": "00ujl29u0le5T6Aj10h7",
                "groups": [],
                "password": "1mz050nq",
                "active": True,
            },
        ),
        201,
    )
    url = f"/Users/{created['id']}"
    assert ok(await http.get(url))["locale"] == "en-US"
    listed = ok(await http.get("/Users", params=lookup))
    assert [u["id"] for u in listed["Resources"]] == [created["id"]]
    profile = {k: v for k, v in created.items() if k not in ("meta",)}
    profile["name"] = {"givenName": "Test", "familyName": "Userson"}
    assert ok(await http.put(url, json=profile))["name"]["familyName"] == "Userson"
    deactivated = ok(await http.patch(url, json=ops({"op": "replace", "value": {"active": False}})))
    assert deactivated["active"] is False
    inactive = ok(await http.get("/Users", params={"filter": "active eq false"}))
    assert [u["id"] for u in inactive["Resources"]] == [created["id"]]
    assert ok(await http.patch(url, json=ops({"op": "replace", "value": {"active": True}})))[
        "active"
    ]


async def test_okta_group_push(scim: Scim) -> None:
    """Okta Group Push: create empty, rename with the id in the value, add and remove members."""
    http = scim.http
    user = await scim.user("pushed@okta.local")
    group = ok(
        await http.post(
            "/Groups", json={"schemas": [GROUP], "displayName": "Test SCIMv2", "members": []}
        ),
        201,
    )
    url = f"/Groups/{group['id']}"
    rename = {"op": "replace", "value": {"id": group["id"], "displayName": "Test SCIMv2 Renamed"}}
    assert ok(await http.patch(url, json=ops(rename)))["displayName"] == "Test SCIMv2 Renamed"
    add = {
        "op": "add",
        "path": "members",
        "value": [{"value": user["id"], "display": "pushed@okta.local"}],
    }
    assert [m["value"] for m in ok(await http.patch(url, json=ops(add)))["members"]] == [user["id"]]
    remove = {"op": "remove", "path": f'members[value eq "{user["id"]}"]'}
    assert "members" not in ok(await http.patch(url, json=ops(remove)))
    ok(await http.delete(url), 204)


async def test_entra_user_lifecycle(scim: Scim) -> None:
    """Entra: query, create with meta and empty roles, patch email/name/manager, disable, delete."""
    http = scim.http
    name = "Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1"
    # The Tenant URL carries Entra's feature flag; it reaches every request as a query parameter.
    query = {"aadOptscim062020": "", "filter": f'userName eq "{name}"'}
    assert ok(await http.get("/Users", params=query))["totalResults"] == 0
    manager = await scim.user("Test_Manager@testuser.com")
    created = ok(
        await http.post(
            "/Users",
            json={
                "schemas": [CORE, ENT],
                "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
                "userName": name,
                "active": True,
                "emails": [
                    {
                        "primary": True,
                        "type": "work",
                        "value": "Test_User_fd0ea19b-0777-472c-9f96-4f70d2226f2e@testuser.com",
                    }
                ],
                "meta": {"resourceType": "User"},
                "name": {
                    "formatted": "givenName familyName",
                    "familyName": "familyName",
                    "givenName": "givenName",
                },
                "roles": [],
            },
        ),
        201,
    )
    url = f"/Users/{created['id']}"
    plain_json = await http.get("/Users", params=query, headers={"Accept": "application/json"})
    assert ok(plain_json)["totalResults"] == 1
    updated = ok(
        await http.patch(
            url,
            json=ops(
                {
                    "op": "Replace",
                    "path": 'emails[type eq "work"].value',
                    "value": "updatedEmail@microsoft.com",
                },
                {"op": "Replace", "path": "name.familyName", "value": "updatedFamilyName"},
                {
                    "op": "Add",
                    "path": f"{ENT}:manager",
                    "value": [{"$ref": None, "value": manager["id"]}],
                },
            ),
        )
    )
    assert updated["emails"][0]["value"] == "updatedEmail@microsoft.com"
    assert updated["name"]["familyName"] == "updatedFamilyName"
    assert updated[ENT]["manager"]["value"] == manager["id"]
    removed = ok(await http.patch(url, json=ops({"op": "Remove", "path": f"{ENT}:manager"})))
    assert ENT not in removed
    # Without aadOptscim062020, Entra sends booleans as strings.
    assert (
        ok(await http.patch(url, json=ops({"op": "Replace", "path": "active", "value": "False"})))[
            "active"
        ]
        is False
    )
    ok(await http.delete(url), 204)
    assert ok(await http.get("/Users", params=query))["totalResults"] == 0


async def test_entra_groups(scim: Scim) -> None:
    """Entra: create, find by name without members, rename, add/remove by value list, check."""
    http = scim.http
    user = await scim.user("member@testuser.com")
    group = ok(
        await http.post(
            "/Groups",
            json={
                "schemas": [GROUP],
                "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
                "displayName": "displayName",
                "meta": {"resourceType": "Group"},
            },
        ),
        201,
    )
    url = f"/Groups/{group['id']}"
    found = ok(
        await http.get(
            "/Groups",
            params={"excludedAttributes": "members", "filter": 'displayName eq "displayName"'},
        )
    )
    assert [g["id"] for g in found["Resources"]] == [group["id"]]
    ok(await http.get(url, params={"excludedAttributes": "members"}))
    renamed = ok(
        await http.patch(
            url, json=ops({"op": "Replace", "path": "displayName", "value": "updatedDisplayName"})
        )
    )
    assert renamed["displayName"] == "updatedDisplayName"
    member = [{"$ref": None, "value": user["id"]}]
    ok(await http.patch(url, json=ops({"op": "Add", "path": "members", "value": member})))
    check = {
        "excludedAttributes": "members",
        "filter": f'id eq "{group["id"]}" and members[value eq "{user["id"]}"]',
    }
    assert ok(await http.get("/Groups", params=check))["totalResults"] == 1
    ok(await http.patch(url, json=ops({"op": "Remove", "path": "members", "value": member})))
    assert ok(await http.get("/Groups", params=check))["totalResults"] == 0
    ok(await http.delete(url), 204)

"""Attacks: an enterprise `manager.value` naming another tenant's user, an unknown id or a
deleted user is refused on POST, PUT, PATCH and Bulk, and nothing is written."""

from typing import Any

from tests.conftest import BOTH
from tests.scim.conftest import Scim, scim_http

pytestmark = BOTH
ENT = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def refused(resp: Any) -> None:
    """400 invalidValue in SCIM's error shape."""
    assert resp.status_code == 400, resp.text
    body = resp.json()
    assert body["scimType"] == "invalidValue", body
    assert body["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]


async def test_foreign_unknown_and_deleted_managers_are_refused(scim: Scim) -> None:
    """Every way of naming a manager refuses an id that is not a live user of the tenant."""
    other_token = await scim.h.token("other", "scim:write")
    async with scim_http(scim.h, other_token) as theirs:
        resp = await theirs.post("/Users", json={"schemas": [CORE], "userName": "victim@b.test"})
        assert resp.status_code == 201, resp.text
        foreign = resp.json()["id"]
    gone = (await scim.user("gone@a.test"))["id"]
    assert (await scim.http.delete(f"/Users/{gone}")).status_code == 204
    user = await scim.user("ada@a.test")
    url = f"/Users/{user['id']}"
    before = await scim.counts()
    for bad in (foreign, gone, "no-such-user"):
        refused(
            await scim.http.post(
                "/Users",
                json={"schemas": [CORE], "userName": "new@a.test", ENT: {"manager": bad}},
            )
        )
        refused(
            await scim.http.post(
                "/Users",
                json={
                    "schemas": [CORE, ENT],
                    "userName": "new@a.test",
                    ENT: {"manager": {"value": bad}},
                },
            )
        )
        refused(
            await scim.http.put(
                url, json={"userName": "ada@a.test", ENT: {"manager": {"value": bad}}}
            )
        )
        for op in (
            {"op": "add", "path": f"{ENT}:manager", "value": {"value": bad}},
            {"op": "replace", "path": f"{ENT}:manager.value", "value": bad},
            {"op": "replace", "path": f"{ENT}:manager", "value": [{"$ref": None, "value": bad}]},
            {"op": "Add", "value": {f"{ENT}:manager": bad}},
            {"op": "replace", "value": {ENT: {"manager": {"value": bad}}}},
        ):
            body = {"schemas": [PATCH_OP], "Operations": [op]}
            refused(await scim.http.patch(url, json=body))
        bulk = {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
            "Operations": [
                {
                    "method": "PATCH",
                    "path": url,
                    "data": {
                        "schemas": [PATCH_OP],
                        "Operations": [
                            {"op": "add", "path": f"{ENT}:manager", "value": {"value": bad}}
                        ],
                    },
                }
            ],
        }
        resp = await scim.http.post("/Bulk", json=bulk)
        assert resp.status_code == 200, resp.text
        result = resp.json()["Operations"][0]
        assert result["status"] == "400" and result["response"]["scimType"] == "invalidValue"
    assert await scim.counts() == before
    got = (await scim.http.get(url)).json()
    assert "manager" not in got.get(ENT, {}) and got["meta"]["version"] == 'W/"1"'


async def test_managers_of_the_tenant_are_kept(scim: Scim) -> None:
    """A live user of the tenant is accepted; a PUT repeating a manager deleted since is too."""
    boss = (await scim.user("boss@a.test"))["id"]
    user = await scim.user("ada@a.test", **{ENT: {"manager": {"value": boss}}})
    assert user[ENT]["manager"]["value"] == boss
    assert (await scim.http.delete(f"/Users/{boss}")).status_code == 204
    body = {"userName": "ada@a.test", "title": "Dr", ENT: {"manager": {"value": boss}}}
    resp = await scim.http.put(f"/Users/{user['id']}", json=body)
    assert resp.status_code == 200, resp.text
    assert resp.json()[ENT]["manager"]["value"] == boss
    ops = [{"op": "remove", "path": f"{ENT}:manager"}]
    resp = await scim.http.patch(f"/Users/{user['id']}", json={"Operations": ops})
    assert resp.status_code == 200, resp.text
    assert "manager" not in resp.json().get(ENT, {})

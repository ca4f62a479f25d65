"""PATCH on Users: simple, complex, multi-valued and extension paths, value filters, and
the shapes Microsoft Entra sends."""

from typing import Any

from tests.conftest import BOTH
from tests.scim.conftest import Scim

pytestmark = BOTH
ENT = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


async def patched(
    scim: Scim, ident: str, *ops: dict[str, Any], status: int = 200
) -> dict[str, Any]:
    """PATCH a user and return the response body."""
    body = {"schemas": [PATCH_OP], "Operations": list(ops)}
    resp = await scim.http.patch(f"/Users/{ident}", json=body)
    assert resp.status_code == status, resp.text
    return dict(resp.json())


async def test_paths(scim: Scim) -> None:
    """Each kind of path lands where a later GET and filter find it."""
    user = await scim.user(
        "pat@example.com",
        emails=[{"value": "pat@example.com", "type": "work", "primary": True}],
    )
    ident = user["id"]
    doc = await patched(
        scim,
        ident,
        {"op": "replace", "path": "title", "value": "Analyst"},
        {"op": "add", "path": "name.givenName", "value": "Pat"},
        {"op": "add", "path": "emails", "value": [{"value": "pat@home.example", "type": "home"}]},
        {"op": "replace", "path": 'emails[type eq "work"].value', "value": "p.at@example.com"},
        {"op": "add", "path": f"{ENT}:department", "value": "Finance"},
        {"op": "add", "path": "phoneNumbers", "value": [{"value": "+1 555", "type": "work"}]},
    )
    assert doc["title"] == "Analyst" and doc["name"]["givenName"] == "Pat"
    assert [e["value"] for e in doc["emails"]] == ["p.at@example.com", "pat@home.example"]
    assert doc[ENT]["department"] == "Finance"
    assert doc["meta"]["version"] == 'W/"2"'
    found = await scim.http.get(
        "/Users", params={"filter": 'emails[type eq "work" and value sw "p.at"]'}
    )
    assert found.json()["totalResults"] == 1
    doc = await patched(
        scim,
        ident,
        {"op": "remove", "path": 'emails[type eq "home"]'},
        {"op": "remove", "path": f"{ENT}:department"},
        {"op": "remove", "path": "phoneNumbers"},
    )
    assert [e["value"] for e in doc["emails"]] == ["p.at@example.com"]
    assert ENT not in doc and "phoneNumbers" not in doc
    # The same operations again change nothing: the version stays.
    again = await patched(scim, ident, {"op": "replace", "path": "title", "value": "Analyst"})
    assert again["meta"]["version"] == doc["meta"]["version"]


async def test_entra_shapes(scim: Scim) -> None:
    """Capitalised ops, string booleans, URN keys in a path-less value, a bare manager id."""
    manager = await scim.user("boss@example.com")
    user = await scim.user("e@example.com", active=True)
    doc = await patched(
        scim,
        user["id"],
        {"op": "Replace", "path": "active", "value": "False"},
        {
            "op": "Add",
            "value": {
                "displayName": "E. Xample",
                "name.familyName": "Xample",
                f"{ENT}:employeeNumber": "42",
                f"{ENT}:manager": manager["id"],
            },
        },
        {"op": "Add", "path": 'emails[type eq "work"].value', "value": "e@work.example"},
    )
    assert doc["active"] is False
    assert (doc["displayName"], doc["name"]["familyName"]) == ("E. Xample", "Xample")
    assert doc[ENT]["employeeNumber"] == "42"
    assert doc[ENT]["manager"]["value"] == manager["id"]
    assert doc["emails"] == [{"value": "e@work.example", "type": "work"}]
    doc = await patched(
        scim,
        user["id"],
        {"op": "Replace", "path": "active", "value": "True"},
        {"op": "Replace", "path": f"{ENT}:manager", "value": {"value": ""}},
    )
    assert doc["active"] is True and "manager" not in doc.get(ENT, {})


async def test_bad_patches_change_nothing(scim: Scim) -> None:
    """Unknown paths, read-only targets, bad values, a taken userName: 4xx and no writes."""
    await scim.user("taken@example.com")
    user = await scim.user("victim@example.com")
    before = await scim.counts()
    cases: list[tuple[dict[str, Any], int, str]] = [
        ({"op": "replace", "path": "shoeSize", "value": 44}, 400, "invalidPath"),
        ({"op": "add", "path": "urn:example:custom:2.0:User:x", "value": 1}, 400, "invalidPath"),
        ({"op": "remove", "path": "nickName.first"}, 400, "invalidPath"),
        ({"op": "replace", "path": "id", "value": "mine"}, 400, "mutability"),
        ({"op": "replace", "path": "meta.version", "value": "x"}, 400, "mutability"),
        ({"op": "remove", "path": "userName"}, 400, "mutability"),
        ({"op": "replace", "path": "active", "value": "perhaps"}, 400, "invalidValue"),
        ({"op": "replace", "path": "emails", "value": "x"}, 400, "invalidValue"),
        ({"op": "replace", "value": {"title": "x", "shoeSize": 44}}, 400, "invalidValue"),
        (
            {"op": "replace", "path": 'emails[value co "nobody"].type', "value": "work"},
            400,
            "noTarget",
        ),
        ({"op": "remove"}, 400, "noTarget"),
        ({"op": "replace", "path": "userName", "value": "TAKEN@example.com"}, 409, "uniqueness"),
        ({"op": "replace", "path": "title", "value": "t" * 300}, 400, "invalidValue"),
    ]
    for op, status, scim_type in cases:
        ops = [{"op": "replace", "path": "title", "value": "changed first"}, op]
        body = await patched(scim, user["id"], *ops, status=status)
        assert body["scimType"] == scim_type, (op, body)
    assert await scim.counts() == before
    stale = await scim.http.patch(
        f"/Users/{user['id']}",
        json={"Operations": [{"op": "replace", "path": "title", "value": "x"}]},
        headers={"If-Match": 'W/"99"'},
    )
    assert stale.status_code == 412
    assert await scim.counts() == before

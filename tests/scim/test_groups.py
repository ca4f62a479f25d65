"""/Groups: CRUD with members (users and nested groups), filters, and member PATCHes."""

from typing import Any

from scim2_models import Group, GroupMember, PatchOp, PatchOperation
from sqlalchemy import func, select

from gatehouse.audit.context import Actor
from gatehouse.db.tenancy import ALL_TENANTS
from gatehouse.events.models import Event
from gatehouse.identity import service
from gatehouse.identity.schemas import IdentityData
from tests.conftest import BOTH
from tests.scim.conftest import Scim

pytestmark = BOTH


def member_ids(doc: dict[str, Any]) -> list[str]:
    """The member ids of a Group document, sorted."""
    return sorted(m["value"] for m in doc.get("members", []))


async def people(scim: Scim, count: int) -> list[str]:
    """Create users p0..pN and return their ids."""
    return [(await scim.user(f"p{i}@example.com"))["id"] for i in range(count)]


async def test_group_life_with_scim2_client(scim: Scim) -> None:
    """Create with members, read them back with display/$ref/type, replace, delete."""
    ada, bob = await people(scim, 2)
    client = scim.client
    created = await client.create(
        Group(display_name="Engineering", external_id="okta-g1", members=[GroupMember(value=ada)])
    )
    assert created.id and [m.value for m in created.members or []] == [ada]
    member = (created.members or [])[0]
    assert (member.display, member.type) == ("p0@example.com", "User")
    assert str(member.ref).endswith(f"/scim/v2/Users/{ada}")
    nested = await client.create(
        Group(display_name="Staff", members=[GroupMember(value=created.id)])
    )
    assert [(m.value, m.type) for m in nested.members or []] == [(created.id, "Group")]

    created.display_name = "Platform"
    created.members = [GroupMember(value=bob)]
    replaced = await client.replace(created)
    assert replaced.display_name == "Platform"
    assert [m.value for m in replaced.members or []] == [bob]

    user = (await scim.http.get(f"/Users/{bob}")).json()
    assert [g["display"] for g in user["groups"]] == ["Platform"]
    await client.delete(Group, created.id)
    assert (await scim.http.get(f"/Groups/{created.id}")).status_code == 404
    assert (await scim.http.get(f"/Users/{bob}")).json().get("groups") is None
    again = await scim.group("Platform")
    assert again["id"] != created.id


async def test_group_filters_and_member_exclusion(scim: Scim) -> None:
    """displayName (any case), externalId, id, members.value and members[value eq]."""
    ada, bob = await people(scim, 2)
    eng = await scim.group("Engineering", [ada])
    sales = await scim.group("Sales", [bob])
    cases = [
        ('displayName eq "engineering"', [eng["id"]]),
        ('displayName sw "S"', [sales["id"]]),
        (f'id eq "{sales["id"]}"', [sales["id"]]),
        (f'members.value eq "{ada}"', [eng["id"]]),
        (f'id eq "{eng["id"]}" and members[value eq "{ada}"]', [eng["id"]]),
        (f'id eq "{eng["id"]}" and members[value eq "{bob}"]', []),
        ('members[type eq "User"]', sorted([eng["id"], sales["id"]])),
        ('members[type eq "Group"]', []),
        ("not (members pr)", []),
    ]
    for text, expected in cases:
        resp = await scim.http.get(
            "/Groups", params={"filter": text, "excludedAttributes": "members"}
        )
        assert resp.status_code == 200, (text, resp.text)
        found = resp.json()["Resources"]
        assert sorted(g["id"] for g in found) == expected, text
        assert all("members" not in g for g in found)
    named = await scim.http.get(
        "/Groups", params={"attributes": "displayName", "sortBy": "displayName"}
    )
    assert [g["displayName"] for g in named.json()["Resources"]] == ["Engineering", "Sales"]
    bad = await scim.http.get("/Groups", params={"filter": 'members[display eq "x"]'})
    assert bad.status_code == 400 and bad.json()["scimType"] == "invalidFilter"


async def test_member_patches(scim: Scim) -> None:
    """add, remove by filter, remove by value list (Entra), replace, remove all."""
    a, b, c = await people(scim, 3)
    group = await scim.group("Team", [a])
    url = f"/Groups/{group['id']}"

    async def patch(*ops: dict[str, Any]) -> dict[str, Any]:
        resp = await scim.http.patch(
            url, json={"schemas": [PatchOp.__schema__], "Operations": list(ops)}
        )
        assert resp.status_code == 200, resp.text
        return dict(resp.json())

    assert member_ids(
        await patch({"op": "add", "path": "members", "value": [{"value": b}, {"value": c}]})
    ) == sorted([a, b, c])
    assert member_ids(await patch({"op": "remove", "path": f'members[value eq "{a}"]'})) == sorted(
        [b, c]
    )
    assert member_ids(
        await patch({"op": "Remove", "path": "members", "value": [{"value": b}]})
    ) == [c]
    # Removing someone who is not a member changes nothing and is not an error.
    assert member_ids(await patch({"op": "remove", "path": f'members[value eq "{a}"]'})) == [c]
    assert member_ids(
        await patch({"op": "replace", "path": "members", "value": [{"value": a}]})
    ) == [a]
    assert member_ids(await patch({"op": "add", "value": {"members": [{"value": b}]}})) == sorted(
        [a, b]
    )
    assert member_ids(await patch({"op": "remove", "path": "members"})) == []
    renamed = await patch(
        {"op": "replace", "value": {"id": group["id"], "displayName": "Team 2"}},
        {"op": "add", "path": "members", "value": [{"value": c}]},
    )
    assert (renamed["displayName"], member_ids(renamed)) == ("Team 2", [c])
    # A member filter on another sub-attribute takes the general path.
    assert member_ids(await patch({"op": "remove", "path": 'members[type eq "User"]'})) == []


async def test_bad_member_patches_change_nothing(scim: Scim) -> None:
    """Unknown ids, cycles, bad shapes and unknown paths are 400 and write nothing."""
    (a,) = await people(scim, 1)
    parent = await scim.group("Parent")
    child = await scim.group("Child", [parent["id"]])
    url = f"/Groups/{parent['id']}"
    before = await scim.counts()
    bad = [
        ({"op": "add", "path": "members", "value": [{"value": "nobody"}]}, "invalidValue"),
        ({"op": "add", "path": "members", "value": [{"value": child["id"]}]}, "invalidValue"),
        ({"op": "add", "path": "members", "value": [{"display": "no value"}]}, "invalidValue"),
        ({"op": "add", "path": "owners", "value": [{"value": a}]}, "invalidPath"),
        ({"op": "replace", "path": "displayName", "value": 7}, "invalidValue"),
        ({"op": "jump", "path": "displayName", "value": "x"}, "invalidValue"),
        ({"op": "remove", "path": "displayName"}, "mutability"),
    ]
    for op, scim_type in bad:
        ops = [{"op": "add", "path": "members", "value": [{"value": a}]}, op]
        resp = await scim.http.patch(url, json={"Operations": ops})
        assert resp.status_code == 400, (op, resp.text)
        assert resp.json()["scimType"] == scim_type, (op, resp.text)
    assert (await scim.http.patch(url, json={"Operations": []})).status_code == 400
    assert (await scim.http.patch(url, json={"operations": "add"})).status_code == 400
    assert (await scim.http.post("/Groups", json={"displayName": "child"})).status_code == 409
    assert await scim.counts() == before


async def test_thousand_members_in_one_patch(scim: Scim) -> None:
    """One PATCH adds 1,000 members in one transaction: one version, 1,000 events."""
    actor = Actor("acme", "test:bulk")
    async with scim.h.svc.db.transaction() as s:
        ids = [
            (
                await service.create_identity(s, actor, IdentityData(user_name=f"u{i}"), source="t")
            ).id
            for i in range(1000)
        ]
    group = await scim.group("Everyone")
    patch = PatchOp[Group](
        operations=[
            PatchOperation[Group](op="add", path="members", value=[{"value": i} for i in ids])
        ]
    )
    result = await scim.client.modify(Group, group["id"], patch)
    assert result is not None and len(result.members or []) == 1000
    assert result.meta is not None and result.meta.version == 'W/"2"'
    async with scim.h.svc.db.transaction(write=False) as s:
        stmt = select(func.count()).select_from(Event).where(Event.type == "membership.added")
        added = (await s.execute(stmt.execution_options(**{ALL_TENANTS: True}))).scalar_one()
    assert added == 1000

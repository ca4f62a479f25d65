"""SCIM writes go through correlation: a POST for a person another source knows links to that
identity, values SCIM loses on precedence are kept as conflicts, ambiguous matches create
nothing."""

from typing import Any

from sqlalchemy import select

from gatehouse.audit.context import Actor
from gatehouse.audit.models import AuditEntry
from gatehouse.db.tenancy import TENANT
from gatehouse.identity import service
from gatehouse.identity.bulk import load_org
from gatehouse.identity.correlation import ingest
from gatehouse.identity.models import Conflict, Identity
from gatehouse.identity.schemas import IdentityData
from gatehouse.identity.synthetic import Person, generate
from gatehouse.tenants.models import Tenant
from tests.conftest import BOTH
from tests.scim.conftest import Scim
from tests.scim.test_errors import scim_error

pytestmark = BOTH
CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
ENT = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
HR = Actor("acme", "test:hr")


async def load_hr(scim: Scim) -> list[Person]:
    """The people `gatehouse demo generate` loads, from source `hr`, into tenant acme."""
    org = generate(12, 3, seed=11)
    async with scim.h.svc.db.transaction() as s:
        await load_org(s, HR, org, source="hr")
    return org.people


async def precedence(scim: Scim, rules: dict[str, Any]) -> None:
    """Set the tenant's correlation settings."""
    async with scim.h.svc.db.transaction() as s:
        tenant = await s.get(Tenant, "acme")
        assert tenant is not None
        tenant.settings = {"correlation": rules}


async def conflicts(scim: Scim) -> list[tuple[Any, ...]]:
    """(kind, identity, attribute, source, offered, kept source, kept) of every conflict."""
    async with scim.h.svc.db.transaction(write=False) as s:
        rows = await s.execute(
            select(Conflict)
            .order_by(Conflict.at, Conflict.id)
            .execution_options(**{TENANT: "acme"})
        )
        return [
            (c.kind, c.identity_id, c.attribute, c.source, c.offered, c.kept_source, c.kept)
            for c in rows.scalars()
        ]


async def hr_identity(scim: Scim, person: Person) -> Identity:
    """The identity HR loaded for a person."""
    async with scim.h.svc.db.transaction(write=False) as s:
        found = await s.execute(
            select(Identity)
            .where(Identity.employee_number == person.employee_number)
            .execution_options(**{TENANT: "acme"})
        )
        return found.scalar_one()


async def links(scim: Scim, identity_id: str) -> set[tuple[str, str]]:
    """The (source, external id) links of an identity."""
    async with scim.h.svc.db.transaction(write=False) as s:
        return {(x.source, x.external_id) for x in await service.links_of(s, "acme", identity_id)}


def idp_user(person: Person, user_name: str, **extra: Any) -> dict[str, Any]:
    """What an IdP sends for a person (its own login name, the work e-mail HR also knows)."""
    return {
        "schemas": [CORE],
        "userName": user_name,
        "name": {"givenName": person.given_name, "familyName": person.family_name},
        "emails": [{"value": person.email, "type": "work", "primary": True}],
        **extra,
    }


async def test_post_links_to_the_person_hr_knows(scim: Scim) -> None:
    """The IdP's POST for someone HR loaded returns that identity (201), adds a link, keeps
    HR's enterprise data it did not state, and writes no second identity."""
    people = await load_hr(scim)
    ada = people[3]
    known = await hr_identity(scim, ada)
    before = await scim.counts()
    body = idp_user(ada, "ada.idp@corp.example", externalId="00u-ada", title="Staff Engineer")
    resp = await scim.http.post("/Users", json=body)
    assert resp.status_code == 201, resp.text
    user = resp.json()
    assert user["id"] == known.id
    assert resp.headers["location"].endswith(f"/Users/{known.id}")
    assert (user["userName"], user["title"]) == ("ada.idp@corp.example", "Staff Engineer")
    assert user[ENT]["department"] == ada.department
    assert user[ENT]["employeeNumber"] == ada.employee_number
    assert user["externalId"] == "00u-ada"
    events, identities, _, _ = await scim.counts()
    assert (identities, events) == (before[1], before[0] + 1)  # one identity.updated
    assert await links(scim, known.id) == {("hr", ada.employee_number), ("scim", "00u-ada")}
    assert await conflicts(scim) == []
    # The same IdP account again is a duplicate (RFC 7644 §3.3: 409 uniqueness).
    scim_error(await scim.http.post("/Users", json=body), 409, "uniqueness")
    # Another IdP account sharing the mailbox is another identity, not a second link.
    shared = idp_user(ada, "ada.admin@corp.example")
    other = await scim.http.post("/Users", json=shared)
    assert other.status_code == 201, other.text
    assert other.json()["id"] != known.id
    # HR's next sync still updates the linked identity, under its own link.
    async with scim.h.svc.db.transaction() as s:
        outcome = await ingest(
            s, HR, "hr", ada.employee_number, {"employee_number": ada.employee_number}
        )
    assert outcome.identity_id == known.id


async def test_values_scim_loses_are_conflicts_not_overwrites(scim: Scim) -> None:
    """With HR ranked first for department and title, the IdP's values for them are kept as
    conflicts on POST, PUT and PATCH; what the IdP may write, it writes."""
    await precedence(scim, {"precedence": {"department": ["hr", "scim"], "title": ["hr"]}})
    people = await load_hr(scim)
    bob = people[5]
    body = idp_user(
        bob, bob.email, title="Wizard", **{"schemas": [CORE, ENT], ENT: {"department": "Magic"}}
    )
    resp = await scim.http.post("/Users", json=body)
    assert resp.status_code == 201, resp.text
    user = resp.json()
    ident = user["id"]
    assert (user["title"], user[ENT]["department"]) == (bob.title, bob.department)
    expected = [
        ("precedence", ident, "title", "scim", "Wizard", "hr", bob.title),
        ("precedence", ident, "department", "scim", "Magic", "hr", bob.department),
    ]
    assert sorted(await conflicts(scim), key=repr) == sorted(expected, key=repr)
    version = user["meta"]["version"]
    put = {k: v for k, v in user.items() if k not in ("meta", "groups")}
    put.update(title="Archmage", displayName="Bob the IdP")
    replaced = await scim.http.put(f"/Users/{ident}", json=put, headers={"If-Match": version})
    assert replaced.status_code == 200, replaced.text
    assert (replaced.json()["title"], replaced.json()["displayName"]) == (bob.title, "Bob the IdP")
    patch = {
        "schemas": [PATCH_OP],
        "Operations": [
            {"op": "replace", "path": f"{ENT}:department", "value": "Sorcery"},
            {"op": "remove", "path": "title"},
            {"op": "replace", "path": "active", "value": False},
        ],
    }
    patched = await scim.http.patch(f"/Users/{ident}", json=patch)
    assert patched.status_code == 200, patched.text
    doc = patched.json()
    assert (doc["title"], doc[ENT]["department"], doc["active"]) == (
        bob.title,
        bob.department,
        False,
    )
    later = (await conflicts(scim))[2:]
    assert sorted(later, key=repr) == sorted(
        [
            ("precedence", ident, "title", "scim", "Archmage", "hr", bob.title),
            ("precedence", ident, "department", "scim", "Sorcery", "hr", bob.department),
            ("precedence", ident, "title", "scim", None, "hr", bob.title),
        ],
        key=repr,
    )


async def test_a_put_withdraws_only_what_scim_set(scim: Scim) -> None:
    """Leaving an attribute out of a PUT clears it when SCIM set it, never when HR did."""
    people = await load_hr(scim)
    cy = people[7]
    created = await scim.http.post("/Users", json=idp_user(cy, cy.email, nickName="cyc"))
    assert created.status_code == 201, created.text
    user = created.json()
    assert user["nickName"] == "cyc"
    bare = {"schemas": [CORE], "userName": cy.email}
    replaced = (await scim.http.put(f"/Users/{user['id']}", json=bare)).json()
    assert "nickName" not in replaced
    assert replaced[ENT]["department"] == cy.department  # HR's: a PUT does not clear it
    assert replaced["name"]["givenName"] == cy.given_name  # HR still holds it too


async def test_ambiguous_match_creates_nothing_and_is_kept(scim: Scim) -> None:
    """A POST matching two identities by e-mail is refused (409), over /Users and /Bulk alike;
    the ambiguous conflict survives the rollback, and the failure is audited."""
    async with scim.h.svc.db.transaction() as s:
        for name in ("ops1", "ops2"):  # two accounts another source keeps, sharing a mailbox
            data = IdentityData(user_name=name, email="ops@x.com")
            await service.create_identity(s, HR, data, source="ldap")
    before = await scim.counts()
    body = {"schemas": [CORE], "userName": "ops.idp", "emails": [{"value": "OPS@x.com"}]}
    refused = scim_error(await scim.http.post("/Users", json=body), 409, "uniqueness")
    assert "matches 2 identities by email" in refused["detail"]
    bulk = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
        "Operations": [{"method": "POST", "path": "/Users", "bulkId": "ops", "data": body}],
    }
    result = (await scim.http.post("/Bulk", json=bulk)).json()["Operations"][0]
    assert (result["status"], result["response"]["scimType"]) == ("409", "uniqueness")
    assert await scim.counts() == before
    kept = await conflicts(scim)
    assert [(c[0], c[1], c[3]) for c in kept] == [("ambiguous", None, "scim")] * 2
    assert kept[0][4]["user_name"] == "ops.idp"
    async with scim.h.svc.db.transaction(write=False) as s:
        rows = await s.execute(
            select(AuditEntry.outcome)
            .where(AuditEntry.action == "scim.user.create")
            .execution_options(**{TENANT: "acme"})
        )
        assert rows.scalars().all() == ["failure", "failure"]


async def test_a_match_whose_user_name_another_user_holds_is_409(scim: Scim) -> None:
    """Linking to the identity the e-mail finds would take a userName another user holds:
    409 uniqueness, and neither identity changes."""
    people = await load_hr(scim)
    dee, eve = people[1], people[2]
    taken = await scim.http.post("/Users", json=idp_user(eve, "taken@corp.example"))
    assert taken.status_code == 201
    before = await scim.counts()
    clash = idp_user(dee, "TAKEN@corp.example")
    scim_error(await scim.http.post("/Users", json=clash), 409, "uniqueness")
    assert await scim.counts() == before
    known = await hr_identity(scim, dee)
    assert await links(scim, known.id) == {("hr", dee.employee_number)}


async def test_an_idp_that_adopts_by_user_name_is_linked_on_its_first_write(scim: Scim) -> None:
    """Okta finds an HR user by userName and PATCHes it without a POST: the PATCH links SCIM,
    so a later account sharing the mailbox does not land on the same identity."""
    people = await load_hr(scim)
    fay = people[4]
    found = (
        await scim.http.get("/Users", params={"filter": f'userName eq "{fay.user_name}"'})
    ).json()["Resources"][0]
    patch = {
        "schemas": [PATCH_OP],
        "Operations": [{"op": "replace", "path": "nickName", "value": "f"}],
    }
    assert (await scim.http.patch(f"/Users/{found['id']}", json=patch)).status_code == 200
    assert await links(scim, found["id"]) == {
        ("hr", fay.employee_number),
        ("scim", found["id"]),
    }
    other = await scim.http.post("/Users", json=idp_user(fay, "fay.second@corp.example"))
    assert other.status_code == 201 and other.json()["id"] != found["id"]

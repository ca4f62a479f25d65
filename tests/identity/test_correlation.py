"""Correlation across sources: linking rules, per-attribute precedence, recorded conflicts."""

from sqlalchemy import select

from gatehouse.audit.context import Actor
from gatehouse.db.tenancy import TENANT
from gatehouse.identity import service
from gatehouse.identity.correlation import ingest
from gatehouse.identity.models import Conflict
from gatehouse.identity.schemas import IdentityData
from gatehouse.tenants.models import Tenant
from tests.conftest import BOTH, Harness

pytestmark = BOTH
ACME = Actor("acme", "test:correlation")
POLICY = {"rules": ["employee_number", "email"], "precedence": {"department": ["hr", "okta"]}}


async def _setup(h: Harness) -> None:
    await h.tenant("acme")
    async with h.svc.db.transaction() as s:
        tenant = await s.get(Tenant, "acme")
        assert tenant is not None
        tenant.settings = {"correlation": POLICY}


async def _conflicts(h: Harness) -> list[tuple[str, str, object, str, object]]:
    async with h.svc.db.transaction(write=False) as s:
        rows = await s.execute(
            select(Conflict).order_by(Conflict.at).execution_options(**{TENANT: "acme"})
        )
        return [(c.kind, c.attribute, c.offered, c.kept_source, c.kept) for c in rows.scalars()]


async def test_hr_wins_department_idp_fills_the_rest(harness: Harness) -> None:
    """Two sources describing one person become one identity; HR's department stands."""
    await _setup(harness)
    db = harness.svc.db
    async with db.transaction() as s:
        hr = await ingest(
            s,
            ACME,
            "hr",
            "E1",
            {
                "employee_number": "E1",
                "email": "Ada@Example.com",
                "department": "R&D",
                "given_name": "Ada",
            },
        )
    assert hr.action == "created"
    async with db.transaction() as s:
        idp = await ingest(
            s,
            ACME,
            "okta",
            "00u1",
            {"email": "ada@example.com", "department": "Sales", "title": "Engineer"},
        )
    assert (idp.identity_id, idp.action, idp.conflicts) == (hr.identity_id, "linked", 1)
    async with db.transaction(write=False) as s:
        assert hr.identity_id is not None
        ada = await service.get_identity(s, "acme", hr.identity_id)
        assert (ada.department, ada.title) == ("R&D", "Engineer")
        assert ada.provenance["department"] == "hr"
        assert ada.provenance["title"] == "okta"
        links = {(x.source, x.external_id) for x in await service.links_of(s, "acme", ada.id)}
        assert links == {("hr", "E1"), ("okta", "00u1")}
    assert await _conflicts(harness) == [("precedence", "department", "Sales", "hr", "R&D")]
    async with db.transaction() as s:
        moved = await ingest(s, ACME, "hr", "E1", {"employee_number": "E1", "department": "Ops"})
    assert moved.action == "updated"
    async with db.transaction() as s:
        same = await ingest(s, ACME, "hr", "E1", {"employee_number": "E1", "department": "Ops"})
    assert same.action == "unchanged"


async def test_ambiguous_matches_are_not_guessed(harness: Harness) -> None:
    """A record matching two identities links to neither and is kept as a conflict."""
    await _setup(harness)
    db = harness.svc.db
    async with db.transaction() as s:  # two accounts sharing one mailbox
        for name in ("x1", "x2"):
            data = IdentityData(user_name=name, email="X@example.com")
            await service.create_identity(s, ACME, data, source="scim")
    async with db.transaction() as s:
        outcome = await ingest(s, ACME, "okta", "00u9", {"email": "x@example.com"})
    assert (outcome.identity_id, outcome.action) == (None, "ambiguous")
    assert (await _conflicts(harness))[-1][0] == "ambiguous"

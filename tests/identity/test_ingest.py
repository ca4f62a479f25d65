"""Batch ingestion: the same outcome as one record at a time, in set-wise statements."""

from __future__ import annotations

import random
from typing import Any

from sqlalchemy import func, select

from gatehouse.audit.context import Actor
from gatehouse.db.tenancy import ALL_TENANTS, TENANT
from gatehouse.events.models import Event
from gatehouse.identity import service
from gatehouse.identity.correlation import ingest, policy_for
from gatehouse.identity.ingest import IngestReport, SourceRecord, ingest_identities
from gatehouse.identity.merge import Policy
from gatehouse.identity.models import Conflict, Identity, IdentityLink, RecordVersion
from gatehouse.tenants.models import Tenant
from tests.conftest import BOTH, Harness

pytestmark = BOTH
POLICY = Policy(("employee_number", "email", "user_name"), {"department": ["hr", "okta"]})


def _actor(tenant: str) -> Actor:
    return Actor(tenant, "test:ingest")


async def _run(
    h: Harness, tenant: str, source: str, records: list[SourceRecord], **kw: Any
) -> IngestReport:
    async with h.svc.db.transaction() as s:
        return await ingest_identities(s, _actor(tenant), source, records, POLICY, **kw)


async def _count(h: Harness, model: type[Any], tenant: str = "acme") -> int:
    async with h.svc.db.transaction(write=False) as s:
        stmt = select(func.count()).select_from(model).where(model.tenant_id == tenant)
        return int((await s.execute(stmt.execution_options(**{TENANT: tenant}))).scalar_one())


async def _people(h: Harness, tenant: str) -> dict[str, Identity]:
    async with h.svc.db.transaction(write=False) as s:
        stmt = select(Identity).where(Identity.tenant_id == tenant)
        found = (await s.execute(stmt.execution_options(**{TENANT: tenant}))).scalars().all()
        return {p.user_name_key: p for p in found}


def _hr(n: int, **extra: Any) -> SourceRecord:
    return SourceRecord(
        f"E{n}",
        {
            "user_name": f"user{n}",
            "employee_number": f"E{n}",
            "email": f"User{n}@Example.com",
            "department": "R&D",
            **extra,
        },
    )


async def test_create_then_rerun_changes_nothing(harness: Harness) -> None:
    await harness.tenant("acme")
    first = await _run(harness, "acme", "hr", [_hr(i) for i in range(5)])
    assert (first.created, first.updated, len(first.errors)) == (5, 0, 0)
    again = await _run(harness, "acme", "hr", [_hr(i) for i in range(5)])
    assert (again.created, again.unchanged, again.updated) == (0, 5, 0)
    assert await _count(harness, Identity) == 5
    assert await _count(harness, IdentityLink) == 5
    assert await _count(harness, RecordVersion) == 5
    people = await _people(harness, "acme")
    assert people["user3"].provenance["department"] == "hr"
    assert people["user3"].version == 1


async def test_second_source_links_and_loses_on_precedence(harness: Harness) -> None:
    await harness.tenant("acme")
    await _run(harness, "acme", "hr", [_hr(1)])
    idp = SourceRecord(
        "00u1",
        {"email": "user1@example.com", "department": "Sales", "title": "Engineer"},
    )
    report = await _run(harness, "acme", "okta", [idp])
    assert (report.linked, report.created, report.conflicts) == (1, 0, 1)
    person = (await _people(harness, "acme"))["user1"]
    assert (person.department, person.title, person.version) == ("R&D", "Engineer", 2)
    async with harness.svc.db.transaction(write=False) as s:
        stmt = select(Conflict).execution_options(**{TENANT: "acme"})
        conflict = (await s.execute(stmt)).scalar_one()
    assert (conflict.attribute, conflict.offered, conflict.kept) == ("department", "Sales", "R&D")
    # The link holds: the next batch from okta updates without matching again.
    again = await _run(harness, "acme", "okta", [SourceRecord("00u1", {"title": "Lead"})])
    assert again.updated == 1


async def test_ambiguous_matches_are_recorded_not_guessed(harness: Harness) -> None:
    await harness.tenant("acme")
    twins = [_hr(1, email="same@example.com"), _hr(2, email="same@example.com")]
    by_number = Policy(("employee_number",), {})
    async with harness.svc.db.transaction() as s:
        await ingest_identities(s, _actor("acme"), "hr", twins, by_number)
    report = await _run(harness, "acme", "okta", [SourceRecord("x", {"email": "SAME@example.com"})])
    assert (report.ambiguous, report.created, report.linked) == (1, 0, 0)
    assert await _count(harness, Identity) == 2


async def test_one_batch_describing_a_person_twice_makes_one_identity(harness: Harness) -> None:
    await harness.tenant("acme")
    records = [
        SourceRecord("a", {"email": "pat@example.com", "given_name": "Pat"}),
        SourceRecord("b", {"email": "PAT@example.com", "family_name": "Lee"}),
    ]
    report = await _run(harness, "acme", "ldap", records)
    assert (report.created, report.linked) == (1, 1)
    person = (await _people(harness, "acme"))["pat@example.com"]
    assert (person.given_name, person.family_name) == ("Pat", "Lee")
    assert await _count(harness, IdentityLink) == 2


async def test_bad_records_are_reported_and_the_rest_applied(harness: Harness) -> None:
    await harness.tenant("acme")
    records = [
        _hr(1),
        SourceRecord("bad1", {"user_name": "x", "shoe_size": 44}),
        SourceRecord("bad2", {"user_name": "y", "active": "perhaps"}),
        SourceRecord("bad3", {"user_name": "z" * 300}),
    ]
    report = await _run(harness, "acme", "hr", records)
    assert report.created == 1
    assert {e.external_id for e in report.errors} == {"bad1", "bad2", "bad3"}
    assert "shoe_size" in report.errors[0].message
    assert await _count(harness, Identity) == 1


async def test_taken_user_name_is_an_error_for_that_record(harness: Harness) -> None:
    await harness.tenant("acme")
    await _run(harness, "acme", "hr", [_hr(1)])
    strict = Policy(("employee_number",), {})
    clash = SourceRecord("Z9", {"user_name": "USER1", "employee_number": "Z9"})
    async with harness.svc.db.transaction() as s:
        report = await ingest_identities(s, _actor("acme"), "crm", [clash, _hr(2)], strict)
    assert report.created == 1
    assert [e.external_id for e in report.errors] == ["Z9"]
    assert "already taken" in report.errors[0].message


async def test_dry_run_writes_nothing(harness: Harness) -> None:
    await harness.tenant("acme")
    await _run(harness, "acme", "hr", [_hr(1)])
    events = await _count(harness, Event)
    report = await _run(harness, "acme", "hr", [_hr(1, department="Ops"), _hr(2)], dry_run=True)
    assert (report.created, report.updated) == (1, 1)
    assert await _count(harness, Identity) == 1
    assert await _count(harness, Event) == events
    assert (await _people(harness, "acme"))["user1"].department == "R&D"


async def test_a_deleted_identity_that_reappears_is_restored(harness: Harness) -> None:
    await harness.tenant("acme")
    report = await _run(harness, "acme", "hr", [_hr(1)])
    async with harness.svc.db.transaction() as s:
        await service.delete_identity(s, _actor("acme"), report.ids["E1"], source="operator")
    again = await _run(harness, "acme", "hr", [_hr(1)])
    assert again.updated == 1
    person = (await _people(harness, "acme"))["user1"]
    assert (person.status, person.deleted_at, person.id) == ("active", None, report.ids["E1"])


async def test_attributes_merge_key_by_key_and_risk_is_scored(harness: Harness) -> None:
    await harness.tenant("acme")
    admin = _hr(1, attributes={"admin": True, "location": "Oslo"})
    await _run(harness, "acme", "hr", [admin])
    await _run(
        harness,
        "acme",
        "okta",
        [SourceRecord("o1", {"email": "user1@example.com", "attributes": {"mfa_enrolled": True}})],
    )
    person = (await _people(harness, "acme"))["user1"]
    assert person.attributes == {"admin": True, "location": "Oslo", "mfa_enrolled": True}
    assert person.provenance["attributes.mfa_enrolled"] == "okta"
    assert person.risk_score == 5  # the admin has MFA now; no manager is known
    async with harness.svc.db.transaction(write=False) as s:
        stmt = (
            select(Event.type, Event.payload)
            .where(Event.tenant_id == "acme", Event.type == "identity.risk_changed")
            .order_by(Event.id)
            .execution_options(**{TENANT: "acme"})
        )
        moves = [(p["before"], p["after"]) for _, p in (await s.execute(stmt)).all()]
    assert moves == [(0, 45), (45, 5)]


async def test_batch_and_single_record_paths_agree(harness: Harness) -> None:
    """Random records from three sources, applied both ways, leave the same store."""
    rng = random.Random(7)
    for tenant in ("one", "batch"):
        await harness.tenant(tenant)
        async with harness.svc.db.transaction() as s:
            row = await s.get(Tenant, tenant)
            assert row is not None
            row.settings = {
                "correlation": {"rules": list(POLICY.rules), "precedence": POLICY.precedence}
            }
    batches: list[tuple[str, list[SourceRecord]]] = []
    for _ in range(6):
        source = rng.choice(["hr", "okta", "ldap"])
        records = []
        for _ in range(rng.randint(1, 12)):
            n = rng.randint(1, 15)
            data: dict[str, Any] = {"email": f"p{n}@example.com"}
            for name, values in (
                ("department", ["R&D", "Sales", "Ops"]),
                ("title", ["Engineer", "Lead", None]),
                ("employee_number", [f"E{n}", None]),
            ):
                if rng.random() < 0.6:
                    data[name] = rng.choice(values)
            if rng.random() < 0.4:
                data["attributes"] = {"floor": rng.randint(1, 3)}
            records.append(SourceRecord(f"{source}-{n}", data))
        batches.append((source, records))
    for source, records in batches:
        async with harness.svc.db.transaction() as s:
            for record in {r.external_id: r for r in records}.values():
                await ingest(s, _actor("one"), source, record.external_id, record.data)
        async with harness.svc.db.transaction() as s:
            policy = await policy_for(s, "batch")
            await ingest_identities(s, _actor("batch"), source, records, policy)

    def view(people: dict[str, Identity]) -> dict[str, tuple[Any, ...]]:
        return {
            k: (p.department, p.title, p.employee_number, p.attributes, p.provenance, p.version)
            for k, p in people.items()
        }

    assert view(await _people(harness, "one")) == view(await _people(harness, "batch"))
    assert await _count(harness, Conflict, "one") == await _count(harness, Conflict, "batch")
    async with harness.svc.db.transaction(write=False) as s:
        stmt = select(Identity.tenant_id, func.count()).group_by(Identity.tenant_id)
        counts = dict((await s.execute(stmt.execution_options(**{ALL_TENANTS: True}))).all())
    assert counts["one"] == counts["batch"] > 0

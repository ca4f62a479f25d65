"""The `existing` strategy of batch ingestion: update, skip or fail records the store has."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from gatehouse.audit.context import Actor
from gatehouse.db.tenancy import TENANT
from gatehouse.identity.ingest import Existing, IngestReport, SourceRecord, ingest_identities
from gatehouse.identity.ingest_groups import MembershipRecord, ingest_groups, ingest_memberships
from gatehouse.identity.ingest_resources import ingest_resources
from gatehouse.identity.merge import Policy
from gatehouse.identity.models import Group, GroupLink, Identity, IdentityLink, RecordVersion
from gatehouse.identity.models import Resource as ResourceRow
from tests.conftest import BOTH, Harness

pytestmark = BOTH
ACME = Actor("acme", "test:import")
POLICY = Policy(("employee_number", "email", "user_name"), {})


def person(ext: str, **data: Any) -> SourceRecord:
    """A person from a source, user name and e-mail derived from `ext`."""
    return SourceRecord(ext, {"user_name": ext, "email": f"{ext}@example.com", **data})


async def people(
    h: Harness, source: str, records: list[SourceRecord], existing: Existing = "update"
) -> IngestReport:
    """Ingest identities in one transaction."""
    async with h.svc.db.transaction() as s:
        return await ingest_identities(s, ACME, source, records, POLICY, existing=existing)


async def count(h: Harness, model: type[Any]) -> int:
    """Rows of a table in tenant acme."""
    async with h.svc.db.transaction(write=False) as s:
        stmt = select(func.count()).select_from(model).where(model.tenant_id == "acme")
        return int((await s.execute(stmt.execution_options(**{TENANT: "acme"}))).scalar_one())


async def titles(h: Harness) -> dict[str, str | None]:
    """user name → title."""
    async with h.svc.db.transaction(write=False) as s:
        stmt = select(Identity.user_name, Identity.title).where(Identity.tenant_id == "acme")
        return dict((await s.execute(stmt.execution_options(**{TENANT: "acme"}))).all())


async def test_linked_records_are_updated_skipped_or_refused(harness: Harness) -> None:
    await harness.tenant("acme")
    await people(harness, "import:a.csv", [person("ada", title="Eng"), person("bob")])
    again = [person("ada", title="Lead"), person("cy")]

    skipped = await people(harness, "import:a.csv", again, "skip")
    assert (skipped.created, skipped.skipped, skipped.updated, skipped.errors) == (1, 1, 0, [])
    assert (await titles(harness))["ada"] == "Eng"
    assert set(skipped.ids) == {"ada", "cy"}

    failed = await people(
        harness, "import:a.csv", [person("ada", title="Lead"), person("dee")], "fail"
    )
    assert (failed.created, failed.skipped, failed.updated) == (1, 0, 0)
    assert [(e.external_id, e.index) for e in failed.errors] == [("ada", 0)]
    assert "already exists (linked from import:a.csv)" in failed.errors[0].message
    assert (await titles(harness))["ada"] == "Eng"

    updated = await people(harness, "import:a.csv", [person("ada", title="Lead")], "update")
    assert (updated.updated, updated.skipped, updated.errors) == (1, 0, [])
    assert (await titles(harness))["ada"] == "Lead"
    assert await count(harness, Identity) == 4
    # ada: created, then updated once; skip and fail wrote no version of her.
    assert await count(harness, RecordVersion) == 5


async def test_correlation_matches_follow_the_strategy(harness: Harness) -> None:
    await harness.tenant("acme")
    await people(harness, "hr", [person("ada", title="Eng", employee_number="E1")])
    other = [SourceRecord("x-ada", {"employee_number": "E1", "title": "Boss"})]

    failed = await people(harness, "import:b.csv", other, "fail")
    assert "an identity matched by correlation" in failed.errors[0].message
    assert await count(harness, IdentityLink) == 1  # not linked

    skipped = await people(harness, "import:b.csv", other, "skip")
    assert (skipped.skipped, skipped.linked, skipped.errors) == (1, 0, [])
    assert (await titles(harness))["ada"] == "Eng"
    assert await count(harness, IdentityLink) == 2  # linked, so memberships can name her
    # Linked now: the next import finds the record as its own, and skips it again.
    assert (await people(harness, "import:b.csv", other, "skip")).skipped == 1


async def test_duplicates_inside_one_batch(harness: Harness) -> None:
    await harness.tenant("acme")
    twice = [person("ada", title="First"), person("bob"), person("ada", title="Second")]

    report = await people(harness, "one", twice, "skip")
    assert (report.created, report.skipped) == (2, 1)
    assert (await titles(harness))["ada"] == "First"

    report = await people(harness, "two", [person("eve"), person("eve", title="X")], "fail")
    assert report.created == 1
    assert [(e.external_id, e.index) for e in report.errors] == [("eve", 1)]
    assert "appears more than once" in report.errors[0].message

    report = await people(harness, "three", [person("fay", title="A"), person("fay", title="B")])
    assert (report.created, report.errors) == (1, [])
    assert (await titles(harness))["fay"] == "B"  # update: the later statement wins

    # Two ids, one person (the same e-mail): the second is a duplicate of the first.
    same = [person("gus"), SourceRecord("gus-2", {"email": "gus@example.com"})]
    report = await people(harness, "four", same, "fail")
    assert report.created == 1
    assert "another record of this batch" in report.errors[0].message


async def test_groups_and_memberships(harness: Harness) -> None:
    await harness.tenant("acme")
    source = "import:org.xlsx"
    await people(harness, source, [person("ada"), person("bob")])
    async with harness.svc.db.transaction() as s:
        made = await ingest_groups(
            s, ACME, source, [SourceRecord("eng", {"display_name": "Engineering"})]
        )
        assert made.created == 1
        await ingest_memberships(s, ACME, source, [MembershipRecord("eng", "ada")])
    async with harness.svc.db.transaction() as s:
        groups = [
            SourceRecord("eng", {"display_name": "Engineering", "attributes": {"floor": 3}}),
            SourceRecord("ops", {"display_name": "Ops"}),
            SourceRecord("ops", {"display_name": "Ops"}),
        ]
        report = await ingest_groups(s, ACME, source, groups, existing="skip")
        assert (report.created, report.skipped, report.updated) == (1, 2, 0)
        pairs = [
            MembershipRecord("eng", "ada"),
            MembershipRecord("eng", "bob"),
            MembershipRecord("eng", "bob"),
        ]
        failed = await ingest_memberships(s, ACME, source, pairs, existing="fail")
        assert failed.created == 1
        assert sorted((e.external_id, e.index) for e in failed.errors) == [
            ("eng/ada", 0),
            ("eng/bob", 2),
        ]
        skipped = await ingest_memberships(s, ACME, source, pairs, existing="skip")
        assert (skipped.created, skipped.skipped, skipped.unchanged) == (0, 3, 0)
    async with harness.svc.db.transaction(write=False) as s:
        stmt = select(Group.attributes).where(Group.display_name == "Engineering")
        found = (await s.execute(stmt.execution_options(**{TENANT: "acme"}))).scalar_one()
        assert found == {}  # skipped, so not updated
    # A group of the same name from another source: linked on skip, refused on fail.
    async with harness.svc.db.transaction() as s:
        named = [SourceRecord("E", {"display_name": "engineering"})]
        report = await ingest_groups(s, ACME, "other", named, existing="fail")
        assert "a group of the same name" in report.errors[0].message
        report = await ingest_groups(s, ACME, "other", named, existing="skip")
        assert (report.skipped, report.linked) == (1, 0)
    assert await count(harness, GroupLink) == 3
    assert await count(harness, Group) == 2


async def test_resources(harness: Harness) -> None:
    await harness.tenant("acme")

    def repo(key: str, stars: int) -> SourceRecord:
        return SourceRecord(key, {"type": "repository", "attributes": {"stars": stars}})

    async with harness.svc.db.transaction() as s:
        await ingest_resources(s, ACME, "git", [repo("api", 1)])
    async with harness.svc.db.transaction() as s:
        report = await ingest_resources(
            s, ACME, "git", [repo("api", 2), repo("web", 1), repo("web", 5)], existing="skip"
        )
        assert (report.created, report.skipped, report.updated) == (1, 2, 0)
        report = await ingest_resources(s, ACME, "git", [repo("api", 3)], existing="fail")
        assert "already exists (a repository with this key)" in report.errors[0].message
        report = await ingest_resources(s, ACME, "git", [repo("api", 4)])
        assert report.updated == 1
    async with harness.svc.db.transaction(write=False) as s:
        stmt = select(ResourceRow.key, ResourceRow.attributes).order_by(ResourceRow.key)
        rows = [tuple(r) for r in await s.execute(stmt.execution_options(**{TENANT: "acme"}))]
    assert rows == [("api", {"stars": 4}), ("web", {"stars": 1})]

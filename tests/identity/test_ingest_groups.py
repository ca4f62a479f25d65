"""Batch ingestion of groups and memberships, and deletion detection after full runs."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from gatehouse.audit.context import Actor
from gatehouse.db.tenancy import TENANT
from gatehouse.events.models import Event
from gatehouse.identity import groups as group_service
from gatehouse.identity.graph import member_rows
from gatehouse.identity.ingest import SourceRecord, ingest_identities
from gatehouse.identity.ingest_groups import MembershipRecord, ingest_groups, ingest_memberships
from gatehouse.identity.merge import Policy
from gatehouse.identity.models import Group, Identity
from gatehouse.identity.schemas import GroupData
from gatehouse.identity.unseen import SafetyThresholdExceeded, remove_unseen
from tests.conftest import BOTH, Harness

pytestmark = BOTH
ACME = Actor("acme", "test:sync")
POLICY = Policy(("employee_number", "email", "user_name"), {})


def _people(*numbers: int) -> list[SourceRecord]:
    return [
        SourceRecord(f"u{n}", {"user_name": f"user{n}", "email": f"u{n}@x.com"}) for n in numbers
    ]


def _groups(*names: str) -> list[SourceRecord]:
    return [SourceRecord(f"g-{n}", {"display_name": n}) for n in names]


async def _load(h: Harness, run: str | None = None, **kw: Any) -> None:
    """People 1-4, groups Eng/Admins/All, Eng and Admins nested in All."""
    async with h.svc.db.transaction() as s:
        await ingest_identities(s, ACME, "ldap", _people(1, 2, 3, 4), POLICY, run_id=run)
        await ingest_groups(s, ACME, "ldap", _groups("Eng", "Admins", "All"), run_id=run)
        await ingest_memberships(
            s,
            ACME,
            "ldap",
            [
                MembershipRecord("g-Eng", "u1"),
                MembershipRecord("g-Eng", "u2"),
                MembershipRecord("g-Admins", "u3"),
                MembershipRecord("g-All", "g-Eng", "group"),
                MembershipRecord("g-All", "g-Admins", "group"),
            ],
            run_id=run,
        )


async def _group_id(h: Harness, name: str) -> str:
    async with h.svc.db.transaction(write=False) as s:
        stmt = select(Group.id).where(Group.tenant_id == "acme", Group.display_name == name)
        return str((await s.execute(stmt.execution_options(**{TENANT: "acme"}))).scalar_one())


async def _members(h: Harness, name: str, transitive: bool = False) -> set[str]:
    gid = await _group_id(h, name)
    async with h.svc.db.transaction(write=False) as s:
        found = await member_rows(s, "acme", gid, transitive=transitive)
        stmt = select(Identity.id, Identity.user_name).where(Identity.tenant_id == "acme")
        names = dict((await s.execute(stmt.execution_options(**{TENANT: "acme"}))).all())
    return {names.get(m, "group") for m, _ in found}


async def test_groups_nest_and_memberships_resolve_by_source_ids(harness: Harness) -> None:
    await harness.tenant("acme")
    await _load(harness)
    assert await _members(harness, "Eng") == {"user1", "user2"}
    assert await _members(harness, "All", transitive=True) == {"user1", "user2", "user3", "group"}
    async with harness.svc.db.transaction(write=False) as s:
        stmt = select(Event.type).where(Event.tenant_id == "acme", Event.type == "membership.added")
        added = (await s.execute(stmt.execution_options(**{TENANT: "acme"}))).scalars().all()
    assert len(added) == 5


async def test_rerun_is_unchanged_and_unknown_members_are_errors(harness: Harness) -> None:
    await harness.tenant("acme")
    await _load(harness)
    async with harness.svc.db.transaction() as s:
        again = await ingest_groups(s, ACME, "ldap", _groups("Eng"))
        members = await ingest_memberships(
            s, ACME, "ldap", [MembershipRecord("g-Eng", "u1"), MembershipRecord("g-Eng", "nobody")]
        )
    assert (again.unchanged, again.created) == (1, 0)
    assert (members.unchanged, members.created) == (1, 0)
    assert "'nobody' is not a record of ldap" in members.errors[0].message


async def test_a_cycle_of_groups_is_refused(harness: Harness) -> None:
    await harness.tenant("acme")
    await _load(harness)
    async with harness.svc.db.transaction() as s:
        report = await ingest_memberships(
            s, ACME, "ldap", [MembershipRecord("g-Eng", "g-All", "group")]
        )
    assert report.created == 0
    assert "cycle" in report.errors[0].message


async def test_groups_correlate_by_name_with_other_sources(harness: Harness) -> None:
    await harness.tenant("acme")
    async with harness.svc.db.transaction() as s:
        scim = await group_service.create_group(
            s, ACME, GroupData(display_name="eng"), source="scim"
        )
        report = await ingest_groups(s, ACME, "ldap", _groups("Eng"))
    assert (report.linked, report.created) == (1, 0)
    assert report.ids["g-Eng"] == scim.id


async def test_full_run_removes_only_what_it_created_and_no_longer_sees(harness: Harness) -> None:
    await harness.tenant("acme")
    await _load(harness, run="run1")
    async with harness.svc.db.transaction() as s:
        # user4 is also known to HR: losing the LDAP link must not delete the person.
        await ingest_identities(s, ACME, "hr", [SourceRecord("E4", {"email": "u4@x.com"})], POLICY)
    async with harness.svc.db.transaction() as s:
        await ingest_identities(s, ACME, "ldap", _people(1, 2), POLICY, run_id="run2")
        await ingest_groups(s, ACME, "ldap", _groups("Eng", "All"), run_id="run2")
        await ingest_memberships(
            s,
            ACME,
            "ldap",
            [MembershipRecord("g-Eng", "u1"), MembershipRecord("g-All", "g-Eng", "group")],
            run_id="run2",
        )
        removal = await remove_unseen(s, ACME, "ldap", "run2", max_fraction=0.6)
    assert removal.unlinked == {"identity": 2, "group": 1, "resource": 0}
    assert removal.deleted == {"identity": 1, "group": 1, "resource": 0}  # user4 stays
    assert removal.memberships == 3  # u2 in Eng, u3 in Admins, Admins in All
    async with harness.svc.db.transaction(write=False) as s:
        stmt = select(Identity.user_name, Identity.status).where(Identity.tenant_id == "acme")
        status = dict((await s.execute(stmt.execution_options(**{TENANT: "acme"}))).all())
    assert status == {"user1": "active", "user2": "active", "user3": "deleted", "user4": "active"}
    assert await _members(harness, "Eng") == {"user1"}


async def test_safety_threshold_refuses_an_empty_source(harness: Harness) -> None:
    await harness.tenant("acme")
    await _load(harness, run="run1")
    async with harness.svc.db.transaction() as s:
        await ingest_identities(s, ACME, "ldap", _people(1), POLICY, run_id="run2")
    with pytest.raises(SafetyThresholdExceeded) as caught:
        async with harness.svc.db.transaction() as s:
            await remove_unseen(s, ACME, "ldap", "run2", max_fraction=0.5)
    assert (caught.value.kind, caught.value.unseen, caught.value.total) == ("identity", 3, 4)
    assert "confirm" in str(caught.value)
    async with harness.svc.db.transaction() as s:
        dry = await remove_unseen(
            s, ACME, "ldap", "run2", max_fraction=0.5, confirmed=True, dry_run=True
        )
    assert dry.unlinked["identity"] == 3
    async with harness.svc.db.transaction(write=False) as s:
        stmt = select(Identity.status).where(Identity.tenant_id == "acme")
        statuses = (await s.execute(stmt.execution_options(**{TENANT: "acme"}))).scalars().all()
    assert set(statuses) == {"active"}

"""The identity store's service: versions, events, audit, soft delete, purge, nested groups."""

import pytest
from sqlalchemy import func, select, text

from gatehouse.audit.context import Actor
from gatehouse.db.tenancy import ALL_TENANTS
from gatehouse.events.models import Event
from gatehouse.identity import groups, service
from gatehouse.identity.graph import groups_of, member_rows
from gatehouse.identity.models import Identity, IdentityLink, RecordVersion
from gatehouse.identity.schemas import GroupData, IdentityData
from gatehouse.kit.problems import Problem
from tests.conftest import BOTH, Harness

pytestmark = BOTH
ACME = Actor("acme", "test:store")


async def _events(h: Harness) -> list[tuple[str, str]]:
    async with h.svc.db.transaction(write=False) as s:
        rows = await s.execute(
            select(Event.type, Event.subject_id)
            .order_by(Event.id)
            .execution_options(**{ALL_TENANTS: True})
        )
        return [(t, i) for t, i in rows.all()]


async def _person(h: Harness, user: str, **extra: object) -> str:
    async with h.svc.db.transaction() as s:
        data = IdentityData(user_name=user, **extra)  # type: ignore[arg-type]
        return (await service.create_identity(s, ACME, data, source="scim")).id


async def test_create_writes_version_event_audit_and_link(harness: Harness) -> None:
    """One create: the row, version 1, an identity.created event, an audit entry and a link."""
    await harness.tenant("acme")
    ident = await _person(harness, "Ada@Example.com", external_id="okta-1", department="R&D")
    assert await _events(harness) == [("identity.created", ident)]
    async with harness.svc.db.transaction(write=False) as s:
        found = await service.get_identity(s, "acme", ident)
        assert (found.version, found.status, found.department) == (1, "active", "R&D")
        links = await service.links_of(s, "acme", ident)
        assert [(x.source, x.external_id) for x in links] == [("scim", "okta-1")]
        history = await service.history_of(s, "acme", "identity", ident)
        assert history[0].after is not None
        assert history[0].after["user_name"] == "Ada@Example.com"


async def test_duplicate_user_name_is_refused_and_nothing_written(harness: Harness) -> None:
    """userName is unique per tenant regardless of case; the failed write leaves no trace."""
    await harness.tenant("acme")
    await harness.tenant("other")
    await _person(harness, "ada@example.com")
    before = await _events(harness)
    with pytest.raises(Problem) as refused:
        await _person(harness, "ADA@example.com")
    assert refused.value.status == 409
    assert await _events(harness) == before
    async with harness.svc.db.transaction() as s:
        other = Actor("other", "test")
        await service.create_identity(
            s, other, IdentityData(user_name="ada@example.com"), source="scim"
        )


async def test_update_versions_and_preconditions(harness: Harness) -> None:
    """Changes bump the version; no-ops do not; a stale expected version is 412."""
    await harness.tenant("acme")
    ident = await _person(harness, "bob")
    db = harness.svc.db
    async with db.transaction() as s:
        updated = await service.update_identity(s, ACME, ident, {"title": "CTO"}, source="hr")
        assert updated.version == 2
    async with db.transaction() as s:
        same = await service.update_identity(s, ACME, ident, {"title": "CTO"}, source="hr")
        assert same.version == 2
    with pytest.raises(Problem) as stale:
        async with db.transaction() as s:
            await service.update_identity(
                s, ACME, ident, {"title": "CEO"}, source="hr", expected_version=1
            )
    assert stale.value.status == 412
    with pytest.raises(Problem) as unknown:
        async with db.transaction() as s:
            await service.update_identity(s, ACME, ident, {"shoe_size": 9}, source="hr")
    assert unknown.value.status == 400
    assert [e for e, _ in await _events(harness)] == ["identity.created", "identity.updated"]


async def test_nested_groups_transitive_and_cycles(harness: Harness) -> None:
    """Members of nested groups are members; a cycle or a foreign id is refused."""
    await harness.tenant("acme")
    await harness.tenant("other")
    ada = await _person(harness, "ada")
    db = harness.svc.db
    async with db.transaction() as s:
        eng = await groups.create_group(
            s, ACME, GroupData(display_name="Engineering"), source="scim"
        )
        staff = await groups.create_group(s, ACME, GroupData(display_name="Staff"), source="scim")
        await groups.add_members(s, ACME, eng.id, [ada], source="scim")
        await groups.add_members(s, ACME, staff.id, [eng.id], source="scim")
        eng_id, staff_id = eng.id, staff.id
    async with db.transaction(write=False) as s:
        names = [g.display_name for g in await groups_of(s, "acme", ada)]
        assert names == ["Engineering", "Staff"]
        assert set(await member_rows(s, "acme", staff_id, transitive=True)) == {
            (eng_id, "group"),
            (ada, "identity"),
        }
        assert await member_rows(s, "acme", staff_id, transitive=False) == [(eng_id, "group")]
    with pytest.raises(Problem, match="cycle"):
        async with db.transaction() as s:
            await groups.add_members(s, ACME, eng_id, [staff_id], source="scim")
    async with db.transaction() as s:
        theirs = await service.create_identity(
            s, Actor("other", "t"), IdentityData(user_name="eve"), source="scim"
        )
        eve = theirs.id
    with pytest.raises(Problem) as foreign:
        async with db.transaction() as s:
            await groups.add_members(s, ACME, eng_id, [eve], source="scim")
    assert foreign.value.status == 400
    async with db.transaction() as s:
        assert await groups.add_members(s, ACME, eng_id, [ada], source="scim") == []
        assert await groups.remove_members(s, ACME, eng_id, [ada, "nope"], source="scim") == [ada]
    added = [e for e, _ in await _events(harness) if e.startswith("membership")]
    assert added == ["membership.added", "membership.added", "membership.removed"]


async def test_soft_delete_then_purge(harness: Harness) -> None:
    """Delete hides the identity and drops memberships; purge erases it and its history's data."""
    await harness.tenant("acme")
    ada = await _person(harness, "ada", external_id="hr-7", email="ada@example.com")
    db = harness.svc.db
    async with db.transaction() as s:
        team = await groups.create_group(s, ACME, GroupData(display_name="Team"), source="scim")
        await groups.add_members(s, ACME, team.id, [ada], source="scim")
        team_id = team.id
    async with db.transaction() as s:
        await service.delete_identity(s, ACME, ada, source="scim")
    async with db.transaction(write=False) as s:
        with pytest.raises(Problem):
            await service.get_identity(s, "acme", ada)
        kept = await service.get_identity(s, "acme", ada, include_deleted=True)
        assert kept.status == "deleted"
        assert await member_rows(s, "acme", team_id, transitive=False) == []
    async with db.transaction() as s:
        await service.purge_identity(s, ACME, ada)
    async with db.transaction(write=False) as s:
        scoped = {ALL_TENANTS: True}
        gone = await s.execute(
            select(func.count()).select_from(Identity).execution_options(**scoped)
        )
        assert gone.scalar_one() == 0
        links = await s.execute(
            select(func.count()).select_from(IdentityLink).execution_options(**scoped)
        )
        assert links.scalar_one() == 0
        versions = (
            await s.execute(
                select(RecordVersion.before, RecordVersion.after)
                .where(RecordVersion.record_id == ada)
                .execution_options(**scoped)
            )
        ).all()
        assert versions
        assert all(before is None and after is None for before, after in versions)
        payloads = await s.execute(
            select(Event.payload).where(Event.subject_id == ada).execution_options(**scoped)
        )
        assert "ada@example.com" not in str(payloads.scalars().all())
        audit_rows = await s.execute(text("SELECT before, after FROM audit_log"))
        leaked = [r for r in audit_rows.all() if "ada@example.com" in str(r)]
        assert leaked == []
    assert (await _events(harness))[-1] == ("identity.purged", ada)

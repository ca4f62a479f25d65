"""Synthetic organisations: deterministic, realistic, loadable all-or-nothing, exportable."""

import csv
import json
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import func, select

from gatehouse.audit.context import Actor
from gatehouse.db.tenancy import ALL_TENANTS
from gatehouse.events.models import Event
from gatehouse.identity.bulk import load_org
from gatehouse.identity.export import write_files
from gatehouse.identity.graph import member_rows
from gatehouse.identity.models import Identity
from gatehouse.identity.synthetic import generate
from gatehouse.kit.problems import Problem
from tests.conftest import BOTH, Harness


def test_same_seed_same_org_other_seed_other_org() -> None:
    """A seed fixes every value."""
    assert generate(200, 20, seed=3) == generate(200, 20, seed=3)
    assert generate(200, 20, seed=3).people != generate(200, 20, seed=4).people


def test_hierarchy_and_overlapping_sources() -> None:
    """Managers exist and come first; groups nest; sources overlap and sometimes disagree."""
    org = generate(1000, 40, seed=5)
    numbers = [p.employee_number for p in org.people]
    position = {n: i for i, n in enumerate(numbers)}
    assert org.people[0].manager is None
    assert all(
        position[p.manager] < position[p.employee_number] for p in org.people[1:] if p.manager
    )
    assert len({p.user_name for p in org.people}) == 1000
    names = {g.name for g in org.groups}
    assert len(names) == 40
    assert all(g.parent in names for g in org.groups if g.parent)
    hr, okta, ldap = (org.source_records(s) for s in ("hr", "okta", "ldap"))
    assert len(hr) == 1000
    assert 800 < len(okta) < 1000
    assert 0 < len(ldap) < 1000
    departments = {r["employee_number"]: r["department"] for r in hr}
    logins = {p.user_name: p.employee_number for p in org.people}
    disagree = [o for o in okta if departments[logins[o["login"]]] != o["department"]]
    assert 0 < len(disagree) < len(okta) * 0.1


def test_files_in_every_format(tmp_path: Path) -> None:
    """CSV, JSON lines and SQL files hold the same records."""
    org = generate(120, 12, seed=2)
    csv_files = write_files(org, tmp_path / "csv", "csv")
    with csv_files[0].open() as handle:
        assert len(list(csv.DictReader(handle))) == 120
    json_files = write_files(org, tmp_path / "json", "json")
    okta = [json.loads(line) for line in json_files[1].read_text().splitlines()]
    assert okta == org.source_records("okta")
    sql_files = write_files(org, tmp_path / "sql", "sql")
    conn = sqlite3.connect(":memory:")
    for path in sql_files:
        conn.executescript(path.read_text())
    assert conn.execute("SELECT count(*) FROM hr_people").fetchone() == (120,)
    assert conn.execute("SELECT count(*) FROM groups").fetchone() == (12,)
    with pytest.raises(ValueError, match="format"):
        write_files(org, tmp_path / "x", "xml")


@BOTH
async def test_load_into_the_store_all_or_nothing(harness: Harness) -> None:
    """A load writes identities, nested groups and events; a clashing reload writes nothing."""
    await harness.tenant("acme")
    org = generate(300, 30, seed=9)
    actor = Actor("acme", "test:load")
    async with harness.svc.db.transaction() as s:
        report = await load_org(s, actor, org, source="hr")
    assert (report.identities, report.groups) == (300, 30)
    scoped = {ALL_TENANTS: True}
    # The store's own events (the token made below announces itself too).
    store_events = select(func.count()).where(Event.subject_type.in_(("identity", "group")))
    async with harness.svc.db.transaction(write=False) as s:
        count = await s.execute(
            select(func.count()).select_from(Identity).execution_options(**scoped)
        )
        assert count.scalar_one() == 300
        events_before = (await s.execute(store_events.execution_options(**scoped))).scalar_one()
        assert events_before == 330
        top = next(
            g
            for g in org.groups
            if g.parent is None and any(c.parent == g.name for c in org.groups)
        )
    auth = harness.auth(await harness.token("acme", "identities:read"))
    listed = (
        await harness.client.get("/v1/groups", params={"name": top.name}, headers=auth)
    ).json()
    top_id = listed["items"][0]["id"]
    async with harness.svc.db.transaction(write=False) as s:
        nested = await member_rows(s, "acme", top_id, transitive=True)
    assert any(kind == "group" for _, kind in nested)
    expected, frontier = set(top.members), {top.name}
    while frontier:  # everyone in the group or in any group nested below it
        children = [g for g in org.groups if g.parent in frontier]
        expected.update(e for g in children for e in g.members)
        frontier = {g.name for g in children}
    people = [m for m, kind in nested if kind == "identity"]
    async with harness.svc.db.transaction(write=False) as s:
        numbers = await s.execute(
            select(Identity.employee_number)
            .where(Identity.id.in_(people))
            .execution_options(**scoped)
        )
        assert set(numbers.scalars()) == expected
    with pytest.raises(Problem) as clash:
        async with harness.svc.db.transaction() as s:
            await load_org(s, actor, org, source="hr")
    assert clash.value.status == 409
    async with harness.svc.db.transaction(write=False) as s:
        after = await s.execute(store_events.execution_options(**scoped))
        assert after.scalar_one() == events_before

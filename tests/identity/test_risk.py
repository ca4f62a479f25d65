"""Risk scores: the built-in rules, recomputation on change, and plug-in rules."""

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from gatehouse.audit.context import Actor
from gatehouse.db.tenancy import TENANT
from gatehouse.events.models import Event
from gatehouse.identity import groups, risk, service
from gatehouse.identity.models import Identity
from gatehouse.identity.schemas import GroupData, IdentityData
from tests.conftest import BOTH, Harness

ACME = Actor("acme", "test:risk")


def _ctx(groups_in: list[str], **attrs: object) -> risk.RiskContext:
    ident = Identity(
        tenant_id="acme",
        user_name="x",
        active=True,
        employee_number="E1",
        manager_id="m",
        attributes=dict(attrs),
        updated_at=datetime.now(UTC),
    )
    return risk.RiskContext(ident, groups_in, datetime.now(UTC))


def test_rules() -> None:
    """Each built-in rule fires on its condition and only then; the total is capped."""
    assert risk.score(_ctx([])) == (0, [])
    total, factors = risk.score(_ctx(["Domain Admins"]))
    assert (total, [f.name for f in factors]) == (40, ["admin_without_mfa"])
    assert risk.score(_ctx(["Domain Admins"], mfa_enrolled=True))[0] == 0
    assert risk.score(_ctx([f"g{i}" for i in range(21)]))[0] == 15
    assert risk.score(_ctx([f"g{i}" for i in range(51)]))[0] == 25
    old = (datetime.now(UTC) - timedelta(days=200)).isoformat()
    assert [f.name for f in risk.score(_ctx([], last_login=old))[1]] == ["stale_account"]
    many_admin = [f"admin {i}" for i in range(60)]
    assert risk.score(_ctx(many_admin, last_login=old))[0] == 90
    always = (lambda ctx: risk.RiskFactor("custom", 80, "plug-in"),)
    assert risk.score(_ctx(many_admin), risk.BUILT_IN + always)[0] == 100


@BOTH
async def test_recomputed_when_membership_changes(harness: Harness) -> None:
    """Joining an admin group (even through a nested group) raises the score; leaving lowers it."""
    await harness.tenant("acme")
    db = harness.svc.db
    async with db.transaction() as s:
        ada = await service.create_identity(
            s,
            ACME,
            IdentityData(user_name="ada", employee_number="E1", manager_id="boss"),
            source="hr",
        )
        admins = await groups.create_group(s, ACME, GroupData(display_name="Admins"), source="x")
        ops = await groups.create_group(s, ACME, GroupData(display_name="Ops"), source="x")
        await groups.add_members(s, ACME, ops.id, [ada.id], source="x")
        ada_id, admins_id, ops_id = ada.id, admins.id, ops.id
    async with db.transaction() as s:
        assert (await service.get_identity(s, "acme", ada_id)).risk_score == 0
        await groups.add_members(s, ACME, admins_id, [ops_id], source="x")
    async with db.transaction() as s:
        found = await service.get_identity(s, "acme", ada_id)
        assert found.risk_score == 40
        assert found.risk_factors[0]["name"] == "admin_without_mfa"
        await service.update_identity(
            s, ACME, ada_id, {"attributes": {"mfa_enrolled": True}}, source="idp"
        )
    async with db.transaction(write=False) as s:
        assert (await service.get_identity(s, "acme", ada_id)).risk_score == 0
        moves = await s.execute(
            select(Event.payload)
            .where(Event.type == "identity.risk_changed")
            .order_by(Event.id)
            .execution_options(**{TENANT: "acme"})
        )
        assert [(p["before"], p["after"]) for p in moves.scalars()] == [(0, 40), (40, 0)]

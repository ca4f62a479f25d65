"""Attacks on token lineage: a minted token never outlives, outlasts or outspends its parent."""

from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from gatehouse.audit.models import AuditEntry
from gatehouse.auth.models import ApiToken
from gatehouse.db.tenancy import ALL_TENANTS
from tests.conftest import BOTH, Harness

pytestmark = BOTH
BASE = "/v1/integration/tokens"


async def _mint(harness: Harness, parent: str, **body: object) -> dict[str, object]:
    resp = await harness.client.post(
        BASE,
        json={"name": "child", "scopes": ["tokens:write"], **body},
        headers=harness.auth(parent),
    )
    assert resp.status_code == 201, resp.text
    out: dict[str, object] = resp.json()
    return out


async def _stored(harness: Harness, token_id: object) -> ApiToken:
    async with harness.svc.db.transaction(write=False) as session:
        stmt = select(ApiToken).where(ApiToken.id == token_id)
        row = (await session.execute(stmt.execution_options(**{ALL_TENANTS: True}))).scalar_one()
        return row


async def test_a_one_day_parent_cannot_mint_a_ten_year_child(harness: Harness) -> None:
    """The child's expiry is capped at its parent's, and it records who minted it."""
    await harness.tenant("acme")
    parent = await harness.token("acme", "tokens:write", expires_in_days=1)
    me = (await harness.client.get(f"{BASE}/current", headers=harness.auth(parent))).json()
    child = await _mint(harness, parent, expires_in_days=3650)
    assert child["parent_id"] == me["token_id"]
    assert child["expires_at"] == me["expires_at"]
    stored = await _stored(harness, child["id"])
    assert stored.expires_at is not None
    assert stored.expires_at <= datetime.now(UTC) + timedelta(days=1)


async def test_revoking_a_parent_revokes_its_descendants(harness: Harness) -> None:
    """Revoke the root of a chain root -> child -> grandchild: all three are refused."""
    await harness.tenant("acme")
    admin = harness.auth(await harness.token("acme", "admin:*"))
    root = await harness.token("acme", "tokens:write")
    root_id = (await harness.client.get(f"{BASE}/current", headers=harness.auth(root))).json()[
        "token_id"
    ]
    child = await _mint(harness, root)
    grandchild = await _mint(harness, str(child["token"]))
    bystander = await harness.token("acme", "tokens:read")

    assert (await harness.client.delete(f"{BASE}/{root_id}", headers=admin)).status_code == 204
    for secret in (root, child["token"], grandchild["token"]):
        resp = await harness.client.get(f"{BASE}/current", headers=harness.auth(str(secret)))
        assert resp.status_code == 401, resp.text
    for made in (child, grandchild):
        assert (await _stored(harness, made["id"])).revoked_at is not None
    ok = await harness.client.get(f"{BASE}/current", headers=harness.auth(bystander))
    assert ok.status_code == 200
    async with harness.svc.db.transaction(write=False) as session:
        stmt = select(AuditEntry.target_id).where(AuditEntry.action == "token.revoke")
        stmt = stmt.execution_options(**{ALL_TENANTS: True})
        revoked = set((await session.execute(stmt)).scalars())
    assert {root_id, child["id"], grandchild["id"]} <= revoked


async def test_a_child_is_refused_once_any_ancestor_is_gone(harness: Harness) -> None:
    """Even when the cascade missed it (a child minted in a race), an ancestor revoked or
    expired in the store refuses the child at authentication."""
    await harness.tenant("acme")
    root = await harness.token("acme", "tokens:write")
    child = await _mint(harness, root)
    grandchild = await _mint(harness, str(child["token"]))
    async with harness.svc.db.transaction() as session:
        await session.execute(
            update(ApiToken)
            .where(ApiToken.id == child["id"])
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
            .execution_options(**{ALL_TENANTS: True})
        )
    await harness.svc.principals.invalidate()
    resp = await harness.client.get(
        f"{BASE}/current", headers=harness.auth(str(grandchild["token"]))
    )
    assert resp.status_code == 401
    assert "minted" in resp.json()["detail"]


async def test_a_token_cannot_raise_its_own_rate_limit(harness: Harness) -> None:
    """A limited token may lower its own budget, never raise it."""
    await harness.tenant("acme")
    secret = await harness.token("acme", "tokens:write", rate_limit_per_minute=10)
    me = harness.auth(secret)
    own = (await harness.client.get(f"{BASE}/current", headers=me)).json()["token_id"]
    raised = await harness.client.patch(
        f"{BASE}/{own}", json={"rate_limit_per_minute": 1000}, headers=me
    )
    assert raised.status_code == 403, raised.text
    assert (await _stored(harness, own)).rate_limit_per_minute == 10
    lowered = await harness.client.patch(
        f"{BASE}/{own}", json={"rate_limit_per_minute": 5}, headers=me
    )
    assert lowered.status_code == 200, lowered.text


async def test_a_limited_token_cannot_mint_a_bigger_or_unlimited_child(harness: Harness) -> None:
    """Higher budgets are refused; no budget means the parent's, never unlimited."""
    await harness.tenant("acme")
    parent = await harness.token("acme", "tokens:write", rate_limit_per_minute=10)
    refused = await harness.client.post(
        BASE,
        json={"name": "big", "scopes": ["tokens:write"], "rate_limit_per_minute": 11},
        headers=harness.auth(parent),
    )
    assert refused.status_code == 403, refused.text
    inherited = await _mint(harness, parent)
    assert inherited["rate_limit_per_minute"] == 10
    smaller = await _mint(harness, parent, rate_limit_per_minute=3)
    assert smaller["rate_limit_per_minute"] == 3
    # nor can the child raise a sibling (or itself) past its parent's budget afterwards
    sibling = await harness.client.patch(
        f"{BASE}/{smaller['id']}",
        json={"rate_limit_per_minute": 100},
        headers=harness.auth(str(inherited["token"])),
    )
    assert sibling.status_code == 403


async def test_an_unlimited_token_still_mints_within_the_tier(harness: Harness) -> None:
    """A token without a budget of its own mints children as before (up to the tier)."""
    await harness.tenant("acme")
    parent = await harness.token("acme", "tokens:write")
    child = await _mint(harness, parent)
    assert child["rate_limit_per_minute"] is None
    assert (await _mint(harness, parent, rate_limit_per_minute=50))["rate_limit_per_minute"] == 50

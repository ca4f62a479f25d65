"""The tenant guard: queries on tenant-owned rows must name a tenant."""

import pytest
from sqlalchemy import select

from gatehouse.auth.models import ApiToken
from gatehouse.auth.service import TokenRepository
from gatehouse.db.tenancy import ALL_TENANTS, TenantScopeError
from gatehouse.tenants.models import Tenant
from tests.conftest import BOTH, Harness

pytestmark = BOTH


async def test_unscoped_queries_are_refused(harness: Harness) -> None:
    """A bare SELECT, UPDATE or DELETE on a tenant-owned model raises."""
    async with harness.svc.db.transaction(write=False) as s:
        with pytest.raises(TenantScopeError):
            await s.execute(select(ApiToken))
        with pytest.raises(TenantScopeError):
            await s.get(ApiToken, "anything")
        assert (await s.execute(select(Tenant))).all() == []


async def test_repository_needs_a_tenant_and_sees_only_its_rows(harness: Harness) -> None:
    """The repository base refuses an empty tenant and filters to its own."""
    await harness.tenant("alpha")
    await harness.tenant("beta")
    await harness.token("alpha", "tokens:read")
    await harness.token("beta", "tokens:read")
    async with harness.svc.db.transaction(write=False) as s:
        with pytest.raises(TenantScopeError):
            TokenRepository(s, "")
        repo = TokenRepository(s, "alpha")
        rows = (await s.execute(repo.select())).scalars().all()
        assert {r.tenant_id for r in rows} == {"alpha"}
        beta_id = (
            await s.execute(
                select(ApiToken.id)
                .where(ApiToken.tenant_id == "beta")
                .execution_options(**{ALL_TENANTS: True})
            )
        ).scalar_one()
        assert await repo.get(beta_id) is None
        sneaky = repo.select().where(ApiToken.tenant_id == "beta")
        assert (await s.execute(sneaky)).scalars().all() == []


async def test_scope_applies_to_joins(harness: Harness) -> None:
    """A session scoped to a tenant filters every tenant-owned entity in the statement."""
    await harness.tenant("alpha")
    await harness.tenant("beta")
    await harness.token("alpha", "tokens:read")
    await harness.token("beta", "tokens:read")
    async with harness.svc.db.transaction(write=False) as s:
        s.info["gatehouse_tenant_id"] = "beta"
        rows = (
            await s.execute(select(ApiToken, Tenant).join(Tenant, Tenant.id == ApiToken.tenant_id))
        ).all()
        assert [(t.tenant_id, tenant.id) for t, tenant in rows] == [("beta", "beta")]

"""Plain async factories that create objects through the services, as the API would."""

from __future__ import annotations

from typing import Any

from gatehouse.audit.context import Actor
from gatehouse.auth import service as tokens
from gatehouse.auth.schemas import TokenCreate
from gatehouse.config import Tier
from gatehouse.services import Services
from gatehouse.tenants import service as tenants
from gatehouse.tenants.models import PLATFORM
from gatehouse.tenants.schemas import TenantCreate

TEST_ACTOR = "test:factory"


async def make_tenant(svc: Services, tenant_id: str, tier: Tier = Tier.pro) -> str:
    """Create a tenant and return its id."""
    async with svc.db.transaction() as session:
        data = TenantCreate(id=tenant_id, name=tenant_id.title(), tier=tier)
        await tenants.create_tenant(session, Actor(PLATFORM, TEST_ACTOR), data)
    return tenant_id


async def make_token(svc: Services, tenant_id: str, scopes: list[str], **extra: Any) -> str:
    """Create a token for a tenant (or PLATFORM) and return its secret."""
    async with svc.db.transaction() as session:
        data = TokenCreate(name=extra.pop("name", "test"), scopes=scopes, **extra)
        _, secret = await tokens.create_token(
            session,
            Actor(tenant_id, TEST_ACTOR),
            tenant_id,
            data,
            granted_by=None,
            default_days=30,
            tier_limit=1_000_000,
        )
    return secret

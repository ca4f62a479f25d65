"""Create, read, change and remove tenants (platform administration)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gatehouse.audit import service as audit
from gatehouse.audit.context import Actor
from gatehouse.auth import service as tokens
from gatehouse.kit.pagination import MAX_LIMIT
from gatehouse.kit.problems import Problem
from gatehouse.tenants import lifecycle
from gatehouse.tenants.models import Tenant
from gatehouse.tenants.schemas import TenantCreate, TenantUpdate


def snapshot(tenant: Tenant) -> dict[str, Any]:
    """The audited view of a tenant."""
    return {"name": tenant.name, "tier": tenant.tier, "status": tenant.status}


async def create_tenant(session: AsyncSession, actor: Actor, data: TenantCreate) -> Tenant:
    """Create a tenant; 409 when the id is taken (also by a deleted tenant)."""
    if await session.get(Tenant, data.id) is not None:
        raise Problem(409, f"Tenant id {data.id!r} is taken; choose another.")
    tenant = Tenant(id=data.id, name=data.name, tier=data.tier.value, settings=data.settings)
    session.add(tenant)
    await session.flush()
    await audit.record(session, actor, "tenant.create", "tenant", tenant.id, after=snapshot(tenant))
    return tenant


async def get_tenant(session: AsyncSession, tenant_id: str) -> Tenant:
    """A tenant that has not been deleted, or 404."""
    tenant = await session.get(Tenant, tenant_id)
    if tenant is None or tenant.status == "deleted":
        raise Problem(404, f"No tenant {tenant_id!r}.")
    return tenant


async def list_tenants(session: AsyncSession, after: Any, limit: int) -> Sequence[Tenant]:
    """A page of tenants by id, deleted ones left out."""
    stmt = select(Tenant).where(Tenant.status != "deleted")
    if after is not None:
        stmt = stmt.where(Tenant.id > after)
    stmt = stmt.order_by(Tenant.id).limit(min(limit, MAX_LIMIT) + 1)
    return (await session.execute(stmt)).scalars().all()


async def update_tenant(
    session: AsyncSession, actor: Actor, tenant_id: str, data: TenantUpdate
) -> Tenant:
    """Rename, re-tier, suspend/reactivate or re-configure a tenant."""
    tenant = await get_tenant(session, tenant_id)
    before = snapshot(tenant)
    if data.name is not None:
        tenant.name = data.name
    if data.tier is not None:
        tenant.tier = data.tier.value
    halted = 0
    if data.status is not None:
        if data.status.value != tenant.status and data.status.value != "active":
            halted = await lifecycle.halt(session, tenant_id, data.status.value)
        tenant.status = data.status.value
    if data.settings is not None:
        tenant.settings = data.settings
    await session.flush()
    await audit.record(
        session,
        actor,
        "tenant.update",
        "tenant",
        tenant.id,
        before=before,
        after={**snapshot(tenant), **({"sync_runs_cancelled": halted} if halted else {})},
    )
    return tenant


async def delete_tenant(session: AsyncSession, actor: Actor, tenant_id: str) -> None:
    """Mark a tenant deleted, revoke all its tokens, stop its background work and destroy its
    sealed credentials; its id stays reserved."""
    tenant = await get_tenant(session, tenant_id)
    before = snapshot(tenant)
    tenant.status = "deleted"
    revoked = await tokens.revoke_all(session, actor, tenant_id)
    cancelled = await lifecycle.halt(session, tenant_id, "deleted")
    await lifecycle.retire(session, actor, tenant_id)
    await session.flush()
    after = {**snapshot(tenant), "tokens_revoked": revoked, "sync_runs_cancelled": cancelled}
    await audit.record(
        session, actor, "tenant.delete", "tenant", tenant.id, before=before, after=after
    )

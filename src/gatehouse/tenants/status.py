"""Which tenants may have background work done for them: active ones (and the platform)."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from gatehouse.tenants.models import PLATFORM, Tenant

ACTIVE = "active"


def runs_for(tenant_column: ColumnElement[str] | InstrumentedAttribute[str]) -> ColumnElement[bool]:
    """A filter keeping rows whose tenant is active: suspended and deleted ones get no
    scheduled syncs, deliveries or publishes."""
    active = select(Tenant.id).where(Tenant.status == ACTIVE)
    return or_(tenant_column == PLATFORM, tenant_column.in_(active))


async def inactive(session: AsyncSession, tenant_ids: Iterable[str]) -> set[str]:
    """Those of `tenant_ids` that are not active (suspended, deleted or unknown)."""
    wanted = {t for t in tenant_ids if t != PLATFORM}
    if not wanted:
        return set()
    stmt = select(Tenant.id).where(Tenant.id.in_(wanted), Tenant.status == ACTIVE)
    return wanted - set((await session.execute(stmt)).scalars())

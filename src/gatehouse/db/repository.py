"""A repository base bound to one tenant: every query it makes is scoped to that tenant."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from gatehouse.db.base import TenantOwned
from gatehouse.db.tenancy import TENANT, TenantScopeError
from gatehouse.kit.pagination import MAX_LIMIT

M = TypeVar("M", bound=TenantOwned)


class TenantRepository(Generic[M]):
    """Reads and writes one model's rows of one tenant."""

    model: type[M]

    def __init__(self, session: AsyncSession, tenant_id: str) -> None:
        if not tenant_id:
            raise TenantScopeError(f"{type(self).__name__} needs a tenant")
        self.session = session
        self.tenant_id = tenant_id

    def select(self) -> Select[M]:
        """A SELECT of this tenant's rows."""
        stmt = select(self.model).where(self.model.tenant_id == self.tenant_id)
        return stmt.execution_options(**{TENANT: self.tenant_id})

    async def get(self, ident: Any) -> M | None:
        """One row by primary key, or None when it is absent or another tenant's."""
        pk = self.model.id  # type: ignore[attr-defined]
        result = await self.session.execute(self.select().where(pk == ident))
        return result.scalar_one_or_none()

    async def page(self, stmt: Select[M], after: Any, limit: int) -> Sequence[M]:
        """Up to `limit` rows after the keyset position, ordered by id."""
        pk = self.model.id  # type: ignore[attr-defined]
        if after is not None:
            stmt = stmt.where(pk > after)
        stmt = stmt.order_by(pk).limit(min(limit, MAX_LIMIT) + 1)
        return (await self.session.execute(stmt)).scalars().all()

    def add(self, obj: M) -> M:
        """Stage a new row for this tenant."""
        obj.tenant_id = self.tenant_id
        self.session.add(obj)
        return obj

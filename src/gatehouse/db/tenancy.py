"""The guard that refuses an ORM query on tenant-owned rows that does not name a tenant."""

from __future__ import annotations

from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session, with_loader_criteria

from gatehouse.db.base import TenantOwned

TENANT = "gatehouse_tenant_id"
ALL_TENANTS = "gatehouse_all_tenants"


class TenantScopeError(RuntimeError):
    """A query touched tenant-owned rows without naming a tenant."""


def _touches_tenant_rows(state: ORMExecuteState) -> bool:
    return any(issubclass(mapper.class_, TenantOwned) for mapper in state.all_mappers)


def _scope(state: ORMExecuteState) -> None:
    if not (state.is_select or state.is_update or state.is_delete):
        return
    if state.is_column_load or state.is_relationship_load:
        return
    options = state.execution_options
    if options.get(ALL_TENANTS) or not _touches_tenant_rows(state):
        return
    tenant_id = options.get(TENANT) or state.session.info.get(TENANT)
    if not tenant_id:
        raise TenantScopeError("query on tenant-owned rows without a tenant")
    state.statement = state.statement.options(
        with_loader_criteria(
            TenantOwned,
            lambda cls: cls.tenant_id == tenant_id,
            include_aliases=True,
            track_closure_variables=False,
        )
    )


class TenantSession(Session):
    """An ORM session whose queries on tenant-owned rows must name the tenant."""


event.listen(TenantSession, "do_orm_execute", _scope)

"""The guard that refuses an ORM query on tenant-owned rows that does not name a tenant."""

from __future__ import annotations

from functools import lru_cache

from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session, with_loader_criteria
from sqlalchemy.orm.util import LoaderCriteriaOption

from gatehouse.db.base import TenantOwned

TENANT = "gatehouse_tenant_id"
ALL_TENANTS = "gatehouse_all_tenants"


class TenantScopeError(RuntimeError):
    """A query touched tenant-owned rows without naming a tenant."""


def _touches_tenant_rows(state: ORMExecuteState) -> bool:
    return any(issubclass(mapper.class_, TenantOwned) for mapper in state.all_mappers)


@lru_cache(maxsize=4096)
def _criteria(tenant_id: str) -> LoaderCriteriaOption:
    """The tenant's row filter, built once per tenant (options are immutable)."""
    return with_loader_criteria(
        TenantOwned,
        lambda cls: cls.tenant_id == tenant_id,
        include_aliases=True,
        track_closure_variables=False,
    )


def _scope(state: ORMExecuteState) -> None:
    if not (state.is_select or state.is_update or state.is_delete):
        return
    if state.is_column_load or state.is_relationship_load:
        return
    options = state.execution_options
    if options.get(ALL_TENANTS):
        return
    tenant_id = options.get(TENANT) or state.session.info.get(TENANT)
    if tenant_id:
        # Filtering a statement that touches no tenant-owned rows is a no-op, so the named
        # tenant's filter goes on without first walking the statement's tables.
        state.statement = state.statement.options(_criteria(tenant_id))
    elif _touches_tenant_rows(state):
        raise TenantScopeError("query on tenant-owned rows without a tenant")


class TenantSession(Session):
    """An ORM session whose queries on tenant-owned rows must name the tenant."""


event.listen(TenantSession, "do_orm_execute", _scope)

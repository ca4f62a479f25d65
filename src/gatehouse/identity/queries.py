"""Read-side queries for operators: filtered identity lists, groups, members, resources."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gatehouse.db.tenancy import TENANT
from gatehouse.identity.graph import member_rows
from gatehouse.identity.models import Group, Identity, IdentityLink, Resource
from gatehouse.identity.schemas import IDENTITY_COLUMNS
from gatehouse.kit.pagination import MAX_LIMIT
from gatehouse.kit.problems import Problem


@dataclass(frozen=True)
class IdentityFilter:
    """Equality filters on columns and JSON attributes, plus group, source and status."""

    status: str | None = None
    group_id: str | None = None
    source: str | None = None
    columns: dict[str, str] = field(default_factory=dict)
    attributes: dict[str, str] = field(default_factory=dict)


async def list_identities(
    session: AsyncSession, tenant_id: str, flt: IdentityFilter, after: Any, limit: int
) -> Sequence[Identity]:
    """A page of identities by id."""
    stmt = (
        select(Identity)
        .where(Identity.tenant_id == tenant_id)
        .execution_options(**{TENANT: tenant_id})
    )
    if flt.status:
        stmt = stmt.where(Identity.status == flt.status)
    else:
        stmt = stmt.where(Identity.status != "deleted")
    for name, value in flt.columns.items():
        if name not in IDENTITY_COLUMNS or name == "active":
            raise Problem(400, f"Cannot filter on {name!r}.")
        column = getattr(Identity, name)
        if name == "user_name":
            stmt = stmt.where(Identity.user_name_key == value.lower())
        else:
            stmt = stmt.where(column == value)
    for key, value in flt.attributes.items():
        stmt = stmt.where(Identity.attributes[key].as_string() == value)
    if flt.group_id:
        members = await member_rows(session, tenant_id, flt.group_id, transitive=True)
        stmt = stmt.where(Identity.id.in_([m for m, kind in members if kind == "identity"]))
    if flt.source:
        linked = select(IdentityLink.identity_id).where(
            IdentityLink.tenant_id == tenant_id, IdentityLink.source == flt.source
        )
        stmt = stmt.where(Identity.id.in_(linked))
    if after is not None:
        stmt = stmt.where(Identity.id > after)
    stmt = stmt.order_by(Identity.id).limit(min(limit, MAX_LIMIT) + 1)
    return (await session.execute(stmt)).scalars().all()


async def list_groups(
    session: AsyncSession, tenant_id: str, name: str | None, after: Any, limit: int
) -> Sequence[Group]:
    """A page of live groups by id, optionally by exact name."""
    stmt = (
        select(Group)
        .where(Group.tenant_id == tenant_id, Group.deleted_at.is_(None))
        .execution_options(**{TENANT: tenant_id})
    )
    if name:
        stmt = stmt.where(Group.display_name_key == name.lower())
    if after is not None:
        stmt = stmt.where(Group.id > after)
    stmt = stmt.order_by(Group.id).limit(min(limit, MAX_LIMIT) + 1)
    return (await session.execute(stmt)).scalars().all()


async def members(
    session: AsyncSession, tenant_id: str, group_id: str, *, transitive: bool
) -> list[tuple[str, str, str]]:
    """(id, type, display) of a group's members."""
    rows = await member_rows(session, tenant_id, group_id, transitive=transitive)
    people = [m for m, kind in rows if kind == "identity"]
    groups = [m for m, kind in rows if kind == "group"]
    scoped = {TENANT: tenant_id}
    names: dict[str, str] = {}
    if people:
        found = await session.execute(
            select(Identity.id, Identity.user_name)
            .where(Identity.tenant_id == tenant_id, Identity.id.in_(people))
            .execution_options(**scoped)
        )
        names.update({ident: name for ident, name in found.all()})
    if groups:
        found = await session.execute(
            select(Group.id, Group.display_name)
            .where(Group.tenant_id == tenant_id, Group.id.in_(groups))
            .execution_options(**scoped)
        )
        names.update({ident: name for ident, name in found.all()})
    return sorted((m, kind, names.get(m, "")) for m, kind in rows)


async def list_resources(
    session: AsyncSession,
    tenant_id: str,
    type_: str | None,
    after: Any,
    limit: int,
    *,
    deleted: bool = False,
) -> Sequence[Resource]:
    """A page of resources by id, optionally of one type; deleted ones only when asked."""
    stmt = (
        select(Resource)
        .where(Resource.tenant_id == tenant_id)
        .execution_options(**{TENANT: tenant_id})
    )
    if not deleted:
        stmt = stmt.where(Resource.deleted_at.is_(None))
    if type_:
        stmt = stmt.where(Resource.type == type_)
    if after is not None:
        stmt = stmt.where(Resource.id > after)
    stmt = stmt.order_by(Resource.id).limit(min(limit, MAX_LIMIT) + 1)
    return (await session.execute(stmt)).scalars().all()

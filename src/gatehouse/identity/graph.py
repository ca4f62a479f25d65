"""Transitive group questions, answered with recursive SQL (SQLite and PostgreSQL alike)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from gatehouse.db.tenancy import ALL_TENANTS
from gatehouse.identity.models import Group, Membership

# The tenant is named in every WHERE clause below; the guard cannot see into CTEs.
SCOPED = {ALL_TENANTS: True}


async def ancestor_groups(session: AsyncSession, tenant_id: str, member_id: str) -> set[str]:
    """Every group that contains `member_id`, directly or through nested groups."""
    m = Membership.__table__
    up = (
        select(m.c.group_id.label("gid"))
        .where(m.c.tenant_id == tenant_id, m.c.member_id == member_id)
        .cte("up", recursive=True)
    )
    parent = m.alias("parent")
    up = up.union(
        select(parent.c.group_id).where(
            parent.c.tenant_id == tenant_id, parent.c.member_id == up.c.gid
        )
    )
    rows = await session.execute(select(up.c.gid).execution_options(**SCOPED))
    return set(rows.scalars())


async def groups_of(session: AsyncSession, tenant_id: str, identity_id: str) -> Sequence[Group]:
    """The live groups an identity belongs to, directly or by inheritance."""
    ids = await ancestor_groups(session, tenant_id, identity_id)
    if not ids:
        return []
    stmt = (
        select(Group)
        .where(Group.tenant_id == tenant_id, Group.id.in_(ids), Group.deleted_at.is_(None))
        .execution_options(**SCOPED)
    )
    # Sorted here: ORDER BY the name index would make SQLite walk every group of the tenant.
    found = (await session.execute(stmt)).scalars().all()
    return sorted(found, key=lambda g: g.display_name_key)


async def member_rows(
    session: AsyncSession, tenant_id: str, group_id: str, *, transitive: bool
) -> list[tuple[str, str]]:
    """(member id, member type) of a group; with `transitive`, members of nested groups too."""
    m = Membership.__table__
    if not transitive:
        stmt = select(m.c.member_id, m.c.member_type).where(
            m.c.tenant_id == tenant_id, m.c.group_id == group_id
        )
        rows = await session.execute(stmt.execution_options(**SCOPED))
        return [(a, b) for a, b in rows.all()]
    down = (
        select(m.c.member_id.label("mid"), m.c.member_type.label("kind"), literal(1).label("d"))
        .where(m.c.tenant_id == tenant_id, m.c.group_id == group_id)
        .cte("down", recursive=True)
    )
    child = m.alias("child")
    down = down.union(
        select(child.c.member_id, child.c.member_type, down.c.d + 1).where(
            child.c.tenant_id == tenant_id, child.c.group_id == down.c.mid, down.c.d < 32
        )
    )
    rows = await session.execute(
        select(down.c.mid, down.c.kind).distinct().execution_options(**SCOPED)
    )
    return [(a, b) for a, b in rows.all()]


async def group_names_of_many(
    session: AsyncSession, tenant_id: str, member_ids: Sequence[str]
) -> dict[str, list[str]]:
    """For each member id, the names of the live groups it is in, nested groups included."""
    names: dict[str, list[str]] = {m: [] for m in member_ids}
    if not member_ids:
        return names
    m = Membership.__table__
    up = (
        select(m.c.member_id.label("origin"), m.c.group_id.label("gid"))
        .where(m.c.tenant_id == tenant_id, m.c.member_id.in_(list(member_ids)))
        .cte("up_many", recursive=True)
    )
    parent = m.alias("parent_many")
    up = up.union(
        select(up.c.origin, parent.c.group_id).where(
            parent.c.tenant_id == tenant_id, parent.c.member_id == up.c.gid
        )
    )
    g = Group.__table__
    stmt = (
        select(up.c.origin, g.c.display_name)
        .join(g, g.c.id == up.c.gid)
        .where(g.c.tenant_id == tenant_id, g.c.deleted_at.is_(None))
    )
    for origin, name in (await session.execute(stmt.execution_options(**SCOPED))).all():
        names[origin].append(name)
    return names

"""The part of a tenant's document that one connection contributes."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import orjson
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from gatehouse.db.tenancy import TENANT
from gatehouse.distribution.fragments import USER_COLUMNS
from gatehouse.distribution.models import Fragment
from gatehouse.identity.models import GroupLink, Identity, IdentityLink, Membership, RecordVersion
from gatehouse.identity.rows import chunks

ALWAYS = frozenset({"id", "groups", "roles", "type", "key", "displayName"})


async def _ids(session: AsyncSession, tenant: str, stmt: Any, limit: int) -> list[str]:
    rows = await session.execute(stmt.limit(limit + 1).execution_options(**{TENANT: tenant}))
    return [str(v) for v in rows.scalars()]


async def _entries(
    session: AsyncSession, tenant: str, record_ids: Collection[str]
) -> list[tuple[str, str, str, dict[str, Any]]]:
    """(section, key, record id, value) of live entries of these records."""
    found: list[tuple[str, str, str, dict[str, Any]]] = []
    for part in chunks(sorted(record_ids)):
        rows = await session.execute(
            select(Fragment.section, Fragment.key, Fragment.record_id, Fragment.body)
            .where(Fragment.tenant_id == tenant, Fragment.record_id.in_(part), ~Fragment.removed)
            .execution_options(**{TENANT: tenant})
        )
        found.extend((s, k, r, orjson.loads(b)) for s, k, r, b in rows)
    return found


async def contribution(
    session: AsyncSession, tenant: str, connection_id: str, limit: int
) -> dict[str, Any]:
    """Users, groups and resources the connection stated, with only the user fields it set."""
    people = await _ids(
        session,
        tenant,
        select(IdentityLink.identity_id)
        .where(IdentityLink.tenant_id == tenant, IdentityLink.source == connection_id)
        .order_by(IdentityLink.identity_id),
        limit,
    )
    groups = await _ids(
        session,
        tenant,
        select(GroupLink.group_id)
        .where(GroupLink.tenant_id == tenant, GroupLink.source == connection_id)
        .order_by(GroupLink.group_id),
        limit,
    )
    resources = await _ids(
        session,
        tenant,
        select(RecordVersion.record_id)
        .where(RecordVersion.tenant_id == tenant, RecordVersion.source == connection_id)
        .where(RecordVersion.record_type == "resource")
        .group_by(RecordVersion.record_id)
        .order_by(RecordVersion.record_id),
        limit,
    )
    truncated = max(len(people), len(groups), len(resources)) > limit
    people, groups, resources = people[:limit], groups[:limit], resources[:limit]
    owned: dict[str, set[str]] = {}
    for part in chunks(people):
        rows = await session.execute(
            select(Identity.id, Identity.provenance)
            .where(Identity.tenant_id == tenant, Identity.id.in_(part))
            .execution_options(**{TENANT: tenant})
        )
        for ident, provenance in rows:
            owned[ident] = {
                USER_COLUMNS.get(name, name)
                for name, source in (provenance or {}).items()
                if source == connection_id
            }
    out: dict[str, Any] = {"users": {}, "groups": {}, "resources": {}}
    for section, key, rid, value in await _entries(session, tenant, [*people, *groups, *resources]):
        kind, _, rtype = section.partition("/")
        if kind == "users":
            mine = owned.get(rid, set()) | ALWAYS
            out["users"][key] = {k: v for k, v in value.items() if k in mine}
        elif kind == "groups":
            out["groups"][key] = value
        else:
            out["resources"].setdefault(rtype, {})[key] = value
    stated = await session.execute(
        select(func.count())
        .select_from(Membership)
        .where(Membership.tenant_id == tenant, Membership.source == connection_id)
        .execution_options(**{TENANT: tenant})
    )
    return {**out, "memberships": stated.scalar() or 0, "truncated": truncated}

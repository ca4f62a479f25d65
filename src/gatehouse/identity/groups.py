"""Groups and memberships, nested groups included (cycles refused)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import structlog
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from gatehouse.audit.context import Actor
from gatehouse.db.repository import TenantRepository
from gatehouse.db.tenancy import TENANT
from gatehouse.events.service import emit
from gatehouse.identity.changes import record_change
from gatehouse.identity.graph import ancestor_groups
from gatehouse.identity.models import Group, Identity, Membership
from gatehouse.identity.rescore import rescore_members
from gatehouse.identity.schemas import GroupData
from gatehouse.kit.problems import Problem, not_found

log = structlog.get_logger("gatehouse.identity")


class GroupRepository(TenantRepository[Group]):
    """One tenant's groups."""

    model = Group


def snapshot(group: Group) -> dict[str, Any]:
    """The recorded view of a group (members are recorded as membership events)."""
    return {
        "display_name": group.display_name,
        "external_id": group.external_id,
        "attributes": dict(group.attributes or {}),
    }


async def _ensure_unique(
    session: AsyncSession, tenant_id: str, name: str, own_id: str | None = None
) -> None:
    repo = GroupRepository(session, tenant_id)
    stmt = repo.select().where(Group.display_name_key == name.strip().lower())
    clash = (await session.execute(stmt)).scalar_one_or_none()
    if clash is not None and clash.id != own_id:
        raise Problem(409, f"A group named {name!r} already exists.", scim_type="uniqueness")


async def get_group(session: AsyncSession, tenant_id: str, group_id: str) -> Group:
    """A live group of the tenant, or 404."""
    group = await GroupRepository(session, tenant_id).get(group_id)
    if group is None or group.deleted_at is not None:
        raise not_found("group", group_id)
    return group


async def create_group(
    session: AsyncSession, actor: Actor, data: GroupData, *, source: str
) -> Group:
    """Create a group."""
    await _ensure_unique(session, actor.tenant_id, data.display_name)
    group = GroupRepository(session, actor.tenant_id).add(
        Group(
            display_name=data.display_name,
            display_name_key=data.display_name.strip().lower(),
            external_id=data.external_id,
            attributes=data.attributes,
            version=1,
        )
    )
    await session.flush()
    await record_change(
        session,
        actor,
        "group.created",
        group.id,
        1,
        source=source,
        before=None,
        after=snapshot(group),
    )
    return group


async def update_group(
    session: AsyncSession,
    actor: Actor,
    group_id: str,
    data: GroupData,
    *,
    source: str,
    expected_version: int | None = None,
) -> Group:
    """Replace a group's name, external id and attributes."""
    group = await get_group(session, actor.tenant_id, group_id)
    if expected_version is not None and expected_version != group.version:
        raise Problem(412, f"The group is at version {group.version}, not {expected_version}.")
    before = snapshot(group)
    if data.display_name != group.display_name:
        await _ensure_unique(session, actor.tenant_id, data.display_name, group.id)
    group.display_name = data.display_name
    group.display_name_key = data.display_name.strip().lower()
    group.external_id = data.external_id
    group.attributes = data.attributes
    if snapshot(group) != before:
        group.version += 1
        await session.flush()
        await record_change(
            session,
            actor,
            "group.updated",
            group.id,
            group.version,
            source=source,
            before=before,
            after=snapshot(group),
        )
    return group


async def delete_group(session: AsyncSession, actor: Actor, group_id: str, *, source: str) -> None:
    """Delete a group: its memberships (both ways) go, its history stays."""
    tenant = actor.tenant_id
    group = await get_group(session, tenant, group_id)
    before = snapshot(group)
    await session.execute(
        delete(Membership)
        .where(
            Membership.tenant_id == tenant,
            (Membership.group_id == group.id) | (Membership.member_id == group.id),
        )
        .execution_options(**{TENANT: tenant})
    )
    group.deleted_at = datetime.now(UTC)
    group.display_name_key = f"{group.display_name_key}#deleted#{group.id}"
    group.version += 1
    await session.flush()
    await record_change(
        session,
        actor,
        "group.deleted",
        group.id,
        group.version,
        source=source,
        before=before,
        after=None,
    )


async def _member_kinds(
    session: AsyncSession, tenant_id: str, member_ids: set[str]
) -> dict[str, str]:
    """Which of the ids are live identities or groups of this tenant."""
    scoped = {TENANT: tenant_id}
    kinds: dict[str, str] = {}
    people = await session.execute(
        select(Identity.id)
        .where(Identity.tenant_id == tenant_id, Identity.id.in_(member_ids))
        .where(Identity.status != "deleted")
        .execution_options(**scoped)
    )
    kinds.update({ident: "identity" for ident in people.scalars()})
    groups = await session.execute(
        select(Group.id)
        .where(Group.tenant_id == tenant_id, Group.id.in_(member_ids), Group.deleted_at.is_(None))
        .execution_options(**scoped)
    )
    kinds.update({ident: "group" for ident in groups.scalars()})
    return kinds


async def add_members(
    session: AsyncSession, actor: Actor, group_id: str, member_ids: Iterable[str], *, source: str
) -> list[str]:
    """Add identities or groups to a group; returns the ids that were not members yet."""
    tenant = actor.tenant_id
    group = await get_group(session, tenant, group_id)
    wanted = set(member_ids)
    kinds = await _member_kinds(session, tenant, wanted)
    missing = sorted(wanted - set(kinds))
    if missing:
        raise Problem(
            400,
            f"No identity or group with id {missing[0]!r} in this tenant.",
            scim_type="invalidValue",
        )
    if group.id in wanted or any(kinds[m] == "group" for m in wanted):
        above = await ancestor_groups(session, tenant, group.id)
        loops = sorted(m for m in wanted if m == group.id or m in above)
        if loops:
            raise Problem(
                400,
                f"Adding {loops[0]!r} to this group would make a cycle.",
                scim_type="invalidValue",
            )
    present = await session.execute(
        select(Membership.member_id)
        .where(Membership.tenant_id == tenant, Membership.group_id == group.id)
        .where(Membership.member_id.in_(wanted))
        .execution_options(**{TENANT: tenant})
    )
    new = sorted(wanted - set(present.scalars()))
    session.add_all(
        Membership(tenant_id=tenant, group_id=group.id, member_id=m, member_type=kinds[m])
        for m in new
    )
    await _membership_events(session, actor, group, "membership.added", new, kinds, source)
    return new


async def remove_members(
    session: AsyncSession, actor: Actor, group_id: str, member_ids: Iterable[str], *, source: str
) -> list[str]:
    """Remove members from a group; returns the ids that were members."""
    tenant = actor.tenant_id
    group = await get_group(session, tenant, group_id)
    wanted = set(member_ids)
    rows = await session.execute(
        select(Membership.member_id, Membership.member_type)
        .where(Membership.tenant_id == tenant, Membership.group_id == group.id)
        .where(Membership.member_id.in_(wanted))
        .execution_options(**{TENANT: tenant})
    )
    kinds = {member: kind for member, kind in rows.all()}
    gone = sorted(kinds)
    if gone:
        await session.execute(
            delete(Membership)
            .where(Membership.tenant_id == tenant, Membership.group_id == group.id)
            .where(Membership.member_id.in_(gone))
            .execution_options(**{TENANT: tenant})
        )
    await _membership_events(session, actor, group, "membership.removed", gone, kinds, source)
    return gone


async def _membership_events(
    session: AsyncSession,
    actor: Actor,
    group: Group,
    event: str,
    member_ids: list[str],
    kinds: dict[str, str],
    source: str,
) -> None:
    if not member_ids:
        return
    group.version += 1
    await session.flush()
    await rescore_members(session, actor.tenant_id, {m: kinds[m] for m in member_ids})
    for member in member_ids:
        emit(
            session,
            actor.tenant_id,
            event,
            "group",
            group.id,
            {
                "group_id": group.id,
                "member_id": member,
                "member_type": kinds[member],
                "source": source,
            },
        )
    await record_change(
        session,
        actor,
        f"group.members_{'added' if event.endswith('added') else 'removed'}",
        group.id,
        group.version,
        source=source,
        before=None,
        after={"members": member_ids[:1000], "count": len(member_ids)},
    )

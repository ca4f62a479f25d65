"""/Groups: SCIM Groups and their members, written through the identity group service."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError
from scim2_models import Context, Group, Resource
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from gatehouse.audit.context import Actor
from gatehouse.db.tenancy import TENANT
from gatehouse.identity import groups as store
from gatehouse.identity.graph import member_rows
from gatehouse.identity.models import Group as GroupRecord
from gatehouse.identity.models import Identity, Membership
from gatehouse.scim import patch as patching
from gatehouse.scim.attributes import GROUP_ATTRIBUTES, GROUP_SORT
from gatehouse.scim.errors import from_validation
from gatehouse.scim.http import check_if_match
from gatehouse.scim.listing import ListQuery, page
from gatehouse.scim.mapping import group_data, group_document, to_model
from gatehouse.scim.resources import SOURCE, Found

Member = tuple[str, str, str]  # id, "identity" or "group", display


async def members_of(
    session: AsyncSession, tenant_id: str, group_ids: Sequence[str]
) -> dict[str, list[Member]]:
    """Each group's direct members, with a display name, in three queries."""
    scoped = {TENANT: tenant_id}
    found: dict[str, list[Member]] = defaultdict(list)
    if not group_ids:
        return found
    rows = (
        await session.execute(
            select(Membership.group_id, Membership.member_id, Membership.member_type)
            .where(Membership.tenant_id == tenant_id, Membership.group_id.in_(group_ids))
            .order_by(Membership.group_id, Membership.member_id)
            .execution_options(**scoped)
        )
    ).all()
    people = {m for _, m, kind in rows if kind == "identity"}
    teams = {m for _, m, kind in rows if kind == "group"}
    names: dict[str, str] = {}
    if people:
        label = func.coalesce(Identity.display_name, Identity.user_name)
        found_people = await session.execute(
            select(Identity.id, label)
            .where(Identity.tenant_id == tenant_id, Identity.id.in_(people))
            .execution_options(**scoped)
        )
        names.update({ident: name for ident, name in found_people.all()})
    if teams:
        found_teams = await session.execute(
            select(GroupRecord.id, GroupRecord.display_name)
            .where(GroupRecord.tenant_id == tenant_id, GroupRecord.id.in_(teams))
            .execution_options(**scoped)
        )
        names.update({ident: name for ident, name in found_teams.all()})
    for gid, member, kind in rows:
        found[gid].append((member, kind, names.get(member, "")))
    return found


def parse_group(payload: dict[str, Any], context: Context) -> Resource[Any]:
    """A SCIM Group from a request body, or the SCIM error for it."""
    try:
        return Group.model_validate(payload, scim_ctx=context)
    except ValidationError as exc:
        raise from_validation(exc) from None


def wanted_members(group: Resource[Any]) -> list[str]:
    """The member ids a Group document lists."""
    members = getattr(group, "members", None) or []
    return patching.member_ids([{"value": m.value} for m in members])


class Groups:
    """The Group resource type over the identity store."""

    name = "Group"
    endpoint = "/Groups"
    record = "group"
    relation = "members"
    model = Group

    def __init__(self, dialect: str) -> None:
        self.dialect = dialect

    async def _found(
        self, session: AsyncSession, group: GroupRecord, base: str, expand: bool = True
    ) -> Found:
        members = await members_of(session, group.tenant_id, [group.id]) if expand else {}
        doc = group_document(group, members.get(group.id, []), base)
        return Found(to_model(Group, doc), group.version)

    async def get(
        self, session: AsyncSession, tenant_id: str, ident: str, base: str, expand: bool
    ) -> Found:
        """One group, or 404."""
        group = await store.get_group(session, tenant_id, ident)
        return await self._found(session, group, base, expand)

    async def search(
        self, session: AsyncSession, tenant_id: str, query: ListQuery, base: str, expand: bool
    ) -> tuple[int, list[Resource[Any]]]:
        """The total number of matching groups and one page of them."""
        live = [GroupRecord.deleted_at.is_(None)]
        total, rows = await page(
            session, GroupRecord, tenant_id, live, query, GROUP_ATTRIBUTES, GROUP_SORT, self.dialect
        )
        members = await members_of(session, tenant_id, [r.id for r in rows]) if expand else {}
        docs = [group_document(row, members.get(row.id, []), base) for row in rows]
        return total, [to_model(Group, doc) for doc in docs]

    async def create(
        self, session: AsyncSession, actor: Actor, payload: dict[str, Any], base: str
    ) -> Found:
        """Create a group with its members; a taken displayName is 409 uniqueness."""
        group = parse_group(payload, Context.RESOURCE_CREATION_REQUEST)
        record = await store.create_group(session, actor, group_data(group, {}), source=SOURCE)
        wanted = wanted_members(group)
        if wanted:
            await store.add_members(session, actor, record.id, wanted, source=SOURCE)
        return await self._found(session, record, base)

    async def replace(
        self,
        session: AsyncSession,
        actor: Actor,
        ident: str,
        payload: dict[str, Any],
        if_match: str | None,
        base: str,
    ) -> Found:
        """Replace a group (PUT): name, externalId and the whole member list."""
        record = await store.get_group(session, actor.tenant_id, ident)
        check_if_match(if_match, record.version)
        group = parse_group(payload, Context.RESOURCE_REPLACEMENT_REQUEST)
        changes = patching.MemberChanges(exactly=wanted_members(group))
        return await self._save(session, actor, record, group, changes, base)

    async def patch(
        self,
        session: AsyncSession,
        actor: Actor,
        ident: str,
        payload: dict[str, Any],
        if_match: str | None,
        base: str,
    ) -> Found:
        """Apply a PatchOp; member lists go to the store as sets, in one transaction."""
        ops = patching.operations(payload)
        record = await store.get_group(session, actor.tenant_id, ident)
        check_if_match(if_match, record.version)
        split = patching.split_members(ops)
        if split is None:
            # A member filter the fast path does not read: patch the full member list.
            found = await self._found(session, record, base)
            group = found.resource
            patching.apply(patching.parse(Group, ops, base), group)
            changes = patching.MemberChanges(exactly=wanted_members(group))
        else:
            others, changes = split
            group = to_model(Group, group_document(record, None, base))
            if others:
                patching.apply(patching.parse(Group, others, base), group)
        return await self._save(session, actor, record, group, changes, base)

    async def _save(
        self,
        session: AsyncSession,
        actor: Actor,
        record: GroupRecord,
        group: Resource[Any],
        changes: patching.MemberChanges,
        base: str,
    ) -> Found:
        data = group_data(group, record.attributes or {})
        await store.update_group(
            session, actor, record.id, data, source=SOURCE, expected_version=record.version
        )
        add, remove = changes.add, changes.remove
        if changes.exactly is not None:
            rows = await member_rows(session, actor.tenant_id, record.id, transitive=False)
            current = {member for member, _ in rows}
            add = [m for m in changes.exactly if m not in current]
            remove = sorted(current - set(changes.exactly))
        if remove:
            await store.remove_members(session, actor, record.id, remove, source=SOURCE)
        if add:
            await store.add_members(session, actor, record.id, add, source=SOURCE)
        return await self._found(session, record, base)

    async def delete(
        self, session: AsyncSession, actor: Actor, ident: str, if_match: str | None
    ) -> None:
        """Delete a group: its memberships go, its history stays."""
        record = await store.get_group(session, actor.tenant_id, ident)
        check_if_match(if_match, record.version)
        await store.delete_group(session, actor, record.id, source=SOURCE)

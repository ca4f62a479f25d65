"""/Users: SCIM Users written through the identity service, read with their direct groups."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError
from scim2_models import Context, Resource, SCIMException
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gatehouse.audit.context import Actor
from gatehouse.db.tenancy import TENANT
from gatehouse.identity import provisioning, service
from gatehouse.identity.merge import Nulls
from gatehouse.identity.models import Group, Identity, Membership
from gatehouse.identity.provisioning import Statement
from gatehouse.scim import patch as patching
from gatehouse.scim.attributes import USER_ATTRIBUTES, USER_SORT
from gatehouse.scim.errors import from_scim, from_validation
from gatehouse.scim.http import check_if_match
from gatehouse.scim.listing import ListQuery, page
from gatehouse.scim.managers import check_manager
from gatehouse.scim.mapping import normalize_user, user_model
from gatehouse.scim.resources import SOURCE, Found
from gatehouse.scim.schema import USER
from gatehouse.scim.statements import changed, statement


async def direct_groups(
    session: AsyncSession, tenant_id: str, identity_ids: Sequence[str]
) -> dict[str, list[tuple[str, str]]]:
    """Each identity's direct groups as (id, name), in one query."""
    found: dict[str, list[tuple[str, str]]] = defaultdict(list)
    if not identity_ids:
        return found
    rows = await session.execute(
        select(Membership.member_id, Group.id, Group.display_name)
        .join(Group, Group.id == Membership.group_id)
        .where(Membership.tenant_id == tenant_id, Group.tenant_id == tenant_id)
        .where(Membership.member_id.in_(identity_ids), Group.deleted_at.is_(None))
        .execution_options(**{TENANT: tenant_id})
    )
    # Sorted here, not in SQL: ORDER BY the group name index makes SQLite walk every group of
    # the tenant instead of looking up this member's few memberships.
    for member, gid, name in sorted(rows.all(), key=lambda row: row[2].lower()):
        found[member].append((gid, name))
    return found


def parse_user(payload: dict[str, Any], context: Context, base: str) -> Resource[Any]:
    """A SCIM User from a request body, or the SCIM error for it."""
    try:
        return USER.model_validate(normalize_user(payload, base), scim_ctx=context)
    except ValidationError as exc:
        raise from_validation(exc) from None


class Users:
    """The User resource type over the identity store."""

    name = "User"
    endpoint = "/Users"
    record = "identity"
    relation = "groups"
    model = USER

    def __init__(self, dialect: str) -> None:
        self.dialect = dialect

    async def _found(
        self, session: AsyncSession, identity: Identity, base: str, expand: bool = True
    ) -> Found:
        groups = await direct_groups(session, identity.tenant_id, [identity.id]) if expand else {}
        return Found(user_model(identity, groups.get(identity.id, []), base), identity.version)

    async def get(
        self, session: AsyncSession, tenant_id: str, ident: str, base: str, expand: bool
    ) -> Found:
        """One user, or 404."""
        identity = await service.get_identity(session, tenant_id, ident)
        return await self._found(session, identity, base, expand)

    async def search(
        self, session: AsyncSession, tenant_id: str, query: ListQuery, base: str, expand: bool
    ) -> tuple[int, list[Resource[Any]]]:
        """The total number of matching users and one page of them."""
        live = [Identity.status != "deleted"]
        total, rows = await page(
            session, Identity, tenant_id, live, query, USER_ATTRIBUTES, USER_SORT, self.dialect
        )
        ids = [row.id for row in rows]
        groups = await direct_groups(session, tenant_id, ids) if expand else {}
        return total, [user_model(row, groups.get(row.id, []), base) for row in rows]

    async def create(
        self, session: AsyncSession, actor: Actor, payload: dict[str, Any], base: str
    ) -> Found:
        """Create a user (201), or link it to the identity correlation finds; a taken userName
        is 409 uniqueness."""
        user = parse_user(payload, Context.RESOURCE_CREATION_REQUEST, base)
        stated = statement(user, True)
        await check_manager(session, actor.tenant_id, stated)
        identity = await provisioning.provision(session, actor, SOURCE, stated)
        return await self._found(session, identity, base)

    async def replace(
        self,
        session: AsyncSession,
        actor: Actor,
        ident: str,
        payload: dict[str, Any],
        if_match: str | None,
        base: str,
    ) -> Found:
        """Replace a user (PUT); `active` left out keeps its value."""
        identity = await service.get_identity(session, actor.tenant_id, ident)
        check_if_match(if_match, identity.version)
        user = parse_user(payload, Context.RESOURCE_REPLACEMENT_REQUEST, base)
        try:
            user.replace(user_model(identity, [], base))
        except SCIMException as exc:
            raise from_scim(exc) from None
        stated = statement(user, identity.active)
        return await self._save(session, actor, identity, stated, Nulls.RETRACTED, base)

    async def patch(
        self,
        session: AsyncSession,
        actor: Actor,
        ident: str,
        payload: dict[str, Any],
        if_match: str | None,
        base: str,
    ) -> Found:
        """Apply a PatchOp to a user."""
        ops = patching.operations(payload)
        identity = await service.get_identity(session, actor.tenant_id, ident)
        check_if_match(if_match, identity.version)
        user = user_model(identity, [], base)
        before = statement(user, identity.active)
        patching.apply(patching.parse(USER, ops, base), user)
        stated = changed(before, statement(user, identity.active))
        return await self._save(session, actor, identity, stated, Nulls.CLEARED, base)

    async def _save(
        self,
        session: AsyncSession,
        actor: Actor,
        identity: Identity,
        stated: Statement,
        nulls: Nulls,
        base: str,
    ) -> Found:
        """Merge what the IdP states by the tenant's precedence (what it loses is a conflict)."""
        await check_manager(session, actor.tenant_id, stated, identity.manager_id)
        identity = await provisioning.restate(
            session, actor, SOURCE, identity, stated, expected_version=identity.version, nulls=nulls
        )
        return await self._found(session, identity, base)

    async def delete(
        self, session: AsyncSession, actor: Actor, ident: str, if_match: str | None
    ) -> None:
        """Soft-delete a user: gone from SCIM and every group, history kept."""
        identity = await service.get_identity(session, actor.tenant_id, ident)
        check_if_match(if_match, identity.version)
        await service.delete_identity(
            session, actor, identity.id, source=SOURCE, expected_version=identity.version
        )

"""The `basic` fallback: a small RBAC check on the identity store when no OPA can answer.

The subject (`input.subject.id`, `input.subject`, `input.user`, by id, user name or e-mail)
must be an active identity. Its permissions are its role names and (nested) group names, plus
whatever `basic_grants` maps those names to. It may do `action` on a resource of type `type` if
it holds `type:action`, `type:*`, `*:action` or `*:*`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from gatehouse.db.tenancy import TENANT
from gatehouse.distribution.fragments import role_names
from gatehouse.identity.graph import groups_of
from gatehouse.identity.models import Identity


def _name(value: Any, *keys: str) -> str | None:
    """A string, or the first string field of an object."""
    if isinstance(value, str | int) and str(value):
        return str(value)
    if isinstance(value, Mapping):
        for key in keys:
            if isinstance(value.get(key), str | int) and str(value[key]):
                return str(value[key])
    return None


def request_parts(input: Any) -> tuple[str, str, str] | None:
    """(subject, action, resource type) of an input, or None when one is missing."""
    if not isinstance(input, Mapping):
        return None
    subject = _name(input.get("subject"), "id", "name") or _name(
        input.get("user"), "id", "username", "name", "email"
    )
    action = _name(input.get("action"), "name", "id")
    resource = _name(input.get("resource"), "type")
    if subject is None or action is None or resource is None:
        return None
    return subject, action, resource


async def subject_names(session: AsyncSession, tenant_id: str, subject: str) -> set[str] | None:
    """Role and group names of an active identity, or None when there is no such identity."""
    stmt = (
        select(Identity)
        .where(
            Identity.tenant_id == tenant_id,
            Identity.deleted_at.is_(None),
            or_(
                Identity.id == subject,
                Identity.user_name_key == subject.lower(),
                func.lower(Identity.email) == subject.lower(),
            ),
        )
        .limit(2)
        .execution_options(**{TENANT: tenant_id})
    )
    found = (await session.execute(stmt)).scalars().all()
    if len(found) != 1 or found[0].status != "active":
        return None  # unknown, ambiguous or not active: no grant
    identity = found[0]
    names = set(role_names(identity.attributes.get("roles")))
    names.update(g.display_name for g in await groups_of(session, tenant_id, identity.id))
    return names


def permitted(names: set[str], grants: Mapping[str, list[str]], action: str, kind: str) -> bool:
    """Whether the names (and what `grants` gives them) include a matching permission."""
    held = set(names)
    for name in names:
        held.update(grants.get(name, ()))
    wanted = {f"{kind}:{action}", f"{kind}:*", f"*:{action}", "*:*"}
    return not held.isdisjoint(wanted)


async def allowed(
    session: AsyncSession, tenant_id: str, grants: Mapping[str, list[str]], input: Any
) -> bool:
    """The basic RBAC verdict for one input (false when the input lacks a part)."""
    parts = request_parts(input)
    if parts is None:
        return False
    subject, action, kind = parts
    names = await subject_names(session, tenant_id, subject)
    return names is not None and permitted(names, grants, action, kind)

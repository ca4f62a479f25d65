"""The policy store: tenants' Rego modules, every upload kept; the bundles' policy source."""

from __future__ import annotations

import posixpath
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from gatehouse.audit import service as audit
from gatehouse.audit.context import Actor
from gatehouse.db.engine import Database
from gatehouse.db.tenancy import TENANT
from gatehouse.decisions import opa
from gatehouse.decisions.embedded.compiler import check, package_of, syntax_tree
from gatehouse.decisions.models import Policy, PolicyVersion
from gatehouse.events.service import emit
from gatehouse.kit.problems import Problem

MAX_ID = 500


def not_found(policy_id: str) -> Problem:
    """OPA's 404 for a policy id."""
    return opa.error(404, "resource_not_found", f"storage_not_found_error: policy id {policy_id!r}")


def checked_id(policy_id: str) -> str:
    """A policy id that is safe as a bundle file path, or 400."""
    normal = posixpath.normpath(policy_id.strip("/")) if policy_id.strip("/") else ""
    if not normal or normal.startswith("..") or len(policy_id) > MAX_ID or "\x00" in policy_id:
        raise opa.error(400, "invalid_parameter", f"invalid policy id {policy_id!r}")
    return policy_id


def document(policy: Policy) -> dict[str, Any]:
    """OPA's policy object: `id`, `raw` and `ast` (regorus's syntax tree of the module)."""
    return {"id": policy.id, "raw": policy.raw, "ast": syntax_tree(policy.id, policy.raw)}


async def all_of(session: AsyncSession, tenant: str) -> Sequence[Policy]:
    """The tenant's policies, by id."""
    stmt = select(Policy).where(Policy.tenant_id == tenant).order_by(Policy.id)
    return (await session.scalars(stmt.execution_options(**{TENANT: tenant}))).all()


async def modules(session: AsyncSession, tenant: str) -> dict[str, str]:
    """Policy id → Rego source."""
    stmt = select(Policy.id, Policy.raw).where(Policy.tenant_id == tenant)
    rows = await session.execute(stmt.execution_options(**{TENANT: tenant}))
    return {str(pid): str(raw) for pid, raw in rows}


async def one(session: AsyncSession, tenant: str, policy_id: str) -> Policy | None:
    """One policy, or None."""
    stmt = select(Policy).where(Policy.tenant_id == tenant, Policy.id == policy_id)
    return (await session.scalars(stmt.execution_options(**{TENANT: tenant}))).one_or_none()


async def _next_version(session: AsyncSession, tenant: str, policy_id: str) -> int:
    stmt = select(func.max(PolicyVersion.version)).where(
        PolicyVersion.tenant_id == tenant, PolicyVersion.policy_id == policy_id
    )
    found = (await session.execute(stmt.execution_options(**{TENANT: tenant}))).scalar()
    return int(found or 0) + 1


def _versioned(
    session: AsyncSession, actor: Actor, policy_id: str, version: int, raw: str | None
) -> None:
    """Keep the upload (or deletion, `raw` None) as a version, with its event."""
    tenant = actor.tenant_id
    session.add(
        PolicyVersion(
            tenant_id=tenant,
            policy_id=policy_id,
            version=version,
            raw=raw,
            created_by=actor.actor[:100],
        )
    )
    verb = "updated" if raw is not None else "deleted"
    emit(session, tenant, f"policy.{verb}", "policy", policy_id[:64], {"id": policy_id})


async def put(
    session: AsyncSession, actor: Actor, policy_id: str, raw: str, rego_v0: bool = False
) -> Policy:
    """Create or replace a policy once it compiles with the tenant's others (OPA's 400 if not)."""
    tenant = actor.tenant_id
    current = await modules(session, tenant)
    before = current.get(policy_id)
    current[policy_id] = raw
    check(current, policy_id, rego_v0)
    version = await _next_version(session, tenant, policy_id)
    found = await one(session, tenant, policy_id)
    if found is None:
        found = Policy(tenant_id=tenant, id=policy_id, raw=raw)
        session.add(found)
    found.raw, found.package, found.version = raw, package_of(raw), version
    found.updated_by = actor.actor[:100]
    _versioned(session, actor, policy_id, version, raw)
    after = {"version": version, "package": found.package, "bytes": len(raw.encode())}
    prior = {"version": version - 1} if before is not None else None
    await audit.record(session, actor, "policy.put", "policy", policy_id, before=prior, after=after)
    await session.flush()
    return found


async def delete(session: AsyncSession, actor: Actor, policy_id: str) -> None:
    """Remove a policy (its versions stay, with a deletion recorded)."""
    tenant = actor.tenant_id
    found = await one(session, tenant, policy_id)
    if found is None:
        raise not_found(policy_id)
    version = await _next_version(session, tenant, policy_id)
    await session.delete(found)
    _versioned(session, actor, policy_id, version, None)
    before = {"version": found.version, "package": found.package}
    await audit.record(session, actor, "policy.delete", "policy", policy_id, before=before)


def bundle_path(policy_id: str) -> str:
    """Where a policy sits in a bundle (`.rego` added when the id lacks it)."""
    path = posixpath.normpath(policy_id.strip("/"))
    return path if path.endswith(".rego") else f"{path}.rego"


class StoredPolicies:
    """The distribution hub's `PolicySource`: the tenant's policies from the store."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def policies(self, tenant: str) -> dict[str, bytes]:
        """Bundle path → module source."""
        async with self.db.transaction(write=False) as session:
            found = await modules(session, tenant)
        return {bundle_path(pid): raw.encode() for pid, raw in sorted(found.items())}

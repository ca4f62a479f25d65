"""Conflicts for review: list them, and decide each one (accept, keep or dismiss).

A decision on an attribute's value pins that value as the `manual` source, which outranks
every source: later syncs do not overwrite it, and a different value they offer is raised as a
new conflict. Accepting an ambiguous match links the source's record to the identity chosen and
merges it there by precedence, as a correlation match would have.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from gatehouse.audit import service as audit
from gatehouse.audit.context import Actor
from gatehouse.conflicts.schemas import ResolveIn
from gatehouse.db.repository import TenantRepository
from gatehouse.identity import service as identities
from gatehouse.identity.correlation import merge_into, policy_for
from gatehouse.identity.merge import MANUAL
from gatehouse.identity.models import Conflict, Identity
from gatehouse.identity.schemas import IDENTITY_COLUMNS
from gatehouse.kit.problems import Problem, not_found


class ConflictRepository(TenantRepository[Conflict]):
    """One tenant's conflicts."""

    model = Conflict


@dataclass(frozen=True)
class ConflictFilter:
    """Which conflicts to list."""

    status: str | None = None
    kind: str | None = None
    source: str | None = None
    identity_id: str | None = None


async def list_conflicts(
    session: AsyncSession, tenant_id: str, flt: ConflictFilter, after: Any, limit: int
) -> Sequence[Conflict]:
    """A page of conflicts, oldest first."""
    repo = ConflictRepository(session, tenant_id)
    stmt = repo.select()
    if flt.status:
        stmt = stmt.where(Conflict.status == flt.status)
    if flt.kind:
        stmt = stmt.where(Conflict.kind == flt.kind)
    if flt.source:
        stmt = stmt.where(Conflict.source == flt.source)
    if flt.identity_id:
        stmt = stmt.where(Conflict.identity_id == flt.identity_id)
    return await repo.page(stmt, after, limit)


async def get_conflict(
    session: AsyncSession, tenant_id: str, conflict_id: str, *, lock: bool = False
) -> Conflict:
    """A conflict of the tenant, or 404 (`lock`: held until the transaction ends)."""
    stmt = ConflictRepository(session, tenant_id).select().where(Conflict.id == conflict_id)
    if lock:
        stmt = stmt.with_for_update()
    found = (await session.execute(stmt)).scalar_one_or_none()
    if found is None:
        raise not_found("conflict", conflict_id)
    return found


async def resolve(
    session: AsyncSession, actor: Actor, conflict_id: str, decision: ResolveIn
) -> Conflict:
    """Apply a decision to an open conflict; 409 when it was decided already."""
    conflict = await get_conflict(session, actor.tenant_id, conflict_id, lock=True)
    if conflict.status != "open":
        raise Problem(
            409,
            f"Conflict {conflict.id} was already {conflict.status} ({conflict.resolution}) by "
            f"{conflict.resolved_by} at {conflict.resolved_at:%Y-%m-%d %H:%M:%S} UTC.",
        )
    if decision.identity_id is not None and (
        conflict.kind != "ambiguous" or decision.action != "accept"
    ):
        raise _invalid("identity_id", "only accepting an ambiguous match takes an identity_id")
    if decision.action != "dismiss":
        if conflict.kind == "ambiguous":
            await _link(session, actor, conflict, decision)
        else:
            await _decide(session, actor, conflict, decision.action == "accept")
    conflict.status = "dismissed" if decision.action == "dismiss" else "resolved"
    conflict.resolution = decision.action
    conflict.resolved_at = datetime.now(UTC)
    conflict.resolved_by = actor.actor
    conflict.note = decision.note
    await audit.record(
        session,
        actor,
        "conflict.resolve",
        "conflict",
        conflict.id,
        before={"status": "open"},
        after={
            "action": decision.action,
            "kind": conflict.kind,
            "identity_id": conflict.identity_id,
            "attribute": conflict.attribute,
        },
    )
    return conflict


def _invalid(field: str, message: str) -> Problem:
    return Problem(
        422,
        f"The decision does not fit this conflict: {message}.",
        errors=[{"field": field, "message": message}],
    )


async def _live_identity(session: AsyncSession, tenant_id: str, identity_id: str) -> Identity:
    try:
        return await identities.get_identity(session, tenant_id, identity_id)
    except Problem:
        gone = await identities.get_identity(session, tenant_id, identity_id, include_deleted=True)
        raise Problem(
            409, f"Identity {gone.id} was deleted since; dismiss the conflict instead."
        ) from None


async def _decide(session: AsyncSession, actor: Actor, conflict: Conflict, accept: bool) -> None:
    """Take the offered value (accept) or the current one (keep), pinned as `manual`."""
    assert conflict.identity_id is not None
    identity = await _live_identity(session, actor.tenant_id, conflict.identity_id)
    name = conflict.attribute
    if accept:
        if name.startswith("attributes."):
            key, attributes = name.removeprefix("attributes."), dict(identity.attributes or {})
            if conflict.offered is None:
                attributes.pop(key, None)
            else:
                attributes[key] = conflict.offered
            changes: dict[str, Any] = {"attributes": attributes}
        elif name in IDENTITY_COLUMNS:
            changes = {name: conflict.offered}
        else:
            raise _invalid("action", f"{name!r} is not an attribute that can be set")
        await identities.update_identity(session, actor, identity.id, changes, source=MANUAL)
    identity.provenance = {**(identity.provenance or {}), name: MANUAL}


async def _link(
    session: AsyncSession, actor: Actor, conflict: Conflict, decision: ResolveIn
) -> None:
    """Link an ambiguous record to the chosen identity and merge it there by precedence."""
    if decision.action != "accept":
        raise _invalid(
            "action", "keep applies to attribute conflicts; accept with identity_id, or dismiss"
        )
    if decision.identity_id is None:
        raise _invalid("identity_id", "name the identity the record describes")
    tenant = actor.tenant_id
    identity = await identities.get_identity(session, tenant, decision.identity_id)
    await identities.link(session, tenant, conflict.source, conflict.external_id, identity.id)
    offered = conflict.offered if isinstance(conflict.offered, dict) else {}
    record = {k: v for k, v in offered.items() if k in IDENTITY_COLUMNS or k == "attributes"}
    policy = await policy_for(session, tenant)
    changes, lost = merge_into(identity, policy, conflict.source, conflict.external_id, record)
    session.add_all(lost)
    if changes:
        await identities.update_identity(
            session, actor, identity.id, changes, source=conflict.source
        )
    conflict.identity_id = identity.id

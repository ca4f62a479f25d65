"""Identities: the one service every source (SCIM, connectors, imports, webhooks) writes through."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from gatehouse.audit.context import Actor
from gatehouse.db.repository import TenantRepository
from gatehouse.db.tenancy import TENANT
from gatehouse.events.models import Event
from gatehouse.identity import risk
from gatehouse.identity.changes import changed_fields, record_change
from gatehouse.identity.models import (
    Identity,
    IdentityLink,
    Membership,
    RecordVersion,
    status_for,
)
from gatehouse.identity.schemas import IDENTITY_COLUMNS, IdentityData
from gatehouse.kit.problems import Problem, not_found


class IdentityRepository(TenantRepository[Identity]):
    """One tenant's identities."""

    model = Identity


def snapshot(identity: Identity) -> dict[str, Any]:
    """The recorded view of an identity: its attributes, status and version."""
    doc = {name: getattr(identity, name) for name in IDENTITY_COLUMNS}
    doc["status"] = identity.status
    doc["attributes"] = dict(identity.attributes or {})
    return doc


def _key(user_name: str) -> str:
    return user_name.strip().lower()


async def _ensure_unique(
    session: AsyncSession, tenant_id: str, user_name: str, own_id: str | None = None
) -> None:
    repo = IdentityRepository(session, tenant_id)
    stmt = repo.select().where(Identity.user_name_key == _key(user_name))
    clash = (await session.execute(stmt)).scalar_one_or_none()
    if clash is not None and clash.id != own_id:
        raise user_name_taken(user_name)


def user_name_taken(user_name: str) -> Problem:
    """409 uniqueness: the tenant has an identity with this userName (in any case)."""
    return Problem(
        409, f"userName {user_name!r} is already taken in this tenant.", scim_type="uniqueness"
    )


async def get_identity(
    session: AsyncSession, tenant_id: str, identity_id: str, *, include_deleted: bool = False
) -> Identity:
    """An identity of the tenant, or 404 (deleted ones only when asked)."""
    identity = await IdentityRepository(session, tenant_id).get(identity_id)
    if identity is None or (identity.status == "deleted" and not include_deleted):
        raise not_found("identity", identity_id)
    return identity


def check_version(identity_version: int, expected: int | None) -> None:
    """412 when the caller's expected version (If-Match) is not the current one."""
    if expected is not None and expected != identity_version:
        raise Problem(
            412,
            f"The record is at version {identity_version}, not {expected}; fetch it and retry.",
        )


async def create_identity(
    session: AsyncSession,
    actor: Actor,
    data: IdentityData,
    *,
    source: str,
    provenance: dict[str, str] | None = None,
    user_name_checked: bool = False,
) -> Identity:
    """Create an identity from a source's record and link the two (`user_name_checked`: the
    caller has seen the userName free in this transaction; the unique index still guards it)."""
    if not user_name_checked:
        await _ensure_unique(session, actor.tenant_id, data.user_name)
    fields = data.model_dump()
    identity = IdentityRepository(session, actor.tenant_id).add(
        Identity(
            **fields,
            user_name_key=_key(data.user_name),
            status=status_for(data.active),
            provenance=provenance or {},
            version=1,
        )
    )
    await session.flush()
    risk.score_new(session, identity)
    if data.external_id:
        await link(session, actor.tenant_id, source, data.external_id, identity.id)
    await record_change(
        session,
        actor,
        "identity.created",
        identity.id,
        1,
        source=source,
        before=None,
        after=snapshot(identity),
    )
    return identity


async def update_identity(
    session: AsyncSession,
    actor: Actor,
    identity_id: str,
    changes: dict[str, Any],
    *,
    source: str,
    expected_version: int | None = None,
) -> Identity:
    """Apply changed fields; a no-op change writes nothing and keeps the version."""
    identity = await get_identity(session, actor.tenant_id, identity_id)
    check_version(identity.version, expected_version)
    unknown = set(changes) - set(IDENTITY_COLUMNS) - {"attributes"}
    if unknown:
        raise Problem(400, f"Unknown identity fields: {sorted(unknown)}.", scim_type="invalidPath")
    before = snapshot(identity)
    proposed = {**before, **changes}
    diff = changed_fields(before, proposed)
    if not diff:
        return identity
    if "user_name" in diff:
        await _ensure_unique(session, actor.tenant_id, diff["user_name"], identity.id)
        identity.user_name_key = _key(diff["user_name"])
    for name, value in diff.items():
        setattr(identity, name, value)
    identity.status = status_for(identity.active)
    identity.version += 1
    await session.flush()
    await risk.recompute(session, identity)
    await record_change(
        session,
        actor,
        "identity.updated",
        identity.id,
        identity.version,
        source=source,
        before=before,
        after=snapshot(identity),
    )
    return identity


async def delete_identity(
    session: AsyncSession,
    actor: Actor,
    identity_id: str,
    *,
    source: str,
    expected_version: int | None = None,
) -> None:
    """Soft-delete: the identity leaves every group and stops being served, history stays."""
    identity = await get_identity(session, actor.tenant_id, identity_id)
    check_version(identity.version, expected_version)
    before = snapshot(identity)
    await _drop_memberships(session, actor.tenant_id, identity.id)
    identity.status, identity.active = "deleted", False
    identity.deleted_at = datetime.now(UTC)
    # Free the userName: an IdP may provision the same person again later.
    identity.user_name_key = f"{identity.user_name_key[:200]}#deleted#{identity.id}"
    identity.version += 1
    await session.flush()
    await record_change(
        session,
        actor,
        "identity.deleted",
        identity.id,
        identity.version,
        source=source,
        before=before,
        after=None,
    )


async def purge_identity(session: AsyncSession, actor: Actor, identity_id: str) -> None:
    """Erase an identity (right to be forgotten): the record, its links, its history's data."""
    tenant = actor.tenant_id
    identity = await get_identity(session, tenant, identity_id, include_deleted=True)
    await _drop_memberships(session, tenant, identity.id)
    scoped = {TENANT: tenant}
    await session.execute(
        delete(IdentityLink)
        .where(IdentityLink.tenant_id == tenant, IdentityLink.identity_id == identity.id)
        .execution_options(**scoped)
    )
    await session.execute(
        update(RecordVersion)
        .where(RecordVersion.tenant_id == tenant, RecordVersion.record_id == identity.id)
        .values(before=None, after=None)
        .execution_options(**scoped)
    )
    await session.execute(
        update(Event)
        .where(Event.tenant_id == tenant, Event.subject_id == identity.id)
        .values(payload={"id": identity.id, "purged": True})
        .execution_options(**scoped)
    )
    await session.delete(identity)
    await session.flush()
    await record_change(
        session,
        actor,
        "identity.purged",
        identity_id,
        0,
        source="operator",
        before=None,
        after=None,
    )


async def _drop_memberships(session: AsyncSession, tenant_id: str, identity_id: str) -> None:
    await session.execute(
        delete(Membership)
        .where(Membership.tenant_id == tenant_id, Membership.member_id == identity_id)
        .execution_options(**{TENANT: tenant_id})
    )


async def link(
    session: AsyncSession, tenant_id: str, source: str, external_id: str, identity_id: str
) -> None:
    """Record that a source's record describes this identity (idempotent)."""
    stmt = (
        select(IdentityLink)
        .where(
            IdentityLink.tenant_id == tenant_id,
            IdentityLink.source == source,
            IdentityLink.external_id == external_id,
        )
        .execution_options(**{TENANT: tenant_id})
    )
    existing = (await session.execute(stmt)).scalar_one_or_none()
    if existing is None:
        session.add(
            IdentityLink(
                tenant_id=tenant_id, source=source, external_id=external_id, identity_id=identity_id
            )
        )
    elif existing.identity_id != identity_id:
        owner = await IdentityRepository(session, tenant_id).get(existing.identity_id)
        if owner is not None and owner.status != "deleted":
            raise Problem(409, f"{source} record {external_id!r} is linked to another identity.")
        # The record described an identity since deleted; it describes this one now.
        existing.identity_id = identity_id


async def links_of(
    session: AsyncSession, tenant_id: str, identity_id: str
) -> Sequence[IdentityLink]:
    """Every source record linked to an identity."""
    stmt = (
        select(IdentityLink)
        .where(IdentityLink.tenant_id == tenant_id, IdentityLink.identity_id == identity_id)
        .order_by(IdentityLink.source, IdentityLink.external_id)
        .execution_options(**{TENANT: tenant_id})
    )
    return (await session.execute(stmt)).scalars().all()


async def history_of(
    session: AsyncSession, tenant_id: str, record_type: str, record_id: str
) -> Sequence[RecordVersion]:
    """A record's versions, newest first."""
    stmt = (
        select(RecordVersion)
        .where(
            RecordVersion.tenant_id == tenant_id,
            RecordVersion.record_type == record_type,
            RecordVersion.record_id == record_id,
        )
        .order_by(RecordVersion.id.desc())
        .limit(100)
        .execution_options(**{TENANT: tenant_id})
    )
    return (await session.execute(stmt)).scalars().all()

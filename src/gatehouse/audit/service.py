"""Append to, read, verify and export the audit log."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from gatehouse.audit.chain import GENESIS, chained_fields, entry_hash
from gatehouse.audit.context import Actor
from gatehouse.audit.models import AuditEntry, AuditHead
from gatehouse.db.tenancy import ALL_TENANTS, TENANT
from gatehouse.db.upsert import insert_ignore
from gatehouse.kit.masking import mask
from gatehouse.kit.pagination import MAX_LIMIT


@dataclass(frozen=True, slots=True)
class AuditFilter:
    """Optional filters for listing audit entries."""

    target_id: str | None = None
    actor: str | None = None
    action: str | None = None
    start: datetime | None = None
    end: datetime | None = None


@dataclass(frozen=True, slots=True)
class ChainReport:
    """The result of checking one tenant's chain."""

    tenant_id: str
    checked: int
    ok: bool
    broken_seq: int | None = None
    reason: str = ""


async def record(
    session: AsyncSession,
    actor: Actor,
    action: str,
    target_type: str,
    target_id: str,
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    outcome: str = "success",
) -> AuditEntry:
    """Append one entry to the actor's tenant chain, in the caller's transaction."""
    tenant = actor.tenant_id
    await insert_ignore(session, AuditHead, tenant_id=tenant, seq=0, hash=GENESIS)
    head = (
        await session.execute(
            select(AuditHead).where(AuditHead.tenant_id == tenant).with_for_update()
        )
    ).scalar_one()
    entry = AuditEntry(
        tenant_id=tenant,
        seq=head.seq + 1,
        at=datetime.now(UTC),
        actor=actor.actor,
        action=action,
        target_type=target_type,
        target_id=target_id,
        outcome=outcome,
        ip=actor.ip,
        user_agent=actor.user_agent[:500],
        request_id=actor.request_id,
        before=mask(before) if before is not None else None,
        after=mask(after) if after is not None else None,
        prev_hash=head.hash,
    )
    entry.hash = entry_hash(entry)
    head.seq, head.hash = entry.seq, entry.hash
    session.add(entry)
    await session.flush()
    return entry


def _filtered(tenant_id: str, flt: AuditFilter) -> Select[AuditEntry]:
    stmt = (
        select(AuditEntry)
        .where(AuditEntry.tenant_id == tenant_id)
        .execution_options(**{TENANT: tenant_id})
    )
    if flt.target_id:
        stmt = stmt.where(AuditEntry.target_id == flt.target_id)
    if flt.actor:
        stmt = stmt.where(AuditEntry.actor == flt.actor)
    if flt.action:
        stmt = stmt.where(AuditEntry.action == flt.action)
    if flt.start:
        stmt = stmt.where(AuditEntry.at >= flt.start)
    if flt.end:
        stmt = stmt.where(AuditEntry.at < flt.end)
    return stmt


async def list_entries(
    session: AsyncSession, tenant_id: str, flt: AuditFilter, before_id: int | None, limit: int
) -> Sequence[AuditEntry]:
    """Newest first; one more than `limit` so the caller knows whether another page exists."""
    stmt = _filtered(tenant_id, flt)
    if before_id is not None:
        stmt = stmt.where(AuditEntry.id < before_id)
    stmt = stmt.order_by(AuditEntry.id.desc()).limit(min(limit, MAX_LIMIT) + 1)
    return (await session.execute(stmt)).scalars().all()


async def chains(session: AsyncSession) -> list[str]:
    """Every tenant id that has an audit chain."""
    rows = await session.execute(select(AuditHead.tenant_id).order_by(AuditHead.tenant_id))
    return list(rows.scalars().all())


async def iter_chain(
    session: AsyncSession, tenant_id: str, batch: int = 1000
) -> AsyncIterator[AuditEntry]:
    """Every entry of a chain in order, read in batches."""
    last = 0
    while True:
        stmt = (
            _filtered(tenant_id, AuditFilter())
            .where(AuditEntry.seq > last)
            .order_by(AuditEntry.seq)
            .limit(batch)
        )
        rows = (await session.execute(stmt)).scalars().all()
        if not rows:
            return
        for row in rows:
            yield row
        last = rows[-1].seq


async def count(session: AsyncSession, tenant_id: str | None = None) -> int:
    """Number of entries, in one chain or in all."""
    stmt = select(func.count()).select_from(AuditEntry).execution_options(**{ALL_TENANTS: True})
    if tenant_id:
        stmt = stmt.where(AuditEntry.tenant_id == tenant_id)
    return int((await session.execute(stmt)).scalar_one())


async def verify_chain(session: AsyncSession, tenant_id: str) -> ChainReport:
    """Recompute a chain and report the first entry that was changed, removed or reordered."""
    prev, expected_seq, checked = GENESIS, 1, 0
    async for entry in iter_chain(session, tenant_id):
        if entry.seq != expected_seq:
            return ChainReport(
                tenant_id, checked, False, expected_seq, f"entry {expected_seq} is missing"
            )
        if entry.prev_hash != prev:
            return ChainReport(
                tenant_id, checked, False, entry.seq, "link to the previous entry is broken"
            )
        if entry_hash(entry) != entry.hash:
            return ChainReport(
                tenant_id, checked, False, entry.seq, "entry was changed after it was written"
            )
        prev, expected_seq, checked = entry.hash, expected_seq + 1, checked + 1
    head = await session.get(AuditHead, tenant_id)
    if head is not None and (head.seq != checked or head.hash != prev):
        return ChainReport(
            tenant_id, checked, False, checked + 1, "entries after this point were removed"
        )
    return ChainReport(tenant_id, checked, True)


def entry_doc(entry: AuditEntry) -> dict[str, Any]:
    """An entry as a plain JSON document (what export writes)."""
    return {"id": entry.id, **chained_fields(entry), "hash": entry.hash}

"""The durable publish queue: one pending DataUpdate per tenant, claimed under a lease, retried."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Select, and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from gatehouse.db.engine import Database
from gatehouse.db.tenancy import ALL_TENANTS, TENANT
from gatehouse.events.service import emit
from gatehouse.opal.models import OpalPublish, OpalReport
from gatehouse.tenants.status import runs_for

WAITING = ("pending", "sending")


async def enqueue(
    session: AsyncSession,
    tenant: str,
    revision: int,
    trigger: str,
    reason: str,
    *,
    connection_id: str | None = None,
    due: datetime | None = None,
) -> OpalPublish:
    """Queue a publish, or fold it into the tenant's pending one (OPAL fetches the whole
    document, so one update covers every change made before it is sent)."""
    stmt = (
        select(OpalPublish)
        .where(OpalPublish.tenant_id == tenant, OpalPublish.status == "pending")
        .order_by(OpalPublish.created_at)
        .limit(1)
    )
    row = (await session.execute(stmt.execution_options(**{TENANT: tenant}))).scalar()
    now = datetime.now(UTC)
    if row is not None:
        row.revision = max(row.revision, revision)
        row.reason = reason[:500]
        if trigger != "change":  # someone asked: send now, as asked
            row.trigger, row.connection_id, row.due_at = trigger, connection_id, now
        return row
    row = OpalPublish(
        tenant_id=tenant,
        connection_id=connection_id,
        trigger=trigger,
        reason=reason[:500],
        revision=revision,
        due_at=due or now,
        created_at=now,
    )
    session.add(row)
    await session.flush()
    return row


async def last_revision(session: AsyncSession, tenant: str) -> int:
    """The newest revision any publish of the tenant covers (-1: none yet)."""
    stmt = select(func.max(OpalPublish.revision)).where(OpalPublish.tenant_id == tenant)
    found = (await session.execute(stmt.execution_options(**{TENANT: tenant}))).scalar()
    return -1 if found is None else int(found)


async def last_attempt(session: AsyncSession, tenant: str) -> datetime | None:
    """When the tenant last tried to publish."""
    stmt = select(func.max(OpalPublish.last_attempt_at)).where(OpalPublish.tenant_id == tenant)
    found: datetime | None = (
        await session.execute(stmt.execution_options(**{TENANT: tenant}))
    ).scalar()
    return found if found is None or found.tzinfo else found.replace(tzinfo=UTC)


def _claimable(now: datetime) -> Select[OpalPublish]:
    return (
        select(OpalPublish)
        .where(
            or_(
                and_(OpalPublish.status == "pending", OpalPublish.due_at <= now),
                and_(OpalPublish.status == "sending", OpalPublish.lease_expires_at < now),
            ),
            runs_for(OpalPublish.tenant_id),
        )
        .order_by(OpalPublish.due_at)
        .limit(1)
        .execution_options(**{ALL_TENANTS: True})
    )


async def claim(db: Database, owner: str, lease_seconds: float) -> OpalPublish | None:
    """Take the publish due longest, or one whose sender stopped without finishing."""
    now = datetime.now(UTC)
    async with db.transaction(write=False) as session:  # idle publishers take no write lock
        if (await session.execute(_claimable(now))).first() is None:
            return None
    async with db.transaction() as session:
        stmt = _claimable(now)
        if not db.is_sqlite:  # SQLite serialises writers with BEGIN IMMEDIATE instead
            stmt = stmt.with_for_update(skip_locked=True)
        row = (await session.execute(stmt)).scalar_one_or_none()
        if row is None:
            return None
        row.status, row.lease_owner = "sending", owner
        row.lease_expires_at = now + timedelta(seconds=lease_seconds)
        row.attempts += 1
        row.last_attempt_at = now
        await session.flush()
        session.expunge(row)
        return row


async def finish(db: Database, row: OpalPublish, owner: str, **values: Any) -> bool:
    """Record how an attempt went, if we still hold it (a delivery with its `opal.published`
    event); False when the lease was lost."""
    async with db.transaction() as session:
        stmt = (
            update(OpalPublish)
            .where(OpalPublish.tenant_id == row.tenant_id, OpalPublish.id == row.id)
            .where(OpalPublish.lease_owner == owner, OpalPublish.status == "sending")
            .values(lease_owner=None, lease_expires_at=None, **values)
            .execution_options(**{TENANT: row.tenant_id})
        )
        result = await session.execute(stmt)
        held = getattr(result, "rowcount", 0) == 1
        if held and values.get("status") == "delivered":
            data = published(row, values)
            emit(session, row.tenant_id, "opal.published", "opal_update", row.id, data)
        return held


def published(row: OpalPublish, values: dict[str, Any]) -> dict[str, Any]:
    """The `opal.published` data of a delivered publish (its stored update has no tokens)."""
    entries = (values.get("update") or {}).get("entries", [])
    topics = [t for entry in entries for t in entry.get("topics", [])]
    return {
        "tenant": row.tenant_id,
        "update_id": row.id,
        "revision": int(values.get("revision", row.revision)),
        "trigger": row.trigger,
        "connection_id": row.connection_id,
        "reason": row.reason,
        "attempts": row.attempts,
        "response_status": values.get("response_status"),
        "topics": list(dict.fromkeys(topics)),
    }


def backoff(attempts: int, longest: float) -> float:
    """Seconds before the next attempt: 1, 2, 4, ... up to `longest`."""
    return float(min(longest, 2 ** min(attempts - 1, 30)))


async def recent(
    session: AsyncSession, tenant: str, connection_id: str | None, limit: int
) -> Sequence[OpalPublish]:
    """The tenant's newest publishes (of one connection when named)."""
    stmt = select(OpalPublish).where(OpalPublish.tenant_id == tenant)
    if connection_id is not None:
        stmt = stmt.where(OpalPublish.connection_id == connection_id)
    stmt = stmt.order_by(OpalPublish.created_at.desc(), OpalPublish.id.desc()).limit(limit)
    return (await session.execute(stmt.execution_options(**{TENANT: tenant}))).scalars().all()


async def counts(session: AsyncSession, tenant: str) -> dict[str, int]:
    """How many publishes the tenant has in each status."""
    stmt = (
        select(OpalPublish.status, func.count())
        .where(OpalPublish.tenant_id == tenant)
        .group_by(OpalPublish.status)
    )
    rows = await session.execute(stmt.execution_options(**{TENANT: tenant}))
    return {status: int(n) for status, n in rows.all()}


async def last_delivered(session: AsyncSession, tenant: str) -> OpalPublish | None:
    """The tenant's newest delivered publish."""
    stmt = (
        select(OpalPublish)
        .where(OpalPublish.tenant_id == tenant, OpalPublish.status == "delivered")
        .order_by(OpalPublish.delivered_at.desc())
        .limit(1)
    )
    # Fresh values even if `recent()` loaded this row earlier in the session, while it was
    # still being sent (READ COMMITTED sees the delivery; the identity map would not).
    options = {TENANT: tenant, "populate_existing": True}
    return (await session.execute(stmt.execution_options(**options))).scalar()


async def reports(
    session: AsyncSession, tenant: str, update_ids: Sequence[str] | None, limit: int
) -> Sequence[OpalReport]:
    """The tenant's newest OPAL client reports (about these updates when named)."""
    stmt = select(OpalReport).where(OpalReport.tenant_id == tenant)
    if update_ids is not None:
        stmt = stmt.where(OpalReport.update_id.in_(list(update_ids)))
    stmt = stmt.order_by(OpalReport.seq.desc()).limit(limit)
    return (await session.execute(stmt.execution_options(**{TENANT: tenant}))).scalars().all()

"""The delivery queue: due deliveries claimed under a lease, finished by their holder only."""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, and_, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from gatehouse.audit import service as audit
from gatehouse.audit.context import Actor
from gatehouse.db.engine import Database
from gatehouse.db.tenancy import ALL_TENANTS, TENANT
from gatehouse.kit.problems import Problem
from gatehouse.webhooks.models import WebhookAttempt, WebhookDelivery

JITTER = 0.2


def _claimable(now: datetime, limit: int) -> Select[WebhookDelivery]:
    earlier = aliased(WebhookDelivery)
    waiting = (
        select(earlier.id)
        .where(
            earlier.tenant_id == WebhookDelivery.tenant_id,
            earlier.endpoint_id == WebhookDelivery.endpoint_id,
            earlier.event_id < WebhookDelivery.event_id,
            earlier.status.in_(("pending", "sending")),
        )
        .exists()
    )
    return (
        select(WebhookDelivery)
        .where(
            or_(
                and_(WebhookDelivery.status == "pending", WebhookDelivery.due_at <= now),
                and_(WebhookDelivery.status == "sending", WebhookDelivery.lease_expires_at < now),
            ),
            or_(WebhookDelivery.ordered.is_(False), ~waiting),
        )
        .order_by(WebhookDelivery.due_at, WebhookDelivery.id)
        .limit(limit)
        .execution_options(**{ALL_TENANTS: True})
    )


async def claim(
    db: Database, owner: str, now: datetime, lease: timedelta, limit: int
) -> list[WebhookDelivery]:
    """Take up to `limit` due deliveries (or ones whose sender stopped) under a lease."""
    async with db.transaction(write=False) as session:  # idle workers take no write lock
        if (await session.execute(_claimable(now, 1))).first() is None:
            return []
    async with db.transaction() as session:
        stmt = _claimable(now, limit)
        if not db.is_sqlite:  # SQLite serialises writers with BEGIN IMMEDIATE instead
            stmt = stmt.with_for_update(skip_locked=True)
        rows = list((await session.execute(stmt)).scalars())
        for row in rows:
            row.status, row.lease_owner = "sending", owner
            row.lease_expires_at = now + lease
            row.attempts += 1
        await session.flush()
        for row in rows:
            session.expunge(row)
        return rows


async def finish(session: AsyncSession, row: WebhookDelivery, owner: str, **values: Any) -> bool:
    """Record how an attempt went, if we still hold it; False when the lease was lost."""
    stmt = (
        update(WebhookDelivery)
        .where(WebhookDelivery.tenant_id == row.tenant_id, WebhookDelivery.id == row.id)
        .where(WebhookDelivery.lease_owner == owner, WebhookDelivery.status == "sending")
        .values(lease_owner=None, lease_expires_at=None, **values)
        .execution_options(**{TENANT: row.tenant_id})
    )
    result = await session.execute(stmt)
    return getattr(result, "rowcount", 0) == 1


def next_wait(
    policy: str,
    attempts: int,
    max_retries: int,
    schedule: Sequence[float],
    linear: float,
    rng: random.Random,
) -> float | None:
    """Seconds until the next attempt after `attempts` tries, or None: give up."""
    if policy == "no_retry" or attempts > max_retries:
        return None
    if policy == "linear":
        base = linear
    elif attempts < len(schedule):
        base = schedule[attempts]
    else:
        return None
    return base * rng.uniform(1 - JITTER, 1 + JITTER)


def _again(now: datetime) -> dict[str, Any]:
    """What sends a finished delivery again: due now, its attempts counted afresh."""
    return {"status": "pending", "due_at": now, "attempts": 0, "finished_at": None}


async def requeue(
    session: AsyncSession, tenant: str, endpoint_id: str, since: datetime, now: datetime
) -> int:
    """Queue again every delivery to an endpoint that failed since a time, each as a new
    series of attempts."""
    stmt = (
        update(WebhookDelivery)
        .where(
            WebhookDelivery.tenant_id == tenant,
            WebhookDelivery.endpoint_id == endpoint_id,
            WebhookDelivery.status == "failed",
            WebhookDelivery.created_at >= since,
        )
        .values(**_again(now), series=WebhookDelivery.series + 1)
    )
    result = await session.execute(stmt.execution_options(**{TENANT: tenant}))
    return int(getattr(result, "rowcount", 0))


async def resend(
    session: AsyncSession, actor: Actor, endpoint_id: str, delivery_id: str, now: datetime
) -> WebhookDelivery:
    """Queue one finished delivery again as a new series of attempts (the earlier series
    stays in its attempts), or 404/409."""
    tenant = actor.tenant_id
    stmt = select(WebhookDelivery).where(
        WebhookDelivery.tenant_id == tenant,
        WebhookDelivery.endpoint_id == endpoint_id,
        WebhookDelivery.id == delivery_id,
    )
    row = (await session.execute(stmt.execution_options(**{TENANT: tenant}))).scalar()
    if row is None:
        raise Problem(404, f"No delivery {delivery_id!r} to this endpoint.")
    if row.status not in ("delivered", "failed"):
        raise Problem(409, f"The delivery is {row.status}: it is queued already.")
    for name, value in _again(now).items():
        setattr(row, name, value)
    row.series += 1
    await session.flush()
    after = {"endpoint_id": endpoint_id, "event_type": row.event_type, "series": row.series}
    await audit.record(session, actor, "webhook.resend", "webhook_delivery", row.id, after=after)
    return row


async def success(session: AsyncSession, tenant: str, endpoint_id: str) -> tuple[int, int]:
    """How many attempts an endpoint has seen, and how many were answered 2xx."""
    stmt = select(func.count(), func.count().filter(WebhookAttempt.succeeded.is_(True))).where(
        WebhookAttempt.tenant_id == tenant, WebhookAttempt.endpoint_id == endpoint_id
    )
    total, good = (await session.execute(stmt.execution_options(**{TENANT: tenant}))).one()
    return int(total), int(good)


async def purge(db: Database, before: datetime) -> int:
    """Delete attempts, and finished deliveries, older than `before`; how many rows went."""
    async with db.transaction() as session:
        opts = {ALL_TENANTS: True}
        old = delete(WebhookAttempt).where(WebhookAttempt.created_at < before)
        gone = await session.execute(old.execution_options(**opts))
        done = delete(WebhookDelivery).where(
            WebhookDelivery.status.in_(("delivered", "failed")),
            WebhookDelivery.created_at < before,
        )
        also = await session.execute(done.execution_options(**opts))
        return int(getattr(gone, "rowcount", 0)) + int(getattr(also, "rowcount", 0))


async def failing_since(session: AsyncSession, tenant: str, endpoint_id: str) -> datetime | None:
    """When the endpoint's current run of failed attempts began (None: its last one succeeded)."""
    mine = (WebhookAttempt.tenant_id == tenant, WebhookAttempt.endpoint_id == endpoint_id)
    opts = {TENANT: tenant}
    good = select(func.max(WebhookAttempt.created_at)).where(*mine, WebhookAttempt.succeeded)
    last_good = (await session.execute(good.execution_options(**opts))).scalar()
    bad = select(func.min(WebhookAttempt.created_at)).where(
        *mine, WebhookAttempt.succeeded.is_(False)
    )
    if last_good is not None:
        bad = bad.where(WebhookAttempt.created_at > last_good)
    found: datetime | None = (await session.execute(bad.execution_options(**opts))).scalar()
    return found


async def attempts_page(
    session: AsyncSession, tenant: str, endpoint_id: str, after: str | int | None, limit: int
) -> Sequence[WebhookAttempt]:
    """A page of an endpoint's attempts, oldest first."""
    stmt = select(WebhookAttempt).where(
        WebhookAttempt.tenant_id == tenant, WebhookAttempt.endpoint_id == endpoint_id
    )
    if after is not None:
        stmt = stmt.where(WebhookAttempt.id > str(after))
    stmt = stmt.order_by(WebhookAttempt.id).limit(limit + 1)
    return (await session.execute(stmt.execution_options(**{TENANT: tenant}))).scalars().all()

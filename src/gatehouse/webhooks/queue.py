"""The delivery queue: due deliveries claimed under a lease, finished by their holder only.

The worker's hot path is set-based: one UPDATE ... RETURNING claims a batch, one UPDATE per
shape of outcome releases it (run over many rows), one INSERT records its attempts.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Table,
    and_,
    bindparam,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from gatehouse.audit import service as audit
from gatehouse.audit.context import Actor
from gatehouse.db.engine import Database
from gatehouse.db.tenancy import ALL_TENANTS, TENANT
from gatehouse.kit.problems import Problem
from gatehouse.tenants.status import runs_for
from gatehouse.webhooks.models import WebhookAttempt, WebhookDelivery

JITTER = 0.2


DELIVERIES = cast(Table, WebhookDelivery.__table__)
ATTEMPTS = cast(Table, WebhookAttempt.__table__)
ANY_TENANT = {ALL_TENANTS: True}


@dataclass(slots=True)
class Claimed:
    """A delivery taken under a lease: what sending it needs (`attempts` counts this one)."""

    id: str
    tenant_id: str
    endpoint_id: str
    event_type: str
    body: dict[str, Any]
    attempts: int
    due_at: datetime
    series: int


def _claimable(now: datetime) -> ColumnElement[bool]:
    d = DELIVERIES.c
    earlier = DELIVERIES.alias("earlier")
    waiting = (
        select(earlier.c.id)
        .where(
            earlier.c.tenant_id == d.tenant_id,
            earlier.c.endpoint_id == d.endpoint_id,
            earlier.c.event_id < d.event_id,
            earlier.c.status.in_(("pending", "sending")),
        )
        .exists()
    )
    return and_(
        or_(
            and_(d.status == "pending", d.due_at <= now),
            and_(d.status == "sending", d.lease_expires_at < now),
        ),
        or_(d.ordered.is_(False), ~waiting),
        runs_for(d.tenant_id),  # a suspended tenant's deliveries wait; a deleted one's failed
    )


async def due(db: Database, now: datetime) -> bool:
    """Whether any delivery can be claimed now (a read: idle workers take no write lock)."""
    async with db.transaction(write=False) as session:
        stmt = select(DELIVERIES.c.id).where(_claimable(now)).limit(1)
        return (await session.execute(stmt, execution_options=ANY_TENANT)).first() is not None


async def soonest(db: Database, now: datetime) -> datetime | None:
    """When, after `now`, the earliest waiting delivery falls due or its sender's lease runs
    out (a read; deliveries already due but held back, ordered ones, do not count)."""
    d = DELIVERIES.c
    pending = select(func.min(d.due_at)).where(d.status == "pending", d.due_at > now)
    leased = select(func.min(d.lease_expires_at)).where(
        d.status == "sending", d.lease_expires_at > now
    )
    async with db.transaction(write=False) as session:
        both = select(pending.scalar_subquery(), leased.scalar_subquery())
        row = (await session.execute(both, execution_options=ANY_TENANT)).one()
    times = [t if t.tzinfo else t.replace(tzinfo=UTC) for t in row if t is not None]
    return min(times, default=None)


async def claim(
    session: AsyncSession, owner: str, now: datetime, lease: timedelta, limit: int
) -> list[Claimed]:
    """Take up to `limit` due deliveries (or ones whose sender stopped) under a lease, in one
    statement; the earliest due first. On PostgreSQL rows another worker holds are skipped."""
    d = DELIVERIES.c
    chosen = select(d.id).where(_claimable(now)).order_by(d.due_at, d.id).limit(limit)
    if session.get_bind().dialect.name != "sqlite":  # SQLite: BEGIN IMMEDIATE serialises
        chosen = chosen.with_for_update(skip_locked=True)
    stmt = (
        update(DELIVERIES)
        .where(d.id.in_(chosen))
        .values(
            status="sending",
            lease_owner=owner,
            lease_expires_at=now + lease,
            attempts=d.attempts + 1,
        )
        .returning(
            d.id, d.tenant_id, d.endpoint_id, d.event_type, d.body, d.attempts, d.due_at, d.series
        )
    )
    rows = [Claimed(*row) for row in await session.execute(stmt, execution_options=ANY_TENANT)]
    rows.sort(key=lambda r: (r.due_at, r.id))
    return rows


async def held(session: AsyncSession, owner: str, ids: Sequence[str]) -> set[str]:
    """Which of these deliveries this owner still holds (locked until commit on PostgreSQL)."""
    d = DELIVERIES.c
    stmt = select(d.id).where(d.id.in_(ids), d.lease_owner == owner, d.status == "sending")
    if session.get_bind().dialect.name != "sqlite":
        stmt = stmt.with_for_update()
    return set((await session.execute(stmt, execution_options=ANY_TENANT)).scalars())


async def finish(
    session: AsyncSession, owner: str, outcomes: Sequence[tuple[str, dict[str, Any]]]
) -> None:
    """Release held deliveries with the values each attempt left them with: one statement for
    each shape of values (delivered or retried, failed unsent, put back), run over many rows."""
    shapes: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
    for delivery_id, values in outcomes:
        shapes[tuple(sorted(values))].append(
            {"b_id": delivery_id, **{f"b_{k}": v for k, v in values.items()}}
        )
    d = DELIVERIES.c
    for names, params in shapes.items():
        stmt = (
            update(DELIVERIES)
            .where(d.id == bindparam("b_id"), d.lease_owner == owner, d.status == "sending")
            .values(
                lease_owner=None,
                lease_expires_at=None,
                **{name: bindparam(f"b_{name}", type_=d[name].type) for name in names},
            )
        )
        await session.execute(stmt, params, execution_options=ANY_TENANT)


async def record(session: AsyncSession, attempts: Sequence[dict[str, Any]]) -> None:
    """Insert attempt rows (one statement)."""
    if attempts:
        await session.execute(insert(ATTEMPTS), list(attempts), execution_options=ANY_TENANT)


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

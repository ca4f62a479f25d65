"""Decision-log retention: records older than the configured age are deleted in batches."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import structlog
from sqlalchemy import delete, select

from gatehouse.audit import service as audit
from gatehouse.audit.context import Actor
from gatehouse.db.base import utcnow
from gatehouse.db.engine import Database
from gatehouse.db.tenancy import TENANT
from gatehouse.fleet.models import DecisionRecord
from gatehouse.tenants.models import Tenant

log = structlog.get_logger("gatehouse.fleet")
BATCH = 5_000
# Who the audit log names for the server's own purges.
ACTOR = "system:retention"


async def purge_tenant(
    db: Database, tenant: str, older_than: timedelta, batch: int, by: str = ACTOR
) -> int:
    """Delete one tenant's decisions made before `older_than` ago, each batch audited in the
    tenant's chain with its deletion; how many went."""
    cutoff = utcnow() - older_than
    actor = Actor(tenant, by)
    total = 0
    while True:
        async with db.transaction() as session:
            session.info[TENANT] = tenant
            seqs = list(
                await session.scalars(
                    select(DecisionRecord.seq)
                    .where(DecisionRecord.decided_at < cutoff)
                    .limit(batch)
                )
            )
            if seqs:
                await session.execute(delete(DecisionRecord).where(DecisionRecord.seq.in_(seqs)))
                after = {"deleted": len(seqs), "decided_before": cutoff.isoformat()}
                await audit.record(
                    session, actor, "decision_log.purge", "decision_log", "", after=after
                )
        total += len(seqs)
        if len(seqs) < batch:
            return total


async def purge(db: Database, older_than: timedelta, batch: int = BATCH, by: str = ACTOR) -> int:
    """Delete every tenant's decisions older than `older_than`; how many went."""
    async with db.transaction(write=False) as session:
        tenants = list(await session.scalars(select(Tenant.id)))
    total = 0
    for tenant in tenants:
        total += await purge_tenant(db, tenant, older_than, batch, by)
    return total


async def run(db: Database, days: int, every: float, stop: asyncio.Event) -> None:
    """Purge every `every` seconds until `stop` is set (0 days keeps everything)."""
    while days > 0:
        try:
            await asyncio.wait_for(stop.wait(), every)
            return
        except TimeoutError:
            pass
        try:
            removed = await purge(db, timedelta(days=days))
        except Exception:  # the next round tries again; the service keeps running
            log.exception("decision log purge failed")
            continue
        if removed:
            log.info("decision log purged", removed=removed, older_than_days=days)

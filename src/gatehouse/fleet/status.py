"""OPA status reports: the latest state per instance, and the fleet view against what is served."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from gatehouse.db.tenancy import TENANT
from gatehouse.db.upsert import insert_ignore
from gatehouse.fleet.models import OpaInstance
from gatehouse.fleet.revisions import RevisionSource
from gatehouse.fleet.schemas import OpaBundleStatus, OpaStatusReport

# Gatehouse's own notes kept beside OPA's fields in each stored bundle status.
SEEN = "revision_seen_at"
NOTICED = "behind_noticed_at"


def reported_bundles(report: OpaStatusReport) -> dict[str, OpaBundleStatus]:
    """The bundles of a report by name (OPA before bulk status sent one `bundle`)."""
    bundles = dict(report.bundles or {})
    if report.bundle is not None and not bundles:
        bundles[report.bundle.name or "bundle"] = report.bundle
    return bundles


async def bundle_state(
    source: RevisionSource,
    tenant_id: str,
    name: str,
    status: OpaBundleStatus,
    before: dict[str, Any] | None,
    now: datetime,
) -> dict[str, Any]:
    """OPA's status of one bundle with when its revision was first seen, and first seen behind."""
    state = status.model_dump(mode="json")
    kept = before if before and before.get("active_revision") == status.active_revision else {}
    fresh = now.isoformat() if status.active_revision else None
    state[SEEN] = kept.get(SEEN) or fresh
    served = await source.current(tenant_id, name)
    behind = served is not None and served.revision != status.active_revision
    state[NOTICED] = (kept.get(NOTICED) or now.isoformat()) if behind else None
    return state


async def record(
    session: AsyncSession,
    tenant_id: str,
    report: OpaStatusReport,
    partition: str,
    source: RevisionSource,
    now: datetime,
) -> OpaInstance:
    """Keep a report as its instance's latest state (created on its first report)."""
    instance_id = report.labels["id"]
    await insert_ignore(
        session,
        OpaInstance,
        tenant_id=tenant_id,
        instance_id=instance_id,
        first_seen_at=now,
        last_report_at=now,
        reports=0,
    )
    stmt = (
        select(OpaInstance)
        .where(OpaInstance.tenant_id == tenant_id, OpaInstance.instance_id == instance_id)
        .with_for_update()
        .execution_options(**{TENANT: tenant_id})
    )
    row = (await session.execute(stmt)).scalar_one()
    previous = row.bundles or {}
    row.bundles = {
        name: await bundle_state(source, tenant_id, name, status, previous.get(name), now)
        for name, status in reported_bundles(report).items()
    }
    row.version = report.labels.get("version", "")[:100]
    row.labels = report.labels
    row.partition = partition
    row.discovery = report.discovery.model_dump(mode="json") if report.discovery else None
    row.decision_logs = report.decision_logs
    row.plugins = {k: v.model_dump(mode="json") for k, v in (report.plugins or {}).items()}
    row.metrics = report.metrics
    row.last_report_at = now
    row.reports += 1
    return row


@dataclass(frozen=True, slots=True)
class FleetCounts:
    """How many instances a tenant has, and how many went silent."""

    instances: int
    stale: int


async def instances(
    session: AsyncSession,
    tenant_id: str,
    after: str | None,
    limit: int,
    cutoff: datetime,
    stale: bool | None = None,
) -> Sequence[OpaInstance]:
    """A page of the tenant's instances by id: all, or only those silent since `cutoff`
    (`stale` true) or only those that reported since (`stale` false)."""
    stmt = select(OpaInstance).where(OpaInstance.tenant_id == tenant_id)
    if after is not None:
        stmt = stmt.where(OpaInstance.instance_id > after)
    if stale is True:
        stmt = stmt.where(OpaInstance.last_report_at < cutoff)
    elif stale is False:
        stmt = stmt.where(OpaInstance.last_report_at >= cutoff)
    stmt = stmt.order_by(OpaInstance.instance_id).limit(limit)
    return (await session.scalars(stmt.execution_options(**{TENANT: tenant_id}))).all()


async def counts(session: AsyncSession, tenant_id: str, silent_before: datetime) -> FleetCounts:
    """Instances of the tenant, and how many have not reported since `silent_before`."""
    stale = func.count().filter(OpaInstance.last_report_at < silent_before)
    stmt = select(func.count(), stale).where(OpaInstance.tenant_id == tenant_id)
    total, silent = (await session.execute(stmt.execution_options(**{TENANT: tenant_id}))).one()
    return FleetCounts(int(total), int(silent))

"""What the OPAL status routes show: publishes, their outcome, and OPAL clients' reports."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from gatehouse.audit.context import Actor
from gatehouse.opal import queue, service
from gatehouse.opal.models import OpalPublish, OpalReport
from gatehouse.opal.schemas import DataUpdateReport, OpalStatusOut, PublishOut, ReportOut


def publish_out(row: OpalPublish) -> PublishOut:
    """A publish as the API shows it (the stored update carries no token)."""
    return PublishOut(
        id=row.id,
        connection_id=row.connection_id,
        trigger=row.trigger,
        reason=row.reason,
        revision=row.revision,
        status=row.status,
        attempts=row.attempts,
        last_error=row.last_error,
        response_status=row.response_status,
        created_at=row.created_at,
        due_at=row.due_at,
        last_attempt_at=row.last_attempt_at,
        delivered_at=row.delivered_at,
        update=row.update,
    )


def report_out(row: OpalReport) -> ReportOut:
    """A stored client report."""
    return ReportOut(
        update_id=row.update_id,
        received_at=row.received_at,
        succeeded=row.succeeded,
        entries=row.entries,
        reporter=row.reporter,
    )


async def status_of(
    session: AsyncSession, tenant: str, revision: int, connection_id: str | None, limit: int
) -> OpalStatusOut:
    """The tenant's (or one connection's) recent publishes, counts and client reports."""
    row = await service.settings_row(session, tenant)
    publishes = await queue.recent(session, tenant, connection_id, limit)
    counts = await queue.counts(session, tenant)
    last = await queue.last_delivered(session, tenant)
    ids = [p.id for p in publishes] if connection_id is not None else None
    reports = await queue.reports(session, tenant, ids, limit)
    return OpalStatusOut(
        enabled=bool(row and row.config.get("enabled")),
        revision=revision,
        pending=counts.get("pending", 0) + counts.get("sending", 0),
        failed=counts.get("failed", 0),
        last_delivered=publish_out(last) if last else None,
        publishes=[publish_out(p) for p in publishes],
        reports=[report_out(r) for r in reports],
    )


def store_report(
    session: AsyncSession, actor: Actor, report: DataUpdateReport, reporter: str
) -> OpalReport:
    """Keep one client report; it succeeded when every entry was fetched and saved."""
    entries = [
        {
            "url": r.entry.url,
            "dst_path": r.entry.dst_path,
            "topics": r.entry.topics,
            "fetched": bool(r.fetched),
            "saved": bool(r.saved),
            "hash": r.hash,
        }
        for r in report.reports
    ]
    row = OpalReport(
        tenant_id=actor.tenant_id,
        update_id=report.update_id,
        received_at=datetime.now(UTC),
        succeeded=bool(entries) and all(e["fetched"] and e["saved"] for e in entries),
        entries=entries,
        user_data=report.user_data,
        reporter=reporter[:200],
    )
    session.add(row)
    return row

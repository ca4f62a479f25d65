"""The `sync.*` events, staged in the transaction that moves the run they report.

Dry runs announce nothing: they change nothing anyone holds, and their caller reads the
outcome from the run itself.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from gatehouse.events.service import emit
from gatehouse.sync.models import SyncRun


def _run(run: SyncRun) -> dict[str, Any]:
    return {
        "run_id": run.id,
        "connection_id": run.connection_id,
        "mode": run.mode,
        "trigger": run.trigger,
    }


def _total(counts: dict[str, dict[str, int]], *names: str) -> int:
    return sum(kind.get(name, 0) for kind in counts.values() for name in names)


def started(session: AsyncSession, run: SyncRun) -> None:
    """`sync.started`: the run was claimed for the first time (a resumed run is not new)."""
    if run.dry_run:
        return
    at = run.started_at or datetime.now(UTC)
    data = {**_run(run), "started_at": at.isoformat()}
    emit(session, run.tenant_id, "sync.started", "sync_run", run.id, data)


def ended(session: AsyncSession, run: SyncRun) -> None:
    """`sync.completed` for a run that succeeded; `sync.failed` for one that failed, was
    refused (deletions over the safety threshold) or cancelled (its connection paused)."""
    if run.dry_run:
        return
    counts: dict[str, dict[str, int]] = run.counts or {}
    finished = run.finished_at or datetime.now(UTC)
    began = run.started_at or finished
    data: dict[str, Any] = {
        **_run(run),
        "created": _total(counts, "created"),
        "updated": _total(counts, "updated"),
        "deleted": _total(counts, "deleted", "removed"),
        "errors": _total(counts, "errors"),
        "duration_seconds": round(max(0.0, (finished - began).total_seconds()), 3),
        "counts": counts,
    }
    if run.status == "succeeded":
        emit(session, run.tenant_id, "sync.completed", "sync_run", run.id, data)
        return
    data.update(status=run.status, error=run.error or run.status)
    emit(session, run.tenant_id, "sync.failed", "sync_run", run.id, data)

"""The fleet view: stored instance states compared with the revisions Gatehouse serves."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from gatehouse.fleet.models import OpaInstance
from gatehouse.fleet.revisions import RevisionSource, lag_of
from gatehouse.fleet.schemas import BundleError, BundleOut, InstanceOut
from gatehouse.fleet.status import NOTICED, SEEN


def _time(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) and value else None


def _error(state: dict[str, Any]) -> BundleError | None:
    if not (state.get("code") or state.get("http_code") or state.get("errors")):
        return None
    return BundleError(
        code=state.get("code") or "",
        message=state.get("message") or "",
        http_code=state.get("http_code"),
        errors=state.get("errors") or [],
    )


async def bundle_view(
    source: RevisionSource, tenant_id: str, name: str, state: dict[str, Any], now: datetime
) -> BundleOut:
    """One bundle of an instance, with its lag behind the served revision."""
    active = state.get("active_revision") or ""
    lag = await lag_of(source, tenant_id, name, active or None, _time(state.get(NOTICED)))
    since = lag.behind_since
    return BundleOut(
        name=name,
        active_revision=active,
        served_revision=lag.served.revision if lag.served else None,
        behind=lag.behind,
        revisions_behind=lag.revisions_behind,
        behind_since=since,
        behind_seconds=round((now - since).total_seconds(), 3) if since else None,
        revision_seen_at=_time(state.get(SEEN)),
        last_request=_time(state.get("last_request")),
        last_successful_request=_time(state.get("last_successful_request")),
        last_successful_download=_time(state.get("last_successful_download")),
        last_successful_activation=_time(state.get("last_successful_activation")),
        type=state.get("type") or "",
        size=state.get("size"),
        error=_error(state),
    )


async def instance_view(
    source: RevisionSource, row: OpaInstance, now: datetime, stale_after: float
) -> InstanceOut:
    """One instance as the fleet status lists it."""
    silent = max((now - row.last_report_at).total_seconds(), 0.0)
    bundles = [
        await bundle_view(source, row.tenant_id, name, state, now)
        for name, state in sorted((row.bundles or {}).items())
    ]
    return InstanceOut(
        instance_id=row.instance_id,
        version=row.version,
        labels=row.labels,
        partition=row.partition,
        first_seen_at=row.first_seen_at,
        last_report_at=row.last_report_at,
        reports=row.reports,
        stale=silent > stale_after,
        silent_seconds=round(silent, 3),
        bundles=bundles,
        discovery=row.discovery,
        decision_logs=row.decision_logs,
        plugins=row.plugins or {},
    )

"""Bodies of the sync routes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from gatehouse.connectors.protocol import SyncMode
from gatehouse.sync.tally import settled


class TriggerIn(BaseModel):
    """How to run a sync now."""

    model_config = ConfigDict(extra="forbid")

    mode: SyncMode = Field(
        SyncMode.incremental,
        description="full_refresh reads everything (and removes what the source no longer has); "
        "incremental reads what changed since the last run (streams without a cursor read all).",
    )
    dry_run: bool = Field(False, description="Report what would change, write nothing.")
    confirm_deletes: bool = Field(
        False, description="Allow a full run to remove more than the safety threshold."
    )


class ScheduleIn(BaseModel):
    """When a connection syncs by itself: an interval or a cron expression."""

    model_config = ConfigDict(extra="forbid")

    interval_seconds: int | None = Field(None, ge=60, description="Every N seconds (≥ 60).")
    cron: str | None = Field(
        None, max_length=120, description="Five-field cron, e.g. `0 */6 * * *`."
    )
    timezone: str = Field("UTC", max_length=64, description="IANA time zone for cron.")
    mode: SyncMode = SyncMode.incremental


class ScheduleOut(BaseModel):
    """A connection's schedule."""

    model_config = ConfigDict(from_attributes=True)

    connection_id: str
    interval_seconds: int | None
    cron: str | None
    timezone: str
    mode: str
    enabled: bool
    next_run_at: datetime | None
    last_run_id: str | None
    last_fired_at: datetime | None
    missed: int = Field(description="Slots coalesced away (missed or while a run was active).")


class RunOut(BaseModel):
    """One sync run."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    connection_id: str
    status: str = Field(description="queued, running, succeeded, failed, refused or cancelled")
    mode: str
    trigger: str
    dry_run: bool
    queued_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    attempts: int
    written: bool | None = Field(
        description="Whether the run's changes are in the store: false for a dry run and for "
        "an all-or-nothing run that failed; null while it runs."
    )
    counts: dict[str, dict[str, int]] = Field(
        description="Per kind, what the run wrote (created, updated, ...) and saw (read, "
        "errors, ...)."
    )
    would_write: dict[str, dict[str, int]] | None = Field(
        None, description="When nothing was written (`written` false): what would have been."
    )
    error_samples: list[dict[str, Any]]
    error: str | None
    progress: dict[str, Any]

    @model_validator(mode="after")
    def _settle(self) -> RunOut:
        if self.would_write is None:
            self.counts, self.would_write = settled(self.counts, self.written)
        return self


class StatusOut(BaseModel):
    """Where a connection's syncing stands."""

    connection_id: str
    paused: bool = Field(
        description="A paused connection does not sync: its slots pass without a run and "
        "triggering it answers 409 until it is resumed."
    )
    schedule: ScheduleOut | None
    active_run: RunOut | None
    last_run: RunOut | None
    cursors: dict[str, dict[str, Any]] = Field(description="Incremental position per stream.")


class JobOut(BaseModel):
    """A scheduled or running sync job of the tenant."""

    connection_id: str
    schedule: ScheduleOut | None
    active_run: RunOut | None


class StatsOut(BaseModel):
    """Scheduler statistics."""

    scheduled_connections: int
    enabled: int
    next_run_at: datetime | None
    coalesced_slots: int
    runs_by_status: dict[str, int]
    workers_in_process: bool

"""Sync runs (with their leases and checkpoints), stream cursors and schedules."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from gatehouse.db.base import Base, IdMixin, JSONDoc, TenantOwned, Timestamps, utcnow

ACTIVE = ("queued", "running")
_ACTIVE_SQL = text("status IN ('queued', 'running')")


class SyncRun(IdMixin, TenantOwned, Base):
    """One run of one connection: queued, running (under a lease), then finished."""

    __tablename__ = "sync_runs"
    __table_args__ = (
        # A connection never has two runs queued or running at once.
        Index(
            "uq_sync_runs_active",
            "tenant_id",
            "connection_id",
            unique=True,
            sqlite_where=_ACTIVE_SQL,
            postgresql_where=_ACTIVE_SQL,
        ),
        Index("ix_sync_runs_connection", "tenant_id", "connection_id", "queued_at"),
        Index("ix_sync_runs_status", "status", "queued_at"),
    )

    connection_id: Mapped[str] = mapped_column(String(36))
    # queued, running, succeeded, failed, refused (safety threshold), cancelled
    status: Mapped[str] = mapped_column(String(16), default="queued")
    mode: Mapped[str] = mapped_column(String(16))  # full_refresh or incremental
    trigger: Mapped[str] = mapped_column(String(16))  # manual, schedule, api, cli, import
    dry_run: Mapped[bool] = mapped_column(Boolean, default=False)
    confirm_deletes: Mapped[bool] = mapped_column(Boolean, default=False)
    queued_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)
    lease_owner: Mapped[str | None] = mapped_column(String(100), default=None)
    lease_expires_at: Mapped[datetime | None] = mapped_column(default=None)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # Per stream: {"state": <checkpoint>, "done": bool}; committed with the records it covers.
    progress: Mapped[dict[str, Any]] = mapped_column(JSONDoc, default=dict)
    counts: Mapped[dict[str, Any]] = mapped_column(JSONDoc, default=dict)
    error_samples: Mapped[list[dict[str, Any]]] = mapped_column(JSONDoc, default=list)
    error: Mapped[str | None] = mapped_column(String(2000), default=None)
    # Whether the finished run's changes are in the store: false for a dry run and for an
    # all-or-nothing run that failed (its counts are what it would have written).
    written: Mapped[bool | None] = mapped_column(Boolean, default=None)


class StreamCursor(TenantOwned, Base):
    """Where incremental reads of a connection's stream continue from."""

    __tablename__ = "sync_cursors"

    tenant_id: Mapped[str] = mapped_column(String(63), primary_key=True, index=True)
    connection_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    stream: Mapped[str] = mapped_column(String(256), primary_key=True)
    state: Mapped[dict[str, Any]] = mapped_column(JSONDoc, default=dict)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class SyncSchedule(TenantOwned, Timestamps, Base):
    """When a connection syncs by itself: every N seconds or on a cron expression."""

    __tablename__ = "sync_schedules"
    __table_args__ = (Index("ix_sync_schedules_due", "enabled", "next_run_at"),)

    tenant_id: Mapped[str] = mapped_column(String(63), primary_key=True, index=True)
    connection_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    interval_seconds: Mapped[int | None] = mapped_column(Integer, default=None)
    cron: Mapped[str | None] = mapped_column(String(120), default=None)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    mode: Mapped[str] = mapped_column(String(16), default="incremental")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    next_run_at: Mapped[datetime | None] = mapped_column(default=None)
    last_run_id: Mapped[str | None] = mapped_column(String(36), default=None)
    last_fired_at: Mapped[datetime | None] = mapped_column(default=None)
    missed: Mapped[int] = mapped_column(Integer, default=0)  # slots coalesced into one run


class PendingRescore(TenantOwned, Base):
    """A member whose risk score a running sync still owes: written with the batch that moved
    it, so a resumed run rescores exactly what its earlier attempts changed."""

    __tablename__ = "sync_rescore_pending"
    tenant_index = False

    tenant_id: Mapped[str] = mapped_column(String(63), primary_key=True)
    run_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    member_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    member_type: Mapped[str] = mapped_column(String(16))  # "identity" or "group"

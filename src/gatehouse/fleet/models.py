"""Tables: the latest status of each OPA instance, and the decision log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Float, Index, Integer, PrimaryKeyConstraint, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from gatehouse.db.base import Base, JSONDoc, TenantOwned, utcnow
from gatehouse.db.types import BigIntPK


class OpaInstance(TenantOwned, Base):
    """One OPA instance (its `labels.id`) and what its last status report said."""

    __tablename__ = "opa_instances"
    tenant_index = False
    __table_args__ = (
        PrimaryKeyConstraint("tenant_id", "instance_id"),
        Index("ix_opa_instances_seen", "tenant_id", "last_report_at"),
    )

    instance_id: Mapped[str] = mapped_column(String(200))
    version: Mapped[str] = mapped_column(String(100), default="")
    labels: Mapped[dict[str, str]] = mapped_column(JSONDoc, default=dict)
    partition: Mapped[str] = mapped_column(String(200), default="")
    # Per bundle name: OPA's bundle status plus when Gatehouse first saw its revision (and lag).
    bundles: Mapped[dict[str, Any]] = mapped_column(JSONDoc, default=dict)
    discovery: Mapped[dict[str, Any] | None] = mapped_column(JSONDoc, nullable=True)
    decision_logs: Mapped[dict[str, Any] | None] = mapped_column(JSONDoc, nullable=True)
    plugins: Mapped[dict[str, Any]] = mapped_column(JSONDoc, default=dict)
    metrics: Mapped[dict[str, Any] | None] = mapped_column(JSONDoc, nullable=True)
    first_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_report_at: Mapped[datetime] = mapped_column(default=utcnow)
    reports: Mapped[int] = mapped_column(Integer, default=0)


class DecisionRecord(TenantOwned, Base):
    """One policy decision: made by an OPA of the fleet or by Gatehouse's own engines.

    `engine` says which (`opa` for the fleet's decision-log uploads; `embedded`, `remote` or a
    fallback for Gatehouse's own), `instance_id` which process, `endpoint` which remote OPA.
    Inputs and results are stored already masked; `erased` and `masked` list what was removed
    or replaced, as JSON pointers, exactly as in OPA's decision-log events.
    """

    __tablename__ = "decision_log"
    tenant_index = False
    __table_args__ = (
        Index("uq_decision_log_decision", "tenant_id", "decision_id", unique=True),
        Index("ix_decision_log_time", "tenant_id", "decided_at", "seq"),
        Index("ix_decision_log_path", "tenant_id", "path", "decided_at"),
        Index("ix_decision_log_instance", "tenant_id", "instance_id", "decided_at"),
    )

    seq: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    decision_id: Mapped[str] = mapped_column(String(128))
    decided_at: Mapped[datetime] = mapped_column()
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    engine: Mapped[str] = mapped_column(String(32))
    instance_id: Mapped[str] = mapped_column(String(200), default="")
    endpoint: Mapped[str | None] = mapped_column(String(500), nullable=True)
    path: Mapped[str] = mapped_column(String(1000), default="")
    query: Mapped[str | None] = mapped_column(Text, nullable=True)
    input: Mapped[Any] = mapped_column(JSONDoc, nullable=True)
    # False when the decision was undefined (OPA sends no `result` then); null is a result.
    defined: Mapped[bool] = mapped_column(Boolean, default=True)
    result: Mapped[Any] = mapped_column(JSONDoc, nullable=True)
    latency_ms: Mapped[float | None] = mapped_column(Float, nullable=True)
    cache_hit: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    labels: Mapped[dict[str, str]] = mapped_column(JSONDoc, default=dict)
    bundles: Mapped[dict[str, Any]] = mapped_column(JSONDoc, default=dict)
    metrics: Mapped[dict[str, Any] | None] = mapped_column(JSONDoc, nullable=True)
    erased: Mapped[list[str]] = mapped_column(JSONDoc, default=list)
    masked: Mapped[list[str]] = mapped_column(JSONDoc, default=list)
    requested_by: Mapped[str | None] = mapped_column(String(500), nullable=True)
    error: Mapped[Any] = mapped_column(JSONDoc, nullable=True)
    # The rest of an OPA event (trace_id, span_id, req_id, mapped_result, nd_builtin_cache, ...).
    extra: Mapped[dict[str, Any] | None] = mapped_column(JSONDoc, nullable=True)

"""The outbox: every change to the store, written in the same transaction as the change."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from gatehouse.db.base import Base, JSONDoc, TenantOwned, utcnow
from gatehouse.db.types import BigIntPK


class Event(TenantOwned, Base):
    """One domain event (`identity.created`, `membership.added`, ...) waiting for consumers."""

    __tablename__ = "events"
    __table_args__ = (Index("ix_events_tenant_id_id", "tenant_id", "id"),)

    tenant_index = False
    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    type: Mapped[str] = mapped_column(String(64))
    subject_type: Mapped[str] = mapped_column(String(32))
    subject_id: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONDoc, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

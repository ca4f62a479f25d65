"""Tables: a tenant's OPAL settings, the durable publish queue, and OPAL clients' reports."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from gatehouse.db.base import Base, IdMixin, JSONDoc, TenantOwned, utcnow
from gatehouse.db.types import BigIntPK
from gatehouse.secrets.service import SealedValues, register_sealed


class OpalSettingsRow(TenantOwned, Base):
    """Where and how a tenant publishes to OPAL; both tokens sealed under the key ring."""

    __tablename__ = "opal_settings"
    tenant_index = False

    tenant_id: Mapped[str] = mapped_column(String(63), primary_key=True)
    config: Mapped[dict[str, Any]] = mapped_column(JSONDoc, default=dict)
    datasource_token_sealed: Mapped[str | None] = mapped_column(Text, default=None)
    fetch_token_sealed: Mapped[str | None] = mapped_column(Text, default=None)
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_by: Mapped[str] = mapped_column(String(100))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class OpalPublish(IdMixin, TenantOwned, Base):
    """One DataUpdate to send to the OPAL server: pending until delivered, retried meanwhile."""

    __tablename__ = "opal_publishes"
    tenant_index = False
    __table_args__ = (
        Index("ix_opal_publishes_tenant", "tenant_id", "created_at"),
        Index("ix_opal_publishes_due", "status", "due_at"),
    )

    connection_id: Mapped[str | None] = mapped_column(String(36), default=None)
    trigger: Mapped[str] = mapped_column(String(16))  # change, manual, cli
    reason: Mapped[str] = mapped_column(String(500), default="")
    revision: Mapped[int] = mapped_column(BigInteger, default=0)
    # pending (waiting or being retried), sending (claimed under a lease), delivered, failed
    status: Mapped[str] = mapped_column(String(16), default="pending")
    update: Mapped[dict[str, Any] | None] = mapped_column(JSONDoc, default=None)  # no secrets
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(2000), default=None)
    response_status: Mapped[int | None] = mapped_column(Integer, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    due_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_attempt_at: Mapped[datetime | None] = mapped_column(default=None)
    delivered_at: Mapped[datetime | None] = mapped_column(default=None)
    lease_owner: Mapped[str | None] = mapped_column(String(100), default=None)
    lease_expires_at: Mapped[datetime | None] = mapped_column(default=None)


class OpalReport(TenantOwned, Base):
    """One DataUpdateReport an OPAL client sent back after applying an update."""

    __tablename__ = "opal_reports"
    tenant_index = False
    __table_args__ = (
        Index("ix_opal_reports_update", "tenant_id", "update_id"),
        Index("ix_opal_reports_time", "tenant_id", "received_at"),
    )

    seq: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    update_id: Mapped[str | None] = mapped_column(String(200), default=None)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    succeeded: Mapped[bool] = mapped_column(Boolean, default=False)
    entries: Mapped[list[dict[str, Any]]] = mapped_column(JSONDoc, default=list)
    user_data: Mapped[dict[str, Any]] = mapped_column(JSONDoc, default=dict)
    reporter: Mapped[str] = mapped_column(String(200), default="")


def token_context(tenant_id: str, which: str) -> str:
    """The associated data an OPAL token is sealed with: it opens only as that tenant's `which`."""
    return f"opal:{tenant_id}:{which}"


def _sealed(row: OpalSettingsRow) -> dict[str, str]:
    pairs = (("datasource", row.datasource_token_sealed), ("fetch", row.fetch_token_sealed))
    return {token_context(row.tenant_id, name): value for name, value in pairs if value}


def _store(row: OpalSettingsRow, fresh: dict[str, str]) -> None:
    row.datasource_token_sealed = fresh.get(token_context(row.tenant_id, "datasource"))
    row.fetch_token_sealed = fresh.get(token_context(row.tenant_id, "fetch"))


def _destroy(row: OpalSettingsRow) -> None:
    row.datasource_token_sealed = row.fetch_token_sealed = None
    row.version += 1  # publishers forget the tokens they opened for the old version


register_sealed(SealedValues(OpalSettingsRow, _sealed, _store, _destroy))

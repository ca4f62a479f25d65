"""Tables: endpoints, one delivery per (event, endpoint), every attempt, the outbox cursor."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, Float, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from gatehouse.db.base import Base, IdMixin, JSONDoc, TenantOwned, utcnow
from gatehouse.secrets.service import SealedValues, register_sealed


class WebhookEndpoint(IdMixin, TenantOwned, Base):
    """Where a tenant wants events sent, which ones, and how to retry."""

    __tablename__ = "webhook_endpoints"

    url: Mapped[str] = mapped_column(String(2000))
    description: Mapped[str] = mapped_column(String(1000), default="")
    event_types: Mapped[list[str]] = mapped_column(JSONDoc, default=list)  # empty: all
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    disabled_reason: Mapped[str | None] = mapped_column(String(500), default=None)
    retry_policy: Mapped[str] = mapped_column(String(16), default="exponential")
    timeout_seconds: Mapped[float] = mapped_column(Float, default=30.0)
    max_retries: Mapped[int] = mapped_column(Integer, default=7)
    headers_sealed: Mapped[str | None] = mapped_column(Text, default=None)  # JSON, sealed
    rate_limit: Mapped[int | None] = mapped_column(Integer, default=None)  # per second
    ordered: Mapped[bool] = mapped_column(Boolean, default=False)  # one message at a time
    secret_sealed: Mapped[str] = mapped_column(Text)
    previous_secret_sealed: Mapped[str | None] = mapped_column(Text, default=None)
    previous_secret_until: Mapped[datetime | None] = mapped_column(default=None)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class WebhookDelivery(IdMixin, TenantOwned, Base):
    """One message for one endpoint: pending until a 2xx, retried on its schedule meanwhile."""

    __tablename__ = "webhook_deliveries"
    tenant_index = False
    __table_args__ = (
        Index("ix_webhook_deliveries_endpoint", "tenant_id", "endpoint_id", "created_at"),
        Index("ix_webhook_deliveries_due", "status", "due_at"),
    )

    endpoint_id: Mapped[str] = mapped_column(String(36))
    event_id: Mapped[int | None] = mapped_column(BigInteger, default=None)
    event_type: Mapped[str] = mapped_column(String(64))
    ordered: Mapped[bool] = mapped_column(Boolean, default=False)  # waits for earlier ones
    body: Mapped[dict[str, Any]] = mapped_column(JSONDoc)
    # pending (waiting or being retried), sending (claimed under a lease), delivered, failed
    status: Mapped[str] = mapped_column(String(16), default="pending")
    # A resend or recovery starts a new series of attempts; the earlier ones stay recorded.
    series: Mapped[int] = mapped_column(Integer, default=1)
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # in the current series
    due_at: Mapped[datetime] = mapped_column(default=utcnow)
    lease_owner: Mapped[str | None] = mapped_column(String(100), default=None)
    lease_expires_at: Mapped[datetime | None] = mapped_column(default=None)
    last_status: Mapped[int | None] = mapped_column(Integer, default=None)
    last_error: Mapped[str | None] = mapped_column(String(2000), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)


class WebhookAttempt(IdMixin, TenantOwned, Base):
    """One POST of a delivery: what was sent (secrets masked) and what came back."""

    __tablename__ = "webhook_attempts"
    tenant_index = False
    __table_args__ = (Index("ix_webhook_attempts_endpoint", "tenant_id", "endpoint_id", "id"),)

    endpoint_id: Mapped[str] = mapped_column(String(36))
    delivery_id: Mapped[str] = mapped_column(String(36))
    event_type: Mapped[str] = mapped_column(String(64))
    series: Mapped[int] = mapped_column(Integer, default=1)  # the delivery's series it was in
    attempt: Mapped[int] = mapped_column(Integer)  # its number within the series
    succeeded: Mapped[bool] = mapped_column(Boolean, default=False)
    request_headers: Mapped[dict[str, str]] = mapped_column(JSONDoc, default=dict)
    response_status: Mapped[int | None] = mapped_column(Integer, default=None)
    response_body: Mapped[str] = mapped_column(Text, default="")
    latency_ms: Mapped[float] = mapped_column(Float, default=0.0)
    error: Mapped[str | None] = mapped_column(String(2000), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebhookCursor(Base):
    """How far through the outbox the dispatcher has turned events into deliveries."""

    __tablename__ = "webhook_cursor"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    position: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


def secret_context(tenant_id: str, endpoint_id: str, which: str) -> str:
    """The associated data a signing secret (`current`, `previous`) or the custom headers
    (`headers`) are sealed with: they open only on their own endpoint."""
    return f"webhook:{tenant_id}:{endpoint_id}:{which}"


def _sealed(row: WebhookEndpoint) -> dict[str, str]:
    pairs = (
        ("current", row.secret_sealed),
        ("previous", row.previous_secret_sealed),
        ("headers", row.headers_sealed),
    )
    return {secret_context(row.tenant_id, row.id, k): v for k, v in pairs if v}


def _store(row: WebhookEndpoint, fresh: dict[str, str]) -> None:
    row.secret_sealed = fresh.get(secret_context(row.tenant_id, row.id, "current"), "")
    row.previous_secret_sealed = fresh.get(secret_context(row.tenant_id, row.id, "previous"))
    row.headers_sealed = fresh.get(secret_context(row.tenant_id, row.id, "headers"))


def _destroy(row: WebhookEndpoint) -> None:
    row.secret_sealed = ""  # required: empty means destroyed (the endpoint cannot sign again)
    row.previous_secret_sealed = row.headers_sealed = None
    row.previous_secret_until = None


register_sealed(SealedValues(WebhookEndpoint, _sealed, _store, _destroy))

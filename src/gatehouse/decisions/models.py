"""Tables: tenants' Rego policies (every upload kept) and tenant-local data for the engines."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Index, Integer, PrimaryKeyConstraint, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from gatehouse.db.base import Base, JSONDoc, TenantOwned, utcnow
from gatehouse.db.types import BigIntPK


class Policy(TenantOwned, Base):
    """A tenant's Rego module as it is now (OPA's policy id is the key)."""

    __tablename__ = "policies"
    tenant_index = False
    __table_args__ = (PrimaryKeyConstraint("tenant_id", "id"),)

    id: Mapped[str] = mapped_column(String(500))
    raw: Mapped[str] = mapped_column(Text)
    package: Mapped[str] = mapped_column(String(500), default="")
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_by: Mapped[str] = mapped_column(String(100), default="")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class PolicyVersion(TenantOwned, Base):
    """One upload (or deletion, `raw` null) of a policy: who and when."""

    __tablename__ = "policy_versions"
    tenant_index = False
    __table_args__ = (
        Index("ix_policy_versions_policy", "tenant_id", "policy_id", "version", unique=True),
    )

    seq: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    policy_id: Mapped[str] = mapped_column(String(500))
    version: Mapped[int] = mapped_column(Integer)
    raw: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_by: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LocalData(TenantOwned, Base):
    """Data a tenant wrote through `/v1/data` (beside the store's document), and its settings."""

    __tablename__ = "decision_data"
    tenant_index = False

    tenant_id: Mapped[str] = mapped_column(String(63), primary_key=True)
    document: Mapped[dict[str, Any]] = mapped_column(JSONDoc, default=dict)
    version: Mapped[int] = mapped_column(Integer, default=0)
    # Whether `/v1/data` adds the store's record of `input.subject` (None: the default, on).
    enrich: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    # The rule AuthZEN and `/v1/authorize` evaluate (None: the default, `authz/allow`).
    entrypoint: Mapped[str | None] = mapped_column(String(500), nullable=True)
    # The decision cache's settings (`CacheSettings`; None: the configured defaults).
    cache: Mapped[dict[str, Any] | None] = mapped_column(JSONDoc, nullable=True)
    # Alert thresholds (`AlertThresholds`; None: no alerts).
    alerts: Mapped[dict[str, Any] | None] = mapped_column(JSONDoc, nullable=True)
    updated_by: Mapped[str] = mapped_column(String(100), default="")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

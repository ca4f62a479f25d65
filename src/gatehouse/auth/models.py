"""API tokens and their usage log."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Float, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from gatehouse.db.base import Base, IdMixin, TenantOwned, Timestamps, utcnow
from gatehouse.db.types import BigIntPK


class ApiToken(IdMixin, TenantOwned, Timestamps, Base):
    """A bearer token; only its SHA-256 is stored."""

    __tablename__ = "api_tokens"

    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(String(1000), default="")
    prefix: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_by: Mapped[str] = mapped_column(String(100))
    expires_at: Mapped[datetime | None] = mapped_column(default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
    last_used_at: Mapped[datetime | None] = mapped_column(default=None)
    rate_limit_per_minute: Mapped[int | None] = mapped_column(Integer, default=None)
    # The token that minted this one (None when made by the CLI, bootstrap or before 0021):
    # revoking a token revokes its descendants.
    parent_id: Mapped[str | None] = mapped_column(String(36), default=None, index=True)


class TokenUsage(TenantOwned, Base):
    """One authenticated request: who, what, how it ended, how long it took."""

    __tablename__ = "token_usage"
    __table_args__ = (Index("ix_token_usage_token", "tenant_id", "token_id", "id"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    token_id: Mapped[str] = mapped_column(String(36))
    method: Mapped[str] = mapped_column(String(10))
    path: Mapped[str] = mapped_column(String(2000))
    status: Mapped[int] = mapped_column(Integer)
    latency_ms: Mapped[float] = mapped_column(Float)
    request_id: Mapped[str] = mapped_column(String(100))
    at: Mapped[datetime] = mapped_column(default=utcnow)

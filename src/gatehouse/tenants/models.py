"""The tenants table."""

from __future__ import annotations

from typing import Any

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from gatehouse.db.base import Base, JSONDoc, Timestamps

PLATFORM = "_platform"


class Tenant(Timestamps, Base):
    """An isolated customer space; its id is a short slug used in URLs."""

    __tablename__ = "tenants"

    id: Mapped[str] = mapped_column(String(63), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    tier: Mapped[str] = mapped_column(String(20), default="free")
    status: Mapped[str] = mapped_column(String(20), default="active")
    settings: Mapped[dict[str, Any]] = mapped_column(JSONDoc, default=dict)

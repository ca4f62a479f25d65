"""The connections table: one configured source of a tenant."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from gatehouse.db.base import Base, IdMixin, JSONDoc, TenantOwned, Timestamps
from gatehouse.secrets.service import SealedValues, register_sealed

LIVE = text("deleted_at IS NULL")


class Connection(IdMixin, TenantOwned, Timestamps, Base):
    """A source: its connector type, configuration, sealed credentials, mapping and health."""

    __tablename__ = "connections"
    __table_args__ = (
        # Names are unique among live connections; a deleted one frees its name.
        Index(
            "uq_connections_tenant_name",
            "tenant_id",
            "name",
            unique=True,
            sqlite_where=LIVE,
            postgresql_where=LIVE,
        ),
    )

    name: Mapped[str] = mapped_column(String(200))
    type: Mapped[str] = mapped_column(String(64))
    config: Mapped[dict[str, Any]] = mapped_column(JSONDoc, default=dict)
    # Secret fields, each sealed on its own and bound to this row and field (see context()).
    credentials: Mapped[dict[str, str]] = mapped_column(JSONDoc, default=dict)
    mapping: Mapped[dict[str, Any]] = mapped_column(JSONDoc, default=dict)
    status: Mapped[str] = mapped_column(String(20), default="active")
    discovered: Mapped[list[Any] | None] = mapped_column(JSONDoc, nullable=True)
    discovered_at: Mapped[datetime | None] = mapped_column(nullable=True)
    last_check_at: Mapped[datetime | None] = mapped_column(nullable=True)
    last_check_ok: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    last_check_failure: Mapped[str | None] = mapped_column(String(20), nullable=True)
    last_check_message: Mapped[str] = mapped_column(String(2000), default="")
    created_by: Mapped[str] = mapped_column(String(100))
    deleted_at: Mapped[datetime | None] = mapped_column(nullable=True)


def context(tenant_id: str, connection_id: str, field: str) -> str:
    """The associated data a credential is sealed with: it opens only in its own row and field."""
    return f"connection:{tenant_id}:{connection_id}:{field}"


def _sealed(row: Connection) -> dict[str, str]:
    return {context(row.tenant_id, row.id, f): token for f, token in row.credentials.items()}


def _store(row: Connection, fresh: dict[str, str]) -> None:
    row.credentials = {f: fresh[context(row.tenant_id, row.id, f)] for f in row.credentials}


def _destroy(row: Connection) -> None:
    row.credentials = {}


register_sealed(SealedValues(Connection, _sealed, _store, _destroy))

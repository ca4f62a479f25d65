"""The key ring and tenants' encrypted secrets."""

from __future__ import annotations

from sqlalchemy import String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from gatehouse.db.base import Base, IdMixin, TenantOwned, Timestamps


class EncryptionKey(Timestamps, Base):
    """A data key, stored wrapped (AES-256-GCM) under the master key."""

    __tablename__ = "encryption_keys"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    wrapped: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="active")


class Secret(IdMixin, TenantOwned, Timestamps, Base):
    """A named credential; only ciphertext is stored."""

    __tablename__ = "secrets"
    __table_args__ = (UniqueConstraint("tenant_id", "name", name="uq_secrets_tenant_name"),)

    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(String(1000), default="")
    ciphertext: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(100))

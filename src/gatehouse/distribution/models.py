"""Tables of the materialised data document, its revisions, configuration and signing keys."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from gatehouse.db.base import Base, JSONDoc, TenantOwned, utcnow
from gatehouse.secrets.service import SealedValues, register_sealed


class DocumentConfig(TenantOwned, Base):
    """How a tenant's data document is shaped (absent: the defaults)."""

    __tablename__ = "distribution_configs"

    tenant_index = False
    tenant_id: Mapped[str] = mapped_column(String(63), primary_key=True)
    config: Mapped[dict[str, Any]] = mapped_column(JSONDoc, default=dict)
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_by: Mapped[str] = mapped_column(String(100), default="")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class DocumentState(TenantOwned, Base):
    """Where a tenant's materialised document stands: revision, hash, applied events."""

    __tablename__ = "distribution_states"

    tenant_index = False
    tenant_id: Mapped[str] = mapped_column(String(63), primary_key=True)
    revision: Mapped[int] = mapped_column(BigInteger, default=0)
    content_hash: Mapped[str] = mapped_column(String(64), default="")
    # Order-independent sum of the live fragments' digests: updated per change, never rescanned.
    aggregate: Mapped[str] = mapped_column(String(40), default="0")
    shape: Mapped[str] = mapped_column(String(64), default="")  # digest of config + signing key
    event_cursor: Mapped[int] = mapped_column(BigInteger, default=0)
    # Clients below this revision get a full bundle (paths moved, or tombstones pruned).
    delta_floor: Mapped[int] = mapped_column(BigInteger, default=0)
    fragments: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Fragment(TenantOwned, Base):
    """One entry of the document (a user, group or resource) at its path, or a tombstone."""

    __tablename__ = "distribution_fragments"
    __table_args__ = (
        Index("ix_distribution_fragments_revision", "tenant_id", "revision"),
        Index("ix_distribution_fragments_record", "tenant_id", "record_id"),
    )

    tenant_index = False
    tenant_id: Mapped[str] = mapped_column(String(63), primary_key=True)
    section: Mapped[str] = mapped_column(String(80), primary_key=True)  # users, groups, resources/T
    key: Mapped[str] = mapped_column(String(512), primary_key=True)
    record_id: Mapped[str] = mapped_column(String(36))
    body: Mapped[str] = mapped_column(Text, default="")  # canonical JSON of the value
    digest: Mapped[str] = mapped_column(String(32), default="")
    revision: Mapped[int] = mapped_column(BigInteger)
    removed: Mapped[bool] = mapped_column(Boolean, default=False)


class Revision(TenantOwned, Base):
    """A published revision and its content hash (recent ones; deltas start from them)."""

    __tablename__ = "distribution_revisions"

    tenant_index = False
    tenant_id: Mapped[str] = mapped_column(String(63), primary_key=True)
    revision: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    content_hash: Mapped[str] = mapped_column(String(64))
    changed: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SigningKey(TenantOwned, Base):
    """A tenant's bundle signing key pair; the private half sealed under the key ring."""

    __tablename__ = "distribution_signing_keys"

    tenant_index = False
    tenant_id: Mapped[str] = mapped_column(String(63), primary_key=True)
    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # the JWT `keyid`
    algorithm: Mapped[str] = mapped_column(String(8))
    scope: Mapped[str] = mapped_column(String(100), default="")
    public_pem: Mapped[str] = mapped_column(Text)
    private_sealed: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(10), default="active")  # active or retired
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    retired_at: Mapped[datetime | None] = mapped_column(default=None)


def key_context(tenant_id: str, key_id: str) -> str:
    """The associated data a private key is sealed with: it opens only in its own row."""
    return f"signing-key:{tenant_id}:{key_id}"


def _store(row: SigningKey, fresh: dict[str, str]) -> None:
    row.private_sealed = fresh[key_context(row.tenant_id, row.id)]


register_sealed(
    SealedValues(
        SigningKey,
        lambda row: {key_context(row.tenant_id, row.id): row.private_sealed},
        _store,
        destroy=None,
    )
)

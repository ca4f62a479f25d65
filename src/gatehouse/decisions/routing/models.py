"""The decision_configs table: how each tenant's decisions are made."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Integer, PrimaryKeyConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from gatehouse.db.base import Base, JSONDoc, TenantOwned, Timestamps
from gatehouse.secrets.service import SealedValues, register_sealed


class DecisionConfig(TenantOwned, Timestamps, Base):
    """A tenant's decision mode, remote OPA endpoints and fallback; secrets sealed apart."""

    __tablename__ = "decision_configs"
    tenant_index = False
    __table_args__ = (PrimaryKeyConstraint("tenant_id"),)

    mode: Mapped[str] = mapped_column(String(16), default="embedded")
    # Everything but secrets, as the API's DecisionConfigIn validated it.
    settings: Mapped[dict[str, Any]] = mapped_column(JSONDoc, default=dict)
    # Endpoint URL -> field (bearer_token, client_key) -> ciphertext bound to tenant, URL, field.
    credentials: Mapped[dict[str, dict[str, str]]] = mapped_column(JSONDoc, default=dict)
    version: Mapped[int] = mapped_column(Integer, default=1)


def context(tenant_id: str, url: str, field: str) -> str:
    """The associated data an endpoint secret is sealed with: it opens only for that field."""
    return f"decision-config:{tenant_id}:{url}:{field}"


def _sealed(row: DecisionConfig) -> dict[str, str]:
    return {
        context(row.tenant_id, url, f): token
        for url, fields in row.credentials.items()
        for f, token in fields.items()
    }


def _store(row: DecisionConfig, fresh: dict[str, str]) -> None:
    row.credentials = {
        url: {f: fresh[context(row.tenant_id, url, f)] for f in fields}
        for url, fields in row.credentials.items()
    }


def _destroy(row: DecisionConfig) -> None:
    row.credentials = {}
    row.version += 1  # routers reload it without the secrets


register_sealed(SealedValues(DecisionConfig, _sealed, _store, _destroy))

"""Imports every table so Alembic and create_all see the whole schema."""

from gatehouse.audit.models import AuditEntry, AuditHead
from gatehouse.auth.models import ApiToken, TokenUsage
from gatehouse.db.base import Base
from gatehouse.secrets.models import EncryptionKey, Secret
from gatehouse.tenants.models import Tenant

__all__ = [
    "ApiToken",
    "AuditEntry",
    "AuditHead",
    "Base",
    "EncryptionKey",
    "Secret",
    "Tenant",
    "TokenUsage",
]

"""Imports every table so Alembic and create_all see the whole schema."""

from gatehouse.audit.models import AuditEntry, AuditHead
from gatehouse.auth.models import ApiToken, TokenUsage
from gatehouse.db.base import Base
from gatehouse.events.models import Event
from gatehouse.identity.models import (
    Conflict,
    Group,
    Identity,
    IdentityLink,
    Membership,
    RecordVersion,
    Resource,
)
from gatehouse.secrets.models import EncryptionKey, Secret
from gatehouse.tenants.models import Tenant

__all__ = [
    "ApiToken",
    "AuditEntry",
    "AuditHead",
    "Base",
    "Conflict",
    "EncryptionKey",
    "Event",
    "Group",
    "Identity",
    "IdentityLink",
    "Membership",
    "RecordVersion",
    "Resource",
    "Secret",
    "Tenant",
    "TokenUsage",
]

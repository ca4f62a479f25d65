"""Imports every table so Alembic and create_all see the whole schema."""

from gatehouse.audit.models import AuditEntry, AuditHead
from gatehouse.auth.models import ApiToken, TokenUsage
from gatehouse.connections.models import Connection
from gatehouse.db.base import Base
from gatehouse.decisions.models import LocalData, Policy, PolicyVersion
from gatehouse.decisions.routing.models import DecisionConfig
from gatehouse.distribution.models import (
    DocumentConfig,
    DocumentState,
    Fragment,
    Revision,
    SigningKey,
)
from gatehouse.events.models import Event
from gatehouse.fleet.models import DecisionRecord, OpaInstance
from gatehouse.identity.models import (
    Conflict,
    Group,
    GroupLink,
    Identity,
    IdentityLink,
    Membership,
    RecordVersion,
    Resource,
)
from gatehouse.opal.models import OpalPublish, OpalReport, OpalSettingsRow
from gatehouse.secrets.models import EncryptionKey, Secret
from gatehouse.sync.models import StreamCursor, SyncRun, SyncSchedule
from gatehouse.tenants.models import Tenant
from gatehouse.webhooks.models import (
    WebhookAttempt,
    WebhookCursor,
    WebhookDelivery,
    WebhookEndpoint,
)

__all__ = [
    "ApiToken",
    "AuditEntry",
    "AuditHead",
    "Base",
    "Conflict",
    "Connection",
    "DecisionConfig",
    "DecisionRecord",
    "DocumentConfig",
    "DocumentState",
    "EncryptionKey",
    "Event",
    "Fragment",
    "Group",
    "GroupLink",
    "Identity",
    "IdentityLink",
    "LocalData",
    "Membership",
    "OpaInstance",
    "OpalPublish",
    "OpalReport",
    "OpalSettingsRow",
    "Policy",
    "PolicyVersion",
    "RecordVersion",
    "Resource",
    "Revision",
    "Secret",
    "SigningKey",
    "StreamCursor",
    "SyncRun",
    "SyncSchedule",
    "Tenant",
    "TokenUsage",
    "WebhookAttempt",
    "WebhookCursor",
    "WebhookDelivery",
    "WebhookEndpoint",
]

"""Every event type Gatehouse emits, each with the JSON Schema of its `data`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gatehouse.events import payloads as p


@dataclass(frozen=True, slots=True)
class EventType:
    """One kind of event: what it means and what its data holds."""

    name: str
    description: str
    schema: dict[str, Any]


def _record(kind: str, what: str) -> tuple[EventType, ...]:
    return (
        EventType(f"{kind}.created", f"A {what} was created.", p.RECORD),
        EventType(f"{kind}.updated", f"A {what} changed.", p.RECORD),
        EventType(f"{kind}.deleted", f"A {what} was deleted.", p.REMOVED),
    )


CATALOG: tuple[EventType, ...] = (
    *_record("identity", "identity"),
    EventType("identity.purged", "An identity's personal data was erased.", p.REMOVED),
    EventType("identity.risk_changed", "An identity's risk score moved.", p.RISK),
    *_record("group", "group"),
    EventType("group.members_added", "Members joined a group (one change).", p.MEMBERS),
    EventType("group.members_removed", "Members left a group (one change).", p.MEMBERS),
    EventType("membership.added", "A member joined a group.", p.MEMBER),
    EventType("membership.removed", "A member left a group.", p.MEMBER),
    *_record("resource", "resource"),
    EventType("policy.updated", "A policy was uploaded.", p.BY_ID),
    EventType("policy.deleted", "A policy was deleted.", p.BY_ID),
    EventType("decision_data.updated", "Tenant-local decision data changed.", p.DECISION_DATA),
    EventType("endpoint.disabled", "A webhook endpoint was disabled.", p.ENDPOINT_DISABLED),
    EventType("webhook.test", "A test message sent on request.", p.TEST),
    EventType("sync.started", "A sync run (or an import) started.", p.SYNC_STARTED),
    EventType("sync.completed", "A sync run finished successfully.", p.SYNC_COMPLETED),
    EventType("sync.failed", "A started sync run failed, was refused or cancelled.", p.SYNC_FAILED),
    EventType("bundle.published", "A new data document revision was built.", p.BUNDLE_PUBLISHED),
    EventType("opal.published", "The OPAL server took a DataUpdate.", p.OPAL_PUBLISHED),
    EventType("alert.raised", "A tenant's decisions crossed an alert threshold.", p.ALERT),
    EventType("alert.cleared", "A tenant's decisions came back under an alert threshold.", p.ALERT),
    EventType("token.created", "An API token was created.", p.TOKEN_CREATED),
    EventType("token.revoked", "An API token was revoked.", p.TOKEN_REVOKED),
)
NAMES = frozenset(e.name for e in CATALOG)
GROUPS = frozenset(name.split(".", 1)[0] for name in NAMES)
BY_NAME = {e.name: e for e in CATALOG}


def require(type_: str) -> str:
    """The type if the catalog holds it; ValueError otherwise (subscribers filter on the
    catalog, so whatever the outbox takes must be in it)."""
    if type_ not in NAMES:
        raise ValueError(f"event type {type_!r} is not in gatehouse.events.catalog")
    return type_

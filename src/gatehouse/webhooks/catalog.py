"""The event types Gatehouse emits, each with the JSON Schema of its `data`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gatehouse.kit.problems import Problem

STRING = {"type": "string"}
INTEGER = {"type": "integer"}
RECORD = {
    "type": "object",
    "required": ["id", "version", "source"],
    "properties": {
        "id": STRING,
        "version": INTEGER,
        "source": STRING,
        "after": {"type": "object", "description": "The record after the change."},
    },
}
ALERT = {
    "type": "object",
    "required": ["alert", "threshold", "value", "window_seconds"],
    "properties": {
        "alert": {"enum": ["failure_rate", "response_time", "cache_hit_rate", "policy_violations"]},
        "threshold": {"type": "number"},
        "value": {"type": ["number", "null"]},
        "window_seconds": {"type": "number"},
    },
}
REMOVED = {**RECORD, "description": "`after` is absent: the record is gone."}
MEMBER = {
    "type": "object",
    "required": ["group_id", "member_id", "member_type", "source"],
    "properties": {
        "group_id": STRING,
        "member_id": STRING,
        "member_type": {"enum": ["identity", "group"]},
        "source": STRING,
    },
}
RISK = {
    "type": "object",
    "required": ["id", "before", "after"],
    "properties": {
        "id": STRING,
        "before": INTEGER,
        "after": INTEGER,
        "factors": {"type": "array", "items": {"type": "object"}},
    },
}
BY_ID = {"type": "object", "required": ["id"], "properties": {"id": STRING}}
ENDPOINT_DISABLED = {
    "type": "object",
    "required": ["endpoint_id", "reason"],
    "properties": {"endpoint_id": STRING, "url": STRING, "reason": STRING},
}
TEST = {"type": "object", "required": ["message"], "properties": {"message": STRING}}
OPEN = {"type": "object"}


@dataclass(frozen=True, slots=True)
class EventType:
    """One kind of event an endpoint can subscribe to."""

    name: str
    description: str
    schema: dict[str, Any]
    future: bool = False  # in the catalog so filters may name it; nothing emits it yet


def _record(kind: str, what: str) -> tuple[EventType, ...]:
    return (
        EventType(f"{kind}.created", f"A {what} was created.", RECORD),
        EventType(f"{kind}.updated", f"A {what} changed.", RECORD),
        EventType(f"{kind}.deleted", f"A {what} was deleted.", REMOVED),
    )


CATALOG: tuple[EventType, ...] = (
    *_record("identity", "identity"),
    EventType("identity.purged", "An identity's personal data was erased.", REMOVED),
    EventType("identity.risk_changed", "An identity's risk score moved.", RISK),
    *_record("group", "group"),
    EventType("membership.added", "A member joined a group.", MEMBER),
    EventType("membership.removed", "A member left a group.", MEMBER),
    *_record("resource", "resource"),
    EventType("policy.updated", "A policy was uploaded.", BY_ID),
    EventType("policy.deleted", "A policy was deleted.", BY_ID),
    EventType("decision_data.updated", "Tenant-local decision data changed.", OPEN),
    EventType("endpoint.disabled", "A webhook endpoint was disabled.", ENDPOINT_DISABLED),
    EventType("webhook.test", "A test message sent on request.", TEST),
    EventType("sync.completed", "A sync run finished.", OPEN, future=True),
    EventType("sync.failed", "A sync run failed.", OPEN, future=True),
    EventType("bundle.published", "A new bundle revision was built.", OPEN, future=True),
    EventType("opal.published", "An update was published to OPAL.", OPEN, future=True),
    EventType("alert.raised", "A tenant's decisions crossed an alert threshold.", ALERT),
    EventType("alert.cleared", "A tenant's decisions came back under an alert threshold.", ALERT),
    EventType("token.created", "An API token was created.", OPEN, future=True),
    EventType("token.revoked", "An API token was revoked.", OPEN, future=True),
)
NAMES = frozenset(e.name for e in CATALOG)
GROUPS = frozenset(name.split(".", 1)[0] for name in NAMES)


def matches(filters: list[str], event_type: str) -> bool:
    """Whether an endpoint's filter (empty: everything) takes an event type."""
    if not filters:
        return True
    group = event_type.split(".", 1)[0]
    return any(f in ("*", event_type, f"{group}.*") for f in filters)


def validated(filters: list[str]) -> list[str]:
    """The filter without duplicates, or 422 naming what the catalog does not hold."""
    unknown = [f for f in filters if not known(f)]
    if unknown:
        raise Problem(
            422,
            f"Unknown event types: {', '.join(unknown)}; GET "
            "/v1/integration/webhooks/event-types lists them (wildcards: `identity.*`, `*`).",
        )
    return sorted(set(filters))


def known(pattern: str) -> bool:
    """Whether a filter entry names a catalog type, a group wildcard or everything."""
    if pattern == "*" or pattern in NAMES:
        return True
    group, _, rest = pattern.partition(".")
    return rest == "*" and group in GROUPS

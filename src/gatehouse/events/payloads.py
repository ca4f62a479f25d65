"""The JSON Schema of each event type's `data`."""

from __future__ import annotations

from typing import Any

Schema = dict[str, Any]
STRING: Schema = {"type": "string"}
INTEGER: Schema = {"type": "integer"}
COUNT: Schema = {"type": "integer", "minimum": 0}
TIME: Schema = {"type": "string", "format": "date-time"}
STRINGS: Schema = {"type": "array", "items": STRING}


def closed(required: list[str], **properties: Schema) -> Schema:
    """An object with exactly these properties (the required ones and the optional rest)."""
    return {
        "type": "object",
        "required": required,
        "properties": properties,
        "additionalProperties": False,
    }


RECORD: Schema = {
    "type": "object",
    "required": ["id", "version", "source"],
    "properties": {
        "id": STRING,
        "version": INTEGER,
        "source": STRING,
        "after": {"type": "object", "description": "The record after the change."},
    },
}
ALERT: Schema = {
    "type": "object",
    "required": ["alert", "threshold", "value", "window_seconds"],
    "properties": {
        "alert": {"enum": ["failure_rate", "response_time", "cache_hit_rate", "policy_violations"]},
        "threshold": {"type": "number"},
        "value": {"type": ["number", "null"]},
        "window_seconds": {"type": "number"},
    },
}
REMOVED: Schema = {**RECORD, "description": "`after` is absent: the record is gone."}
MEMBER: Schema = {
    "type": "object",
    "required": ["group_id", "member_id", "member_type", "source"],
    "properties": {
        "group_id": STRING,
        "member_id": STRING,
        "member_type": {"enum": ["identity", "group"]},
        "source": STRING,
    },
}
MEMBERS: Schema = {
    **RECORD,
    "description": "The group's own record of a change to its members (one `membership.*` "
    "event per member comes with it).",
    "properties": {
        **RECORD["properties"],
        "after": {
            "type": "object",
            "required": ["members", "count"],
            "properties": {
                "members": {**STRINGS, "description": "The members' ids (the first 1000)."},
                "count": COUNT,
            },
        },
    },
}
RISK: Schema = {
    "type": "object",
    "required": ["id", "before", "after"],
    "properties": {
        "id": STRING,
        "before": INTEGER,
        "after": INTEGER,
        "factors": {"type": "array", "items": {"type": "object"}},
    },
}
BY_ID: Schema = {"type": "object", "required": ["id"], "properties": {"id": STRING}}
ENDPOINT_DISABLED: Schema = {
    "type": "object",
    "required": ["endpoint_id", "reason"],
    "properties": {"endpoint_id": STRING, "url": STRING, "reason": STRING},
}
TEST: Schema = {"type": "object", "required": ["message"], "properties": {"message": STRING}}
DECISION_DATA: Schema = {
    "type": "object",
    "required": ["path"],
    "properties": {"path": {**STRING, "description": "Where the data changed."}},
}

RUN = ["run_id", "connection_id", "mode", "trigger"]
RUN_FIELDS: dict[str, Schema] = {
    "run_id": STRING,
    "connection_id": {**STRING, "description": "The connection synced (`imports` for imports)."},
    "mode": {"enum": ["full_refresh", "incremental"]},
    "trigger": {"enum": ["manual", "schedule", "api", "cli", "import"]},
    "dry_run": {
        "type": "boolean",
        "description": "Nothing was written: the counts are what the run would have done.",
    },
}
TOTALS = ["created", "updated", "deleted", "errors", "duration_seconds", "counts"]
TOTAL_FIELDS: dict[str, Schema] = {
    "created": {**COUNT, "description": "Records and memberships created."},
    "updated": {**COUNT, "description": "Records changed."},
    "deleted": {**COUNT, "description": "Records deleted and memberships removed."},
    "errors": {**COUNT, "description": "Records rejected."},
    "duration_seconds": {"type": "number", "minimum": 0},
    "counts": {
        "type": "object",
        "description": "Every counter by kind (identity, group, membership, resource).",
        "additionalProperties": {"type": "object", "additionalProperties": COUNT},
    },
}
SYNC_STARTED = closed(RUN, started_at=TIME, **RUN_FIELDS)
SYNC_COMPLETED = closed(RUN + TOTALS, **RUN_FIELDS, **TOTAL_FIELDS)
SYNC_FAILED = closed(
    [*RUN, *TOTALS, "status", "error"],
    **RUN_FIELDS,
    **TOTAL_FIELDS,
    status={
        "enum": ["failed", "refused", "cancelled"],
        "description": "`refused`: deletions over the safety threshold; `cancelled`: the "
        "connection was paused while the run went on.",
    },
    error=STRING,
)
BUNDLE_PUBLISHED = closed(
    ["tenant", "revision", "etag", "content_hash", "changed", "rebuilt"],
    tenant=STRING,
    revision={"type": "integer", "minimum": 1},
    etag={**STRING, "description": "The ETag bundle clients see for this revision."},
    content_hash=STRING,
    changed={**COUNT, "description": "Document entries added, changed or removed."},
    rebuilt={
        "type": "boolean",
        "description": "The document was rebuilt (its shape or signing key changed): clients "
        "get a full bundle, no delta.",
    },
)
OPAL_PUBLISHED = closed(
    ["tenant", "update_id", "revision", "trigger", "reason", "attempts", "topics"],
    tenant=STRING,
    update_id={**STRING, "description": "The DataUpdate's id (OPAL clients report on it)."},
    revision={**INTEGER, "description": "The data document revision OPAL was told about."},
    trigger={"enum": ["change", "manual", "cli"]},
    connection_id={"type": ["string", "null"]},
    reason=STRING,
    attempts={"type": "integer", "minimum": 1},
    response_status={"type": ["integer", "null"]},
    topics=STRINGS,
)
TOKEN = ["id", "name", "scopes", "expires_at"]
TOKEN_FIELDS: dict[str, Schema] = {
    "id": STRING,
    "name": STRING,
    "scopes": STRINGS,
    "expires_at": {"type": ["string", "null"], "format": "date-time"},
}
TOKEN_CREATED = closed(
    [*TOKEN, "created_by"],
    **TOKEN_FIELDS,
    created_by={**STRING, "description": "Who created it (`token:<id>`, `cli:<user>`, ...)."},
    rate_limit_per_minute={"type": ["integer", "null"]},
)
TOKEN_REVOKED = closed(
    [*TOKEN, "revoked_at", "revoked_by"], **TOKEN_FIELDS, revoked_at=TIME, revoked_by=STRING
)

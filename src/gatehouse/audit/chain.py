"""The hash that links each audit entry to the one before it."""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

from gatehouse.audit.models import AuditEntry

GENESIS = "0" * 64


def chained_fields(entry: AuditEntry) -> dict[str, Any]:
    """The fields the hash covers, as plain JSON values."""
    return {
        "tenant_id": entry.tenant_id,
        "seq": entry.seq,
        "at": entry.at.isoformat(timespec="microseconds"),
        "actor": entry.actor,
        "action": entry.action,
        "target_type": entry.target_type,
        "target_id": entry.target_id,
        "outcome": entry.outcome,
        "ip": entry.ip,
        "user_agent": entry.user_agent,
        "request_id": entry.request_id,
        "before": entry.before,
        "after": entry.after,
        "prev_hash": entry.prev_hash,
    }


def entry_hash(entry: AuditEntry) -> str:
    """SHA-256 over the entry's canonical JSON, including the previous hash."""
    doc = chained_fields(entry)
    return hashlib.sha256(orjson.dumps(doc, option=orjson.OPT_SORT_KEYS)).hexdigest()

"""Response bodies of the audit API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict


class AuditOut(BaseModel):
    """One audit entry with its chain hashes."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    seq: int
    at: datetime
    actor: str
    action: str
    target_type: str
    target_id: str
    outcome: str
    ip: str
    user_agent: str
    request_id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    prev_hash: str
    hash: str

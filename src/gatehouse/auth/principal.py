"""The authenticated caller of a request."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from gatehouse.audit.context import Actor


@dataclass(frozen=True, slots=True)
class Principal:
    """A validated token: whose it is and what it may do."""

    token_id: str
    tenant_id: str
    scopes: frozenset[str]
    tier: str
    rate_limit: int | None
    expires_at: datetime | None = None

    @property
    def actor(self) -> str:
        """How this caller appears in the audit log."""
        return f"token:{self.token_id}"

    def audit_actor(self, ip: str, user_agent: str, request_id: str) -> Actor:
        """The audit actor for a request made with this token."""
        return Actor(self.tenant_id, self.actor, ip, user_agent, request_id)

"""Who did something, from where: recorded with every audit entry."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Actor:
    """The caller of an audited action."""

    tenant_id: str
    actor: str
    ip: str = ""
    user_agent: str = ""
    request_id: str = ""

"""What one generation of a tenant's engine is built from (immutable, shared by every thread)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True, eq=False)
class Sources:
    """A tenant's policies and data at one generation."""

    tenant: str
    number: int
    # The store's document as JSON; `data_key` changes exactly when its content does.
    data_json: bytes
    data_key: str
    local: dict[str, Any]
    modules: tuple[tuple[str, str], ...]
    policy_revision: str
    data_revision: str
    rego_v0: bool = False

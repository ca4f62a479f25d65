"""Request and response bodies of the tenant API."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from gatehouse.config import Tier

SLUG = r"^[a-z0-9][a-z0-9-]{1,62}$"


class TenantStatus(StrEnum):
    """States a tenant can be put in through the API."""

    active = "active"
    suspended = "suspended"


class TenantCreate(BaseModel):
    """A new tenant."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=SLUG, description="Slug used in URLs, e.g. `acme`; immutable.")
    name: str = Field(min_length=1, max_length=200)
    tier: Tier = Field(Tier.free, description="Rate-limit tier: free, pro or enterprise.")
    settings: dict[str, Any] = Field(default_factory=dict)


class TenantUpdate(BaseModel):
    """Fields of a tenant that can change; absent fields stay as they are."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, min_length=1, max_length=200)
    tier: Tier | None = None
    status: TenantStatus | None = Field(None, description="`suspended` refuses its tokens.")
    settings: dict[str, Any] | None = None


class TenantOut(BaseModel):
    """A tenant."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    tier: Tier
    status: str
    settings: dict[str, Any]
    created_at: datetime
    updated_at: datetime

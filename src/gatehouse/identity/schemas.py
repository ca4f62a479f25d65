"""Bodies of the identity store's operator API and the data its service accepts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

# Attributes kept as columns (queried, indexed); everything else lives in `attributes`.
IDENTITY_COLUMNS = (
    "user_name",
    "external_id",
    "display_name",
    "given_name",
    "family_name",
    "email",
    "title",
    "employee_number",
    "department",
    "organization",
    "cost_center",
    "manager_id",
    "active",
)

# A mapping target that is not a column: the source's own id for the person's manager, kept on
# the source's link and resolved to the manager's identity at the end of each sync run.
MANAGER = "manager"


class IdentityData(BaseModel):
    """What a source says about a person."""

    model_config = ConfigDict(extra="forbid")

    user_name: str = Field(min_length=1, max_length=256)
    external_id: str | None = Field(None, max_length=256)
    display_name: str | None = Field(None, max_length=256)
    given_name: str | None = Field(None, max_length=128)
    family_name: str | None = Field(None, max_length=128)
    email: str | None = Field(None, max_length=320)
    title: str | None = Field(None, max_length=256)
    employee_number: str | None = Field(None, max_length=64)
    department: str | None = Field(None, max_length=256)
    organization: str | None = Field(None, max_length=256)
    cost_center: str | None = Field(None, max_length=64)
    manager_id: str | None = Field(None, max_length=36)
    active: bool = True
    attributes: dict[str, Any] = Field(default_factory=dict)


class GroupData(BaseModel):
    """What a source says about a group."""

    model_config = ConfigDict(extra="forbid")

    display_name: str = Field(min_length=1, max_length=256)
    external_id: str | None = Field(None, max_length=256)
    attributes: dict[str, Any] = Field(default_factory=dict)


class IdentityOut(BaseModel):
    """An identity as operators see it."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    user_name: str
    external_id: str | None
    display_name: str | None
    given_name: str | None
    family_name: str | None
    email: str | None
    title: str | None
    employee_number: str | None
    department: str | None
    organization: str | None
    cost_center: str | None
    manager_id: str | None
    active: bool
    status: str
    risk_score: int
    risk_factors: list[dict[str, Any]]
    attributes: dict[str, Any]
    version: int
    created_at: datetime
    updated_at: datetime


class LinkOut(BaseModel):
    """A source record linked to an identity."""

    model_config = ConfigDict(from_attributes=True)

    source: str
    external_id: str


class VersionOut(BaseModel):
    """One recorded change."""

    model_config = ConfigDict(from_attributes=True)

    version: int
    actor: str
    source: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    at: datetime


class GroupOut(BaseModel):
    """A group as operators see it."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    display_name: str
    external_id: str | None
    attributes: dict[str, Any]
    version: int
    created_at: datetime
    updated_at: datetime


class IdentityDetail(IdentityOut):
    """An identity with its links, groups (direct and inherited) and history."""

    links: list[LinkOut]
    groups: list[GroupOut]
    history: list[VersionOut]


class MemberOut(BaseModel):
    """A member of a group."""

    id: str
    type: str
    display: str


class ResourceData(BaseModel):
    """What a source says about a resource: its type, its key within the type, attributes."""

    model_config = ConfigDict(extra="forbid")

    type: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
    key: str = Field(min_length=1, max_length=256)
    attributes: dict[str, Any] = Field(default_factory=dict)


class ResourceOut(BaseModel):
    """A typed resource record."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    type: str
    key: str
    attributes: dict[str, Any]
    version: int
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None = Field(
        None, description="When deletion detection removed it (listed only with deleted=true)."
    )

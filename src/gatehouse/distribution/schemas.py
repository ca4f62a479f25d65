"""Bodies of the distribution API: the document configuration, signing keys, snapshots."""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from gatehouse.connectors.protocol import Sensitivity

Stream = Literal["users", "groups", "resources"]
STREAMS: tuple[Stream, ...] = ("users", "groups", "resources")
ROOT_PATTERN = r"^[A-Za-z0-9_-]+(/[A-Za-z0-9_-]+)*$"
FIELD_NAME = re.compile(r"^((users|groups|resources)\.)?[^.\s]{1,200}$")


class UserKey(StrEnum):
    """Which attribute names a user in the document."""

    id = "id"
    user_name = "userName"
    email = "email"


class DocumentSettings(BaseModel):
    """The shape of a tenant's data document."""

    model_config = ConfigDict(extra="forbid")

    key: UserKey = Field(UserKey.id, description="What users are keyed by.")
    root: str = Field(
        "gatehouse",
        pattern=ROOT_PATTERN,
        max_length=200,
        description="Where the document sits under `data` (`a/b` is `data.a.b`); the bundle root.",
    )
    streams: list[Stream] = Field(
        default_factory=lambda: list(STREAMS), description="Which parts the document includes."
    )
    fields: dict[Stream, list[str]] = Field(
        default_factory=dict,
        description="Per stream, only these fields (empty or absent: every field that may leave).",
    )
    resource_types: list[str] = Field(
        default_factory=list, max_length=500, description="Only these resource types (empty: all)."
    )
    sensitivity: dict[str, Sensitivity] = Field(
        default_factory=dict,
        description="Level per field (`email` or `users.email`), overriding connections' levels.",
    )
    allow: list[str] = Field(
        default_factory=list,
        max_length=1000,
        description="Confidential or restricted fields that may leave anyway, named one by one.",
    )
    delta: bool = Field(True, description="Serve delta bundles to clients that accept them.")

    @field_validator("sensitivity", "allow")
    @classmethod
    def _field_names(cls, value: Any) -> Any:
        for name in value:
            if not FIELD_NAME.match(name):
                raise ValueError(f"{name!r} is not a field name (`field` or `users.field`)")
        return value


class DocumentConfigOut(BaseModel):
    """The configuration in force and where the document stands."""

    config: DocumentSettings
    version: int = Field(description="Bumped by every PUT.")
    revision: int = Field(description="The document's current revision.")
    content_hash: str
    fragments: int = Field(description="Users, groups and resources in the document.")
    updated_at: datetime | None


class KeyAlgorithm(StrEnum):
    """Signature algorithms OPA verifies that Gatehouse signs with."""

    rs256 = "RS256"
    es256 = "ES256"


class SigningKeyCreate(BaseModel):
    """A new signing key; it becomes the active one and the previous active key retires."""

    model_config = ConfigDict(extra="forbid")

    algorithm: KeyAlgorithm = KeyAlgorithm.rs256
    key_id: str | None = Field(
        None,
        pattern=r"^[A-Za-z0-9_.-]{1,64}$",
        description="The `keyid` OPA's config names (default: generated).",
    )
    scope: str = Field(
        "", max_length=100, description="The `scope` claim OPA's `signing.scope` must equal."
    )


class SigningKeyOut(BaseModel):
    """A signing key: its public half only."""

    key_id: str
    algorithm: KeyAlgorithm
    scope: str
    status: Literal["active", "retired"]
    public_key: str = Field(description="PEM; put it in OPA's `keys.<key_id>.key`.")
    created_by: str
    created_at: datetime
    retired_at: datetime | None


class SnapshotOut(BaseModel):
    """What one connection contributes to the document."""

    connection_id: str
    revision: int
    users: dict[str, Any]
    groups: dict[str, Any]
    resources: dict[str, dict[str, Any]]
    memberships: int = Field(description="Memberships this connection stated.")
    truncated: bool = Field(description="More records than `limit` were found.")

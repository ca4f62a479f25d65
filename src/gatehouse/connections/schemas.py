"""Request and response bodies of the connections API."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from gatehouse.connections.mapping import Mapping
from gatehouse.connectors.protocol import CheckFailure, Sensitivity, SyncMode

NAME = r"^[A-Za-z0-9][A-Za-z0-9 _.-]{0,199}$"
TYPE = r"^[a-z][a-z0-9_-]{0,63}$"
Status = Literal["active", "paused"]
CONFIG: Any = Field(
    default_factory=dict,
    description="Fields of the connector's spec (GET /pip/connectors); secret fields are "
    "stored encrypted and never returned.",
)


class ConnectionCreate(BaseModel):
    """A new connection."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=NAME, description="Unique among the tenant's connections.")
    type: str = Field(pattern=TYPE, description="Connector type, e.g. postgresql.")
    config: dict[str, Any] = CONFIG
    status: Status = "active"


class ConnectionUpdate(BaseModel):
    """A changed connection: `config` replaces the configuration, except that a secret field
    left out keeps its stored value (send null to clear it)."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, pattern=NAME)
    config: dict[str, Any] | None = Field(None, description="The whole configuration.")
    status: Status | None = None


class ConnectionTest(BaseModel):
    """An unsaved configuration to test."""

    model_config = ConfigDict(extra="forbid")

    type: str = Field(pattern=TYPE)
    config: dict[str, Any] = CONFIG


class CheckOut(BaseModel):
    """The outcome of a connection check."""

    ok: bool
    failure: CheckFailure | None = Field(
        None, description="auth, unreachable, tls, permission, config, timeout or error."
    )
    message: str = Field(description="What happened, and what to do about it.")
    hint: str | None = Field(None, description="The usual fix for this kind of failure.")
    details: dict[str, Any] = Field(default_factory=dict)
    checked_at: datetime
    duration_ms: float


class HealthOut(CheckOut):
    """A live check of a saved connection."""

    connection_id: str
    status: str


class LastCheck(BaseModel):
    """The most recent check of a connection."""

    ok: bool | None
    failure: str | None
    message: str
    checked_at: datetime | None


class ConnectionOut(BaseModel):
    """A connection; secret fields only say whether they are set."""

    id: str
    name: str
    type: str
    status: str
    config: dict[str, Any]
    secrets: dict[str, str] = Field(description="Each secret field: `set` or `not set`.")
    mapping: dict[str, Any]
    last_check: LastCheck
    discovered_at: datetime | None
    created_by: str
    created_at: datetime
    updated_at: datetime


class FieldOut(BaseModel):
    """A discovered field."""

    name: str
    type: str
    format: str | None
    nullable: bool
    sensitivity: Sensitivity = Field(description="Suggested, or the mapping's override.")


class StreamOut(BaseModel):
    """A discovered stream."""

    name: str
    fields: list[FieldOut]
    primary_key: list[str]
    cursor_candidates: list[str]
    kind: str | None = Field(description="Suggested target: identity, group, membership, ...")
    supported_modes: list[SyncMode]


class SchemaOut(BaseModel):
    """What a connection's source offers."""

    connection_id: str
    discovered_at: datetime
    streams: list[StreamOut]


class MappingIn(Mapping):
    """The mapping to store."""


class ConnectorOut(BaseModel):
    """An installed connector type."""

    name: str
    title: str
    spec: dict[str, Any] = Field(description="JSON Schema of its configuration.")
    secret_fields: list[str]

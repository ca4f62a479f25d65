"""Bodies of the OPAL routes: settings, OPAL's DataUpdate and DataUpdateReport, status, config."""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, field_validator

# A tenant's own topic: `gatehouse:{tenant}`, optionally `:<name>`. Tenant ids hold no `:` or
# `/`, so two tenants' topics never meet, nor do OPAL's sub-topics (`a/b` is also sent as `a`).
TOPIC = r"^gatehouse:\{tenant\}(:[A-Za-z0-9_.-]{1,64})?$"
DST_PATH = r"^(/[A-Za-z0-9_-]+)*/?$"
DEFAULT_TOPICS = ("gatehouse:{tenant}",)


class SaveMethod(StrEnum):
    """How an OPAL client stores the fetched document (OPAL's `save_method`)."""

    put = "PUT"
    patch = "PATCH"


class OpalSettings(BaseModel):
    """Where and how a tenant's changes are published to OPAL (no secrets here)."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(False, description="Publish on every committed change.")
    server_url: AnyHttpUrl | None = Field(
        None, description="The OPAL server; updates go to its `POST /data/config`."
    )
    fetch_base_url: AnyHttpUrl | None = Field(
        None, description="Gatehouse's URL as OPAL clients reach it (entries point there)."
    )
    topics: list[str] = Field(
        default_factory=lambda: list(DEFAULT_TOPICS),
        min_length=1,
        max_length=1,
        description="The entry's one data topic, the tenant's own: `gatehouse:{tenant}` or "
        "`gatehouse:{tenant}:<name>` (`{tenant}` stands for the tenant's id).",
    )
    dst_path: str | None = Field(
        None,
        pattern=DST_PATH,
        max_length=300,
        description="Where OPA keeps the document (default: the document's root, `/gatehouse`).",
    )
    save_method: SaveMethod = Field(SaveMethod.put, description="PUT replaces; PATCH merges.")
    debounce_seconds: float = Field(
        1.0, ge=0, le=3600, description="Least time between two publishes of one tenant."
    )
    callback_url: AnyHttpUrl | None = Field(
        None, description="Where OPAL clients report each update (`/opal/reports/{tenant}`)."
    )

    @field_validator("topics")
    @classmethod
    def _topics(cls, value: list[str]) -> list[str]:
        bad = [t for t in value if not re.match(TOPIC, t)]
        if bad:
            raise ValueError(
                f"a topic must be the tenant's own, gatehouse:{{tenant}} or "
                f"gatehouse:{{tenant}}:<letters, digits, _.->, not {bad[0]!r}: a topic two "
                "tenants share hands one tenant's updates to the other's OPAL clients"
            )
        return value


class OpalSettingsIn(OpalSettings):
    """A settings change: tokens are write-only (`null` keeps, `""` clears)."""

    datasource_token: str | None = Field(
        None, max_length=8192, description="Bearer token for OPAL's `POST /data/config`."
    )
    fetch_token: str | None = Field(
        None,
        max_length=8192,
        description="Gatehouse token (scope `opal:read`) OPAL clients send when fetching.",
    )


class OpalSettingsOut(OpalSettings):
    """The settings as stored; tokens only say whether they are set."""

    datasource_token_set: bool = False
    fetch_token_set: bool = False
    version: int = 0
    updated_at: datetime | None = None


class DataSourceEntry(BaseModel):
    """One entry of an OPAL DataUpdate (OPAL's `DataSourceEntry`)."""

    model_config = ConfigDict(extra="allow")

    url: str = Field(max_length=2000)
    config: dict[str, Any] | None = None
    topics: list[str] = Field(default_factory=list, max_length=100)
    dst_path: str = Field("", max_length=1000)
    save_method: str = Field("PUT", max_length=10)
    data: Any = None


class DataEntryReport(BaseModel):
    """What an OPAL client did with one entry (OPAL's `DataEntryReport`)."""

    model_config = ConfigDict(extra="allow")

    entry: DataSourceEntry
    hash: str | None = Field(None, max_length=200)
    fetched: bool | None = False
    saved: bool | None = False


class DataUpdateReport(BaseModel):
    """The report an OPAL client posts to an update's callbacks (OPAL's `DataUpdateReport`)."""

    model_config = ConfigDict(extra="ignore")

    update_id: str | None = Field(None, max_length=200)
    reports: list[DataEntryReport] = Field(max_length=1000)
    user_data: dict[str, Any] = Field(default_factory=dict)


class ReportReceived(BaseModel):
    """The answer to a report."""

    stored: bool
    succeeded: bool


class PublishOut(BaseModel):
    """One publish: what was (or will be) sent, and how it went."""

    id: str
    connection_id: str | None
    trigger: str
    reason: str
    revision: int
    status: str = Field(description="pending, sending, delivered or failed")
    attempts: int
    last_error: str | None
    response_status: int | None
    created_at: datetime
    due_at: datetime
    last_attempt_at: datetime | None
    delivered_at: datetime | None
    update: dict[str, Any] | None = Field(None, description="The DataUpdate, tokens left out.")


class ReportOut(BaseModel):
    """One OPAL client report."""

    update_id: str | None
    received_at: datetime
    succeeded: bool
    entries: list[dict[str, Any]]
    reporter: str


class OpalStatusOut(BaseModel):
    """What was published to OPAL, how it went, and what OPAL clients reported."""

    enabled: bool
    revision: int = Field(description="The data document's current revision.")
    pending: int
    failed: int
    last_delivered: PublishOut | None
    publishes: list[PublishOut]
    reports: list[ReportOut]


class OpalConfigOut(BaseModel):
    """Ready-to-use OPAL server and client configuration (placeholders instead of secrets)."""

    server_env: dict[str, str]
    client_env: dict[str, str]
    data_sources: dict[str, Any] = Field(description="`OPAL_DATA_CONFIG_SOURCES`, parsed.")
    notes: list[str]

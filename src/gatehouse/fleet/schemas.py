"""Bodies of the fleet routes: OPA's status report, and what Gatehouse answers and lists."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from gatehouse.fleet.timestamps import optional_time

Label = Field(max_length=1000)


class OpaBundleStatus(BaseModel):
    """One bundle's status as OPA reports it (`bundles[_]` and `discovery`)."""

    model_config = ConfigDict(extra="allow")

    name: str = Field("", max_length=500, description="The bundle's name in OPA's config.")
    active_revision: str = Field("", max_length=1000, description="Revision OPA activated last.")
    last_request: AwareDatetime | None = None
    last_successful_request: AwareDatetime | None = None
    last_successful_download: AwareDatetime | None = None
    last_successful_activation: AwareDatetime | None = None
    metrics: dict[str, Any] | None = None
    code: str = Field("", max_length=200, description="Set when activation failed.")
    message: str = Field("", max_length=10_000)
    http_code: int | None = Field(None, description="An HTTP error OPA got downloading it.")
    errors: list[Any] | None = Field(None, max_length=1000)
    size: int | None = Field(None, ge=0)
    type: str = Field("", max_length=20, description="`snapshot` or `delta`.")

    _never = field_validator(
        "last_request",
        "last_successful_request",
        "last_successful_download",
        "last_successful_activation",
    )(optional_time)


class OpaPluginStatus(BaseModel):
    """A plugin's state in OPA's runtime."""

    model_config = ConfigDict(extra="allow")

    state: str = Field(max_length=50, description="`OK`, `NOT_READY`, `ERR`, ...")
    message: str = Field("", max_length=10_000)


class OpaStatusReport(BaseModel):
    """The status update OPA's status plugin posts (its UpdateRequestV1)."""

    model_config = ConfigDict(extra="ignore")

    labels: dict[str, str] = Field(description="Identify the instance; OPA adds `id`, `version`.")
    bundle: OpaBundleStatus | None = Field(None, description="Deprecated single-bundle status.")
    bundles: dict[str, OpaBundleStatus] | None = Field(None, max_length=1000)
    discovery: OpaBundleStatus | None = None
    decision_logs: dict[str, Any] | None = Field(None, description="Last decision-log upload.")
    metrics: dict[str, Any] | None = None
    plugins: dict[str, OpaPluginStatus] | None = Field(None, max_length=1000)

    @field_validator("labels")
    @classmethod
    def _identified(cls, labels: dict[str, str]) -> dict[str, str]:
        ident = labels.get("id", "")
        if not ident.strip():
            raise ValueError("labels.id is required: OPA sets it to the instance's unique id")
        if len(ident) > 200 or len(labels) > 100 or any(len(v) > 1000 for v in labels.values()):
            raise ValueError("labels are at most 100 of at most 1000 characters (id: 200)")
        return labels


class StatusAccepted(BaseModel):
    """What Gatehouse recorded of a status report."""

    instance_id: str
    bundles: dict[str, str] = Field(description="Bundle name → the active revision reported.")
    received_at: datetime


class BundleError(BaseModel):
    """Why an instance's last download or activation of a bundle failed."""

    code: str
    message: str
    http_code: int | None = None
    errors: list[Any] = Field(default_factory=list)


class BundleOut(BaseModel):
    """One bundle of one instance against what Gatehouse serves."""

    name: str
    active_revision: str
    served_revision: str | None = Field(description="Null when nothing is known to be served.")
    behind: bool | None = Field(description="Null when nothing is known to be served.")
    revisions_behind: int | None = Field(description="Revisions between the two, when known.")
    behind_since: datetime | None
    behind_seconds: float | None
    revision_seen_at: datetime | None = Field(description="Since when it runs this revision.")
    last_request: datetime | None
    last_successful_request: datetime | None
    last_successful_download: datetime | None
    last_successful_activation: datetime | None
    type: str = ""
    size: int | None = None
    error: BundleError | None = None


class InstanceOut(BaseModel):
    """An OPA instance: who it is, when it last reported, its bundles and plugins."""

    instance_id: str
    version: str
    labels: dict[str, str]
    partition: str
    first_seen_at: datetime
    last_report_at: datetime
    reports: int
    stale: bool = Field(description="No report for the configured number of intervals.")
    silent_seconds: float = Field(description="Seconds since its last report.")
    bundles: list[BundleOut]
    discovery: dict[str, Any] | None
    decision_logs: dict[str, Any] | None
    plugins: dict[str, Any]


class FleetStatus(BaseModel):
    """A page of instances, and counts over the tenant's whole fleet."""

    items: list[InstanceOut]
    next_cursor: str | None = Field(None, description="Pass as `cursor` to get the next page.")
    instances: int = Field(description="Instances that ever reported.")
    stale: int = Field(description="Of those, instances silent for too long.")
    stale_after_seconds: float


class DecisionUpload(BaseModel):
    """What one decision-log upload stored."""

    received: int = Field(description="Events in the upload.")
    stored: int = Field(description="Events new to the log.")
    duplicates: int = Field(description="Events whose decision id the log already held.")


class DecisionOut(BaseModel):
    """One decision in the log (input and result as stored: masked)."""

    model_config = ConfigDict(from_attributes=True)

    decision_id: str
    decided_at: datetime
    received_at: datetime
    engine: str = Field(description="`opa` for the fleet's uploads; Gatehouse's own engines.")
    instance_id: str
    endpoint: str | None
    path: str
    query: str | None
    input: Any
    defined: bool = Field(description="False when the decision was undefined.")
    result: Any
    latency_ms: float | None
    cache_hit: bool | None
    labels: dict[str, str]
    bundles: dict[str, Any]
    metrics: dict[str, Any] | None
    erased: list[str]
    masked: list[str]
    requested_by: str | None
    error: Any

"""Request and response bodies of the webhooks API."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from gatehouse.kit.pagination import Page

RetryPolicy = Literal["exponential", "linear", "no_retry"]


class EventTypeOut(BaseModel):
    """One event type and the JSON Schema of its `data`."""

    name: str
    description: str
    data_schema: dict[str, Any] = Field(alias="schema")

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)


class EndpointFields(BaseModel):
    """What may be set on an endpoint besides its URL."""

    model_config = ConfigDict(extra="forbid")

    description: str | None = Field(None, max_length=1000)
    event_types: list[str] | None = Field(
        None, max_length=100, description="Types or wildcards (`identity.*`); empty: all."
    )
    enabled: bool | None = None
    retry_policy: RetryPolicy | None = None
    timeout_seconds: float | None = Field(None, gt=0, le=60)
    max_retries: int | None = Field(None, ge=0, le=20)
    headers: dict[str, str] | None = Field(
        None, max_length=20, description="Sent with every delivery; `webhook-*` are reserved."
    )
    rate_limit: int | None = Field(None, ge=1, le=10000, description="Deliveries per second.")
    ordered: bool | None = Field(
        None, description="Send one message at a time, in outbox order (each waits for the last)."
    )


class EndpointIn(EndpointFields):
    """A new endpoint."""

    url: str = Field(min_length=1, max_length=2000)


class EndpointPatch(EndpointFields):
    """Changes to an endpoint; absent fields stay as they are."""

    url: str | None = Field(None, min_length=1, max_length=2000)


class EndpointOut(BaseModel):
    """An endpoint; its signing secret is never shown here."""

    id: str
    url: str
    description: str
    event_types: list[str]
    enabled: bool
    disabled_reason: str | None
    retry_policy: str
    timeout_seconds: float
    max_retries: int
    headers: dict[str, str]
    rate_limit: int | None
    ordered: bool
    previous_secret_until: datetime | None
    created_at: datetime
    updated_at: datetime


class EndpointCreated(EndpointOut):
    """A new endpoint with its signing secret, shown this once."""

    secret: str = Field(description="`whsec_...`: store it now, it is never shown again.")


class SecretRotated(BaseModel):
    """The new signing secret (shown once) and until when the old one still signs."""

    secret: str
    previous_secret_until: datetime


class RotateIn(BaseModel):
    """How long the old secret keeps signing alongside the new one."""

    model_config = ConfigDict(extra="forbid")

    grace_hours: float | None = Field(None, ge=0, le=720)


class AttemptOut(BaseModel):
    """One POST of a delivery."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    delivery_id: str
    event_type: str
    series: int = Field(description="Which sending of the message: 1, then one more per resend.")
    attempt: int = Field(description="The attempt's number within its series.")
    succeeded: bool
    request_headers: dict[str, str]
    response_status: int | None
    response_body: str
    latency_ms: float
    error: str | None
    created_at: datetime


class AttemptPage(Page[AttemptOut]):
    """A page of attempts and the endpoint's success rate over all of them."""

    success_rate: float | None = Field(description="Share of attempts answered 2xx.")
    attempts: int = Field(description="Attempts recorded for the endpoint.")


class DeliveryOut(BaseModel):
    """One message for one endpoint and where it stands."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    event_type: str
    status: str
    series: int = Field(description="1, then one more each time the message is sent again.")
    attempts: int = Field(description="Attempts in the current series.")
    due_at: datetime
    last_status: int | None
    last_error: str | None


class RecoverIn(BaseModel):
    """Resend every failed delivery created since a time."""

    model_config = ConfigDict(extra="forbid")

    since: datetime


class Recovered(BaseModel):
    """How many failed deliveries were queued again."""

    queued: int


class TestResult(BaseModel):
    """How the endpoint answered a `webhook.test` message (as reference 004's testWebhook)."""

    success: bool
    status_code: int | None
    response_time_ms: float
    error_message: str | None
    delivery_id: str

"""Request and response models of the decision settings."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

DEFAULT_ENTRYPOINT = "authz/allow"


class DecisionSettings(BaseModel):
    """How a tenant's decision requests are treated (a `PUT` changes the fields it names)."""

    model_config = ConfigDict(extra="forbid")

    enrich: bool = Field(
        True,
        description="Replace `input.subject` (an id or userName, or an object with `id`) with "
        "the store's record of that user merged in (store fields win).",
    )
    entrypoint: str = Field(
        DEFAULT_ENTRYPOINT,
        max_length=500,
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*(/[A-Za-z_][A-Za-z0-9_]*)*$",
        description="The rule (slash-separated path under `data`) AuthZEN's `/access/v1` and "
        "`/v1/authorize` evaluate: a boolean, or an object `{allow, constraints, reasons}`.",
    )


class CacheSettings(BaseModel):
    """A tenant's decision cache; a field left null takes the configured default."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool | None = Field(None, description="Cache the embedded engines' answers.")
    ttl_seconds: float | None = Field(
        None, gt=0, le=86_400, description="Seconds an answer is reused."
    )
    max_entries: int | None = Field(
        None, ge=1, le=1_000_000, description="Most answers kept for the tenant (in memory)."
    )


class AlertThresholds(BaseModel):
    """When a tenant's decisions raise an alert (reference 002's `alert_thresholds`); null: off."""

    model_config = ConfigDict(extra="forbid")

    failure_rate: float | None = Field(
        None, ge=0, le=1, description="Raise above this share of failed decisions."
    )
    response_time: float | None = Field(
        None, gt=0, description="Raise above this average response time (milliseconds)."
    )
    cache_hit_rate: float | None = Field(
        None, ge=0, le=1, description="Raise below this share of cache hits."
    )
    policy_violations: float | None = Field(
        None, ge=0, description="Raise above this many denied decisions per hour."
    )

"""Request and response bodies of the decision configuration and health API."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from gatehouse.decisions.remote.spec import segments
from gatehouse.decisions.routing.pem import check_certificates, check_private_key

Mode = Literal["embedded", "remote"]
Fallback = Literal["deny", "basic", "embedded"]
Balancing = Literal["round_robin", "health_based"]
MAX_ENDPOINTS = 16
SECRET_FIELDS = ("bearer_token", "client_key")
TRUST_FIELDS = ("tls_verify", "ca_bundle")  # who may answer at the URL: stored secrets bind to it
DEFAULT_DECISION = "/system/main"
DECISION_PATH = r"^/?[A-Za-z0-9_-]+(/[A-Za-z0-9_-]+)*$"


def data_path(path: str) -> str:
    """A rule's path with slashes, however it was written (`a.b`, `/a/b/`)."""
    return "/".join(segments(path))


class Strict(BaseModel):
    """A body that refuses unknown fields."""

    model_config = ConfigDict(extra="forbid")


class EndpointIn(Strict):
    """One OPA server. Secret fields are write-only: left out, the stored value for the same
    URL is kept; null clears it."""

    url: str = Field(max_length=500, description="Base URL, e.g. https://opa-1.example:8181.")
    tls_verify: bool = Field(True, description="Verify the server certificate (https only).")
    ca_bundle: str | None = Field(None, max_length=65_536, description="PEM CA certificates.")
    client_cert: str | None = Field(None, max_length=65_536, description="PEM, for mTLS.")
    client_key: SecretStr | None = Field(None, description="PEM private key for mTLS.")
    bearer_token: SecretStr | None = Field(None, description="OPA's token authentication.")
    allow_insecure_token: bool = Field(
        False,
        description="Send the bearer token over plain http:// too (anyone on the path reads "
        "it; by default a token needs an https:// URL).",
    )

    @field_validator("url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http:// or https:// URL with a host")
        if parts.username or parts.password or parts.query or parts.fragment:
            raise ValueError("must not carry credentials, a query or a fragment")
        return value.strip().rstrip("/")

    @field_validator("ca_bundle", "client_cert")
    @classmethod
    def _certificates(cls, value: str | None) -> str | None:
        return check_certificates(value) if value else None

    @field_validator("client_key")
    @classmethod
    def _key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            check_private_key(value.get_secret_value())
        return value

    @model_validator(mode="after")
    def _tls_needs_https(self) -> EndpointIn:
        tls = self.ca_bundle or self.client_cert or not self.tls_verify
        if tls and not self.url.startswith("https://"):
            raise ValueError("TLS settings need an https:// URL")
        return self


class HealthCheckIn(Strict):
    """Active health checks (reference: `health_check`)."""

    enabled: bool = True
    endpoint: str = Field("/health", pattern=r"^/[^\s?#]*(\?[^\s#]*)?$", max_length=200)
    interval_seconds: float = Field(15.0, ge=0.05, le=3600)
    timeout_seconds: float = Field(5.0, gt=0, le=60)
    failure_threshold: int = Field(2, ge=1, le=100)


class CircuitBreakerIn(Strict):
    """Per-endpoint circuit breaker (reference: `circuit_breaker`)."""

    failure_threshold: int = Field(5, ge=1, le=1000)
    recovery_timeout: float = Field(30.0, ge=0.05, le=3600, description="Seconds open.")
    half_open_max_calls: int = Field(3, ge=1, le=1000)


class DecisionConfigIn(Strict):
    """How a tenant's decisions are made (PUT replaces it whole)."""

    mode: Mode = "embedded"
    opa_endpoints: list[EndpointIn] = Field(default_factory=list, max_length=MAX_ENDPOINTS)
    policy_package: str = Field(
        "", pattern=r"^[A-Za-z0-9_./-]*$", max_length=200, description="Remote path prefix."
    )
    load_balancing: Balancing = "round_robin"
    health_check: HealthCheckIn = Field(default_factory=HealthCheckIn)
    circuit_breaker: CircuitBreakerIn = Field(default_factory=CircuitBreakerIn)
    request_timeout: float = Field(5.0, gt=0, le=120, description="Seconds per attempt.")
    max_connections: int = Field(100, ge=1, le=10_000, description="Pool size per endpoint.")
    http2: bool = Field(True, description="Offer HTTP/2 to https endpoints (ALPN).")
    fallback_mode: Fallback = "deny"
    deny_results: dict[str, Any] = Field(
        default_factory=dict, description="`deny` fallback value per path (default false)."
    )
    basic_grants: dict[str, list[str]] = Field(
        default_factory=dict, description="`basic` fallback: role or group -> permissions."
    )
    default_decision: str = Field(
        DEFAULT_DECISION,
        pattern=DECISION_PATH,
        max_length=500,
        description="The rule OPA's `POST /` evaluates (OPA's `default_decision`, slash "
        "separated under `data`).",
    )

    @field_validator("default_decision")
    @classmethod
    def _rooted(cls, value: str) -> str:
        return "/" + value.strip("/")

    @field_validator("opa_endpoints", mode="before")
    @classmethod
    def _plain_urls(cls, value: Any) -> Any:
        # The reference lists endpoints as bare URLs; both forms are accepted.
        if isinstance(value, list):
            return [{"url": v} if isinstance(v, str) else v for v in value]
        return value

    @field_validator("fallback_mode", mode="before")
    @classmethod
    def _reference_name(cls, value: Any) -> Any:
        return "embedded" if value == "embedded_policies" else value

    @field_validator("deny_results")
    @classmethod
    def _slash_paths(cls, value: dict[str, Any]) -> dict[str, Any]:
        return {data_path(path): result for path, result in value.items()}

    @model_validator(mode="after")
    def _remote_needs_endpoints(self) -> DecisionConfigIn:
        if self.mode == "remote" and not self.opa_endpoints:
            raise ValueError("remote mode needs at least one entry in opa_endpoints")
        urls = [e.url for e in self.opa_endpoints]
        if len(set(urls)) != len(urls):
            raise ValueError("opa_endpoints lists a URL twice")
        return self


class DecisionConfigPatch(Strict):
    """Fields to change; the rest stay (`opa_endpoints`, when sent, replaces the list)."""

    mode: Mode | None = None
    opa_endpoints: list[dict[str, Any] | str] | None = None
    policy_package: str | None = None
    load_balancing: Balancing | None = None
    health_check: dict[str, Any] | None = None
    circuit_breaker: dict[str, Any] | None = None
    request_timeout: float | None = None
    max_connections: int | None = None
    http2: bool | None = None
    fallback_mode: str | None = None
    deny_results: dict[str, Any] | None = None
    basic_grants: dict[str, list[str]] | None = None
    default_decision: str | None = None


class EndpointOut(BaseModel):
    """An endpoint as configured; secrets only say whether they are set."""

    url: str
    tls_verify: bool
    ca_bundle: str | None
    client_cert: str | None
    client_key_set: bool
    bearer_token_set: bool
    allow_insecure_token: bool


class DecisionConfigOut(BaseModel):
    """A tenant's decision configuration."""

    tenant_id: str
    mode: Mode
    opa_endpoints: list[EndpointOut]
    policy_package: str
    load_balancing: Balancing
    health_check: HealthCheckIn
    circuit_breaker: CircuitBreakerIn
    request_timeout: float
    max_connections: int
    http2: bool
    fallback_mode: Fallback
    deny_results: dict[str, Any]
    basic_grants: dict[str, list[str]]
    default_decision: str
    version: int
    updated_at: datetime | None


class EndpointHealth(BaseModel):
    """What this Gatehouse process knows about one endpoint right now."""

    url: str
    healthy: bool | None = Field(description="Last health verdict; null before the first check.")
    consecutive_failures: int = Field(description="Failed health checks in a row.")
    last_check: datetime | None
    last_error: str | None
    breaker_state: Literal["closed", "open", "half_open"]
    breaker_failures: int = Field(description="Failed requests in a row (the breaker's count).")
    latency_ms: float | None = Field(description="Moving average of answered requests.")
    requests: int
    failures: int
    last_success: datetime | None


class RaisedAlert(BaseModel):
    """An alert threshold the tenant's decisions cross now (as this process counts them)."""

    alert: Literal["failure_rate", "response_time", "cache_hit_rate", "policy_violations"]
    threshold: float
    value: float | None = Field(description="The measure over the latest window.")
    window_seconds: float
    since: datetime = Field(description="When it was raised.")


class TenantHealth(BaseModel):
    """A tenant's decision routing as this process sees it (reference: get_tenant_health)."""

    tenant_id: str
    mode: Mode
    fallback_mode: Fallback
    load_balancing: Balancing
    healthy: bool = Field(description="At least one endpoint can take requests (remote mode).")
    endpoints: dict[str, EndpointHealth]
    metrics: dict[str, int]
    alerts: list[RaisedAlert] = Field(
        default_factory=list,
        description="The alert thresholds (`/v1/decision-settings/alerts`) raised now, "
        "evaluated every `GATEHOUSE_ALERTS_INTERVAL_SECONDS` over this process's decisions.",
    )

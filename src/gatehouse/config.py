"""Settings read from the environment (prefix GATEHOUSE_) and an optional .env file."""

from __future__ import annotations

import ipaddress
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


SECRET_FIELDS = frozenset({"master_key", "database_url", "redis_url"})


class Tier(StrEnum):
    """Rate-limit tiers a tenant can be on."""

    free = "free"
    pro = "pro"
    enterprise = "enterprise"


# The setting holding each tier's per-minute budget (read per request: no enum, no table built).
TIER_FIELDS = {tier.value: f"rate_limit_{tier.value}" for tier in Tier}


class ConfigError(Exception):
    """A setting is wrong; the message names the variable and what is allowed."""


class Settings(BaseSettings):
    """Every setting Gatehouse reads; see docs/configuration.md."""

    model_config = SettingsConfigDict(
        env_prefix="GATEHOUSE_", env_file=".env", extra="ignore", validate_default=True
    )

    home: Path = Field(Path("var"), description="State directory: SQLite file, key file.")
    database_url: str = Field("", description="SQLAlchemy async URL; empty means SQLite in home.")
    redis_url: str = Field("", description="Redis URL for shared rate limits; empty = in-process.")
    master_key: SecretStr | None = Field(
        None, description="Base64 (url-safe) 32-byte key; empty means the key file in home."
    )
    outbound_allow: Annotated[list[IPNetwork], NoDecode] = Field(
        default_factory=list, description="CIDRs outbound calls may reach despite the guard."
    )
    source_roots: Annotated[list[Path], NoDecode] = Field(
        default_factory=list,
        description="Directories file-based sources (SQLite, ...) may read; empty = home/sources.",
    )
    connector_check_timeout: float = Field(
        10.0, gt=0, le=300, description="Seconds a connection check may take."
    )
    connector_discover_timeout: float = Field(
        60.0, gt=0, le=3600, description="Seconds schema discovery may take."
    )
    worker_in_process: bool = Field(
        True,
        description="Run the sync worker inside `gatehouse serve` (false: `gatehouse worker`).",
    )
    worker_poll_seconds: float = Field(
        2.0, gt=0, le=300, description="How often an idle worker looks for due work."
    )
    sync_lease_seconds: float = Field(
        60.0, ge=5, le=3600, description="How long a worker holds a run without committing."
    )
    sync_retries: int = Field(3, ge=0, le=20, description="Retries of a transient source error.")
    sync_max_delete_fraction: float = Field(
        0.3,
        ge=0,
        le=1,
        description="Largest share of a source's records a full run may delete unconfirmed.",
    )
    token_default_expiry_days: int = Field(365, ge=1, le=3650)
    rate_limit_free: int = Field(60, ge=1, description="Requests per minute, free tier.")
    rate_limit_pro: int = Field(1000, ge=1, description="Requests per minute, pro tier.")
    rate_limit_enterprise: int = Field(5000, ge=1, description="Requests per minute, enterprise.")
    platform_rate_limit: int = Field(
        5000, ge=1, description="Per-minute budget of platform tokens."
    )
    token_cache_seconds: float = Field(
        2.0, ge=0, le=60, description="How long a validated token is trusted without a lookup."
    )
    max_body_bytes: int = Field(1_048_576, ge=1024, description="Largest accepted request body.")
    scim_bulk_max_operations: int = Field(
        1000, ge=1, le=100_000, description="Most operations in one SCIM /Bulk request."
    )
    scim_bulk_max_payload_bytes: int = Field(
        1_048_576, ge=1024, le=104_857_600, description="Largest SCIM /Bulk request body."
    )
    import_max_bytes: int = Field(
        100 * 1024 * 1024,
        ge=1024,
        le=256 * 1024 * 1024,
        description="Largest file POST /pip/import and `gatehouse import` accept (≤ 256 MiB).",
    )
    distribution_poll_seconds: float = Field(
        0.5, gt=0, le=60, description="How often data documents look for changes made elsewhere."
    )
    idle_poll_max_seconds: float = Field(
        5.0,
        ge=0,
        le=300,
        description="Longest wait of an idle background loop (each backs off from its own poll "
        "period to at most ten times it, and to this; 0 = never back off). Writes made in the "
        "same process wake loops at once; this bounds how late changes made elsewhere are seen.",
    )
    distribution_max_wait_seconds: int = Field(
        300, ge=0, le=3600, description="Longest bundle long poll (`Prefer: wait=N`) honoured."
    )
    distribution_delta_window: int = Field(
        500, ge=1, le=1_000_000, description="Revisions a delta bundle may span (older: full)."
    )
    distribution_delta_max_ops: int = Field(
        10_000, ge=1, description="Most operations in a delta bundle (more: a full bundle)."
    )
    distribution_max_document_bytes: int = Field(
        512 * 1024 * 1024, ge=1024, description="Largest data document a bundle may carry."
    )
    distribution_gzip_level: int = Field(
        1, ge=1, le=9, description="gzip level of bundles (1: fastest; data compresses well)."
    )
    opal_max_document_bytes: int = Field(
        64 * 1024 * 1024,
        ge=1024,
        description="Largest data document OPAL clients may fetch from /opal/pip-data.",
    )
    opal_report_max_bytes: int = Field(
        256 * 1024, ge=1024, le=16 * 1024 * 1024, description="Largest OPAL client report."
    )
    opal_retry_max_seconds: float = Field(
        60.0, gt=0, le=3600, description="Longest wait between retries of an OPAL publish."
    )
    opal_poll_seconds: float = Field(
        1.0, gt=0, le=60, description="How often the OPAL publisher looks for due publishes."
    )
    webhooks_worker: bool = Field(
        True,
        description="Deliver webhooks from this process (`gatehouse serve` or "
        "`gatehouse worker`); off: other processes deliver them.",
    )
    webhooks_poll_seconds: float = Field(
        1.0, gt=0, le=60, description="How often the webhook worker looks for due deliveries."
    )
    webhooks_require_https: bool = Field(
        False, description="Refuse webhook endpoints whose URL is not https."
    )
    webhooks_retry_schedule: list[float] = Field(
        default_factory=lambda: [0.0, 5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0],
        description="Seconds before each attempt of a delivery (exponential policy; ±20% jitter).",
    )
    webhooks_linear_seconds: float = Field(
        60.0, gt=0, le=86400, description="Wait between attempts under the linear retry policy."
    )
    webhooks_retry_after_max_seconds: float = Field(
        3600.0, ge=0, le=86400, description="Longest Retry-After (429/503) a receiver may ask."
    )
    webhooks_max_payload_bytes: int = Field(
        1024 * 1024, ge=1024, description="Largest webhook body; larger messages fail unsent."
    )
    webhooks_secret_grace_hours: float = Field(
        24.0, ge=0, le=720, description="How long a rotated-out secret keeps signing."
    )
    webhooks_disable_after_hours: float = Field(
        120.0, gt=0, le=8760, description="Disable an endpoint failing for this long (no 2xx)."
    )
    webhooks_retention_days: float = Field(
        30.0, gt=0, le=3650, description="How long finished deliveries and attempts are kept."
    )
    webhooks_gap_seconds: float = Field(
        60.0,
        gt=0,
        le=3600,
        description="Longest wait for an outbox id a still-open transaction may commit.",
    )
    webhooks_batch: int = Field(
        100, ge=1, le=1000, description="Deliveries a worker keeps in flight (and claims at once)."
    )
    opa_status_max_bytes: int = Field(
        4 * 1024 * 1024,
        ge=1024,
        le=64 * 1024 * 1024,
        description="Largest OPA status report (they carry OPA's Prometheus metrics).",
    )
    opa_status_interval_seconds: float = Field(
        120.0,
        gt=0,
        le=86_400,
        description="How often OPA instances are expected to report (their bundle polling).",
    )
    opa_stale_intervals: int = Field(
        3, ge=1, le=1000, description="Intervals without a report before an instance is stale."
    )
    decision_log_max_bytes: int = Field(
        8 * 1024 * 1024,
        ge=1024,
        le=256 * 1024 * 1024,
        description="Largest decision-log upload as sent (gzip-compressed).",
    )
    decision_log_max_decompressed_bytes: int = Field(
        64 * 1024 * 1024,
        ge=1024,
        le=1024 * 1024 * 1024,
        description="Largest decision-log upload once decompressed (guards against gzip bombs).",
    )
    decision_log_max_events: int = Field(
        20_000, ge=1, le=1_000_000, description="Most decision events in one upload."
    )
    decision_log_retention_days: int = Field(
        30, ge=0, le=3650, description="Days decisions are kept (0 keeps them forever)."
    )
    decision_log_purge_seconds: float = Field(
        3600.0, gt=0, le=7 * 86_400, description="How often expired decisions are deleted."
    )
    decision_log_mask_from: Literal["confidential", "restricted"] = Field(
        "restricted",
        description="Input fields classified at this level or above are not stored as sent: "
        "restricted ones are erased, confidential ones (when `confidential`) masked.",
    )
    decisions_threads: int = Field(
        0,
        ge=0,
        le=64,
        description="With GATEHOUSE_DECISIONS_PROCESSES=0 only: evaluation threads of the "
        "embedded engines (each owns its engine copies); 0 evaluates on the event loop's "
        "thread: regorus holds the GIL while it evaluates or loads data, so threads only add a "
        "hand-off (docs/decisions-engine.md).",
    )
    decisions_processes: int = Field(
        2,
        ge=0,
        le=64,
        description="Evaluate in this many warm child processes (the default, 2): an "
        "evaluation past the time limit is stopped by killing its child, which is replaced at "
        "once, so a policy that loops cannot stall the server or other tenants. 0 evaluates in "
        "the server's process, faster but unsafe: there the time limit is only checked after "
        "an evaluation returns, and a looping policy stalls every request until it does "
        "(docs/decisions-engine.md).",
    )
    decisions_time_limit_ms: int = Field(
        1000,
        ge=1,
        le=600_000,
        description="An evaluation that takes longer is stopped and answered with "
        "`eval_cancel_error`. With GATEHOUSE_DECISIONS_PROCESSES=0 regorus cannot be "
        "interrupted, so the limit is only checked when the evaluation returns.",
    )
    decisions_max_input_depth: int = Field(
        64, ge=2, le=1000, description="Deepest nesting of a /v1/data input."
    )
    decisions_max_input_nodes: int = Field(
        100_000, ge=10, le=10_000_000, description="Most values (of any kind) in an input."
    )
    authzen_max_evaluations: int = Field(
        1000,
        ge=1,
        le=100_000,
        description="Most evaluations in one `/access/v1/evaluations` or `/v1/authorize/batch`.",
    )
    decisions_rebuild_debounce_seconds: float = Field(
        0.05, ge=0, le=10, description="Changes within this time rebuild the engines once."
    )
    decisions_rebuild_spacing: float = Field(
        1.0,
        ge=0,
        le=100,
        description="After an engine rebuild of t seconds (which holds the event loop), the next "
        "waits until t times this has passed, so a stream of changes cannot keep the server busy.",
    )
    decision_log_queue: int = Field(
        100_000,
        ge=100,
        le=10_000_000,
        description="Decisions waiting to be written; more are dropped (and counted).",
    )
    decision_config_poll_seconds: float = Field(
        2.0,
        gt=0,
        le=300,
        description="How often remote OPA routing looks for configurations changed elsewhere.",
    )
    decision_cache_backend: Literal["memory", "redis"] = Field(
        "memory",
        description="Where cached decisions live: this process (LRU + TTL) or Redis "
        "(`GATEHOUSE_REDIS_URL`, shared by every process).",
    )
    decision_cache_enabled: bool = Field(
        True, description="Cache embedded decisions unless a tenant turns it off."
    )
    decision_cache_ttl_seconds: float = Field(
        60.0, gt=0, le=86_400, description="Default seconds a cached decision is reused."
    )
    decision_cache_max_entries: int = Field(
        10_000, ge=1, le=1_000_000, description="Default most cached decisions per tenant."
    )
    alerts_interval_seconds: float = Field(
        30.0, gt=0, le=3600, description="How often alert thresholds are evaluated."
    )
    alerts_window_seconds: float = Field(
        300.0, gt=0, le=86_400, description="The sliding window alert thresholds look at."
    )
    log_level: str = Field("INFO", pattern="^(DEBUG|INFO|WARNING|ERROR)$")
    log_json: bool = Field(True, description="JSON log lines (false: human-readable console).")
    usage_flush_seconds: float = Field(
        1.0, gt=0, le=60, description="Token usage log flush period."
    )
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)

    @field_validator("outbound_allow", mode="before")
    @classmethod
    def _split_cidrs(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("source_roots", mode="before")
    @classmethod
    def _split_paths(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_level(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @field_validator("database_url")
    @classmethod
    def _known_driver(cls, value: str) -> str:
        allowed = ("sqlite+aiosqlite://", "postgresql+asyncpg://", "postgresql://")
        if value and not value.startswith(allowed):
            raise ValueError(f"must start with one of {', '.join(allowed)}")
        if value.startswith("postgresql://"):
            return "postgresql+asyncpg://" + value.removeprefix("postgresql://")
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, value: str) -> str:
        if value and not value.startswith(("redis://", "rediss://")):
            raise ValueError("must start with redis:// or rediss://")
        return value

    @property
    def effective_database_url(self) -> str:
        """The database URL, defaulting to a SQLite file in the home directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.home / 'gatehouse.db').resolve()}"

    @property
    def effective_source_roots(self) -> list[Path]:
        """Where file-based sources may live: the configured roots, or `sources` in home."""
        return self.source_roots or [self.home / "sources"]

    @property
    def key_file(self) -> Path:
        """Where the generated master key lives when GATEHOUSE_MASTER_KEY is unset."""
        return self.home / "master.key"

    def tier_limit(self, tier: str) -> int:
        """Requests per minute allowed for a tier (by name; any other name: the platform's)."""
        field = TIER_FIELDS.get(tier)
        return int(getattr(self, field)) if field else self.platform_rate_limit


def load_settings(**overrides: Any) -> Settings:
    """Load settings, turning validation errors into one message naming each variable."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            field = str(error["loc"][0]) if error["loc"] else "?"
            shown = "***" if field in SECRET_FIELDS else repr(error.get("input"))
            lines.append(f"GATEHOUSE_{field.upper()}: {error['msg']} (got {shown})")
        raise ConfigError("invalid settings:\n  " + "\n  ".join(lines)) from None

"""What a tenant's remote OPA routing is made of, with secrets already opened."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Balancing = Literal["round_robin", "health_based"]


def segments(path: str) -> list[str]:
    """A rule's path as its segments, however it was written (`a.b`, `/a/b/`)."""
    return [p for p in path.replace(".", "/").split("/") if p]


@dataclass(frozen=True, slots=True)
class EndpointSpec:
    """One OPA server: its base URL, TLS settings and credentials."""

    url: str
    tls_verify: bool = True
    ca_bundle: str | None = None
    client_cert: str | None = None
    client_key: str | None = field(default=None, repr=False)
    bearer_token: str | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class HealthCheckSpec:
    """Active health checks: GET `endpoint` every `interval_seconds`."""

    enabled: bool = True
    endpoint: str = "/health"
    interval_seconds: float = 15.0
    timeout_seconds: float = 5.0
    failure_threshold: int = 2


@dataclass(frozen=True, slots=True)
class BreakerSpec:
    """When a circuit opens, how long it stays open, how many trial calls it admits."""

    failure_threshold: int = 5
    recovery_timeout: float = 30.0
    half_open_max_calls: int = 3


@dataclass(frozen=True, slots=True)
class RemoteSpec:
    """A tenant's endpoints and how they are balanced, checked and guarded."""

    endpoints: tuple[EndpointSpec, ...]
    policy_package: str = ""
    load_balancing: Balancing = "round_robin"
    health_check: HealthCheckSpec = HealthCheckSpec()
    circuit_breaker: BreakerSpec = BreakerSpec()
    request_timeout: float = 5.0
    max_connections: int = 100
    http2: bool = True

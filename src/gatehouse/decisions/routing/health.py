"""A tenant's routing health as this process sees it (reference 002: get_tenant_health)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gatehouse.decisions.remote.endpoint import Endpoint
from gatehouse.decisions.routing.router import COUNTS, Route
from gatehouse.decisions.routing.schemas import EndpointHealth, RaisedAlert, TenantHealth


def endpoint_health(endpoint: Endpoint) -> EndpointHealth:
    """One endpoint's health checks, breaker and request counters."""
    health = endpoint.health
    return EndpointHealth(
        url=endpoint.url,
        healthy=health.healthy,
        consecutive_failures=health.consecutive_failures,
        last_check=health.last_check_at,
        last_error=health.last_error or endpoint.last_error,
        breaker_state=endpoint.breaker.current().value,
        breaker_failures=endpoint.breaker.failures,
        latency_ms=round(endpoint.latency_ms, 3) if endpoint.latency_ms is not None else None,
        requests=endpoint.requests,
        failures=endpoint.failures,
        last_success=endpoint.last_success_at,
    )


def tenant_health(
    tenant_id: str, route: Route | None, raised: Mapping[str, Mapping[str, Any]]
) -> TenantHealth:
    """Every endpoint of a tenant, keyed by URL (embedded tenants have none), and the alerts
    raised now (`raised`: the alert evaluator's state of the tenant)."""
    alerts = [RaisedAlert.model_validate(raised[name]) for name in sorted(raised)]
    if route is None:
        return TenantHealth(
            tenant_id=tenant_id,
            mode="embedded",
            fallback_mode="deny",
            load_balancing="round_robin",
            healthy=True,
            endpoints={},
            metrics={},
            alerts=alerts,
        )
    endpoints = route.engine.endpoints if route.engine else []
    routing = route.routing
    return TenantHealth(
        tenant_id=tenant_id,
        mode="remote" if routing.mode == "remote" else "embedded",
        fallback_mode=routing.fallback_mode,
        load_balancing=routing.remote.load_balancing if routing.remote else "round_robin",
        healthy=route.engine is None or any(e.usable() for e in endpoints),
        endpoints={e.url: endpoint_health(e) for e in endpoints},
        metrics={name: route.counts[name] for name in COUNTS},
        alerts=alerts,
    )

"""Active health checks: each endpoint is probed in the background on its own schedule."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import httpx
import structlog

from gatehouse.decisions.remote.endpoint import Endpoint, describe
from gatehouse.decisions.remote.spec import HealthCheckSpec

log = structlog.get_logger("gatehouse.decisions")


async def attempt(endpoint: Endpoint, spec: HealthCheckSpec) -> str | None:
    """GET the health path: None for a 2xx within the timeout, else what went wrong."""
    try:
        response = await endpoint.client.get(spec.endpoint, timeout=spec.timeout_seconds)
    except httpx.HTTPError as exc:
        return describe(exc)
    except Exception as exc:  # whatever it was, the endpoint did not show it is healthy
        log.exception("remote OPA health check failed unexpectedly", endpoint=endpoint.url)
        return describe(exc)
    if not response.is_success:
        return f"health check answered HTTP {response.status_code}"
    return None


async def probe(endpoint: Endpoint, spec: HealthCheckSpec) -> None:
    """One check: a 2xx within the timeout is healthy (and lets an open breaker try calls
    again); enough failures in a row mark it down."""
    error = await attempt(endpoint, spec)
    health = endpoint.health
    health.last_check_at = datetime.now(UTC)
    health.last_error = error
    if error is None:
        if health.healthy is False:
            log.info("remote OPA is up again", endpoint=endpoint.url)
        health.healthy, health.consecutive_failures = True, 0
        endpoint.breaker.recovered()
        return
    health.consecutive_failures += 1
    if health.consecutive_failures >= spec.failure_threshold and health.healthy is not False:
        log.warning("remote OPA is down", endpoint=endpoint.url, error=error)
        health.healthy = False


async def watch(endpoint: Endpoint, spec: HealthCheckSpec) -> None:
    """Probe an endpoint every `interval_seconds` until cancelled."""
    while True:
        await probe(endpoint, spec)
        await asyncio.sleep(spec.interval_seconds)

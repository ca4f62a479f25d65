"""Running a connector's check and discover inside its environment and a time bound."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import structlog

from gatehouse.connectors.environment import Environment, using
from gatehouse.connectors.protocol import (
    CheckFailure,
    CheckResult,
    Connector,
    ConnectorError,
    StreamInfo,
)
from gatehouse.connectors.registry import connector_type
from gatehouse.kit.problems import Problem

log = structlog.get_logger("gatehouse.connections")

HINTS: dict[CheckFailure, str] = {
    CheckFailure.auth: "Check the user name and password (PUT the connection with the right ones).",
    CheckFailure.unreachable: "Check the host and port, that the server runs and accepts "
    "connections from Gatehouse, and GATEHOUSE_OUTBOUND_ALLOW for private networks.",
    CheckFailure.tls: "Check tls_mode and the CA certificate, or the server's TLS setup.",
    CheckFailure.permission: "Grant the user read access to what the connection should read.",
    CheckFailure.config: "Correct the configuration field the message names.",
    CheckFailure.timeout: "The source did not answer in time: check the network path, or "
    "raise GATEHOUSE_CONNECTOR_CHECK_TIMEOUT for a slow source.",
    CheckFailure.error: "The connector failed unexpectedly; the logs have the request id.",
}


def connector(type_name: str, env: Environment) -> Connector:
    """A new connector instance made inside `env` (connectors take their environment then)."""
    with using(env):
        return connector_type(type_name)()


@dataclass(frozen=True)
class Checked:
    """A check result with when it ran and how long it took."""

    result: CheckResult
    at: datetime
    duration_ms: float
    hint: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


async def check(
    type_name: str, config: Mapping[str, Any], env: Environment, seconds: float
) -> Checked:
    """Run a check; every failure, a timeout or a crash included, becomes a CheckResult."""
    started, at = time.perf_counter(), datetime.now(UTC)
    try:
        async with asyncio.timeout(seconds):
            result = await connector(type_name, env).check(config)
    except TimeoutError:
        result = CheckResult.failed(
            CheckFailure.timeout, f"no answer within {seconds:g} s (the connection check timeout)"
        )
    except ConnectorError as exc:
        result = CheckResult.failed(exc.failure, str(exc))
    except Exception as exc:
        log.exception("connector check crashed", connector=type_name)
        result = CheckResult.failed(CheckFailure.error, f"the connector failed: {exc}")
    elapsed = (time.perf_counter() - started) * 1000
    hint = HINTS.get(result.failure) if result.failure else None
    return Checked(result, at, round(elapsed, 1), hint, dict(result.details))


async def discover(
    type_name: str, config: Mapping[str, Any], env: Environment, seconds: float
) -> list[StreamInfo]:
    """Discover streams, or a problem: 502 when the source fails, 504 when it is too slow."""
    try:
        async with asyncio.timeout(seconds):
            return await connector(type_name, env).discover(config)
    except TimeoutError:
        raise Problem(
            504,
            f"Discovery took longer than {seconds:g} s; raise GATEHOUSE_CONNECTOR_DISCOVER_TIMEOUT"
            " or narrow `tables`.",
            failure=CheckFailure.timeout.value,
        ) from None
    except ConnectorError as exc:
        raise Problem(
            502,
            f"The source failed during discovery: {exc}",
            failure=exc.failure.value,
            hint=HINTS[exc.failure],
        ) from None

"""Fixtures: an app that may reach loopback, fake OPA servers, and configuration helpers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from ipaddress import ip_network
from typing import Any

import pytest

from gatehouse.config import Settings
from gatehouse.decisions.routing.router import DecisionRouter
from gatehouse.decisions.types import Decision
from gatehouse.tenants.models import PLATFORM
from tests.conftest import Harness
from tests.decisions_remote.fakeopa import FakeOpa

FAST = {
    "health_check": {"interval_seconds": 0.05, "timeout_seconds": 1, "failure_threshold": 2},
    "circuit_breaker": {"failure_threshold": 3, "recovery_timeout": 10, "half_open_max_calls": 2},
    "request_timeout": 2,
}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Test settings whose outbound guard lets loopback through (the fake OPAs live there)."""
    return settings.model_copy(update={"outbound_allow": [ip_network("127.0.0.0/8")]})


@pytest.fixture
async def opas() -> AsyncIterator[Callable[..., Any]]:
    """A factory of started fake OPA servers, all stopped afterwards."""
    started: list[FakeOpa] = []

    async def make(name: str, **options: Any) -> FakeOpa:
        server = FakeOpa(name, **options)
        await server.start()
        started.append(server)
        return server

    yield make
    for server in started:
        server.release.set()
        await server.stop()


@pytest.fixture
async def platform(harness: Harness) -> dict[str, str]:
    """Headers of a platform admin token."""
    return harness.auth(await harness.token(PLATFORM, "platform:admin"))


async def configure(
    h: Harness, headers: dict[str, str], tenant: str, **body: Any
) -> dict[str, Any]:
    """PUT a tenant's decision configuration (fast health checks and breaker by default)."""
    doc = {**FAST, **body}
    resp = await h.client.put(f"/v1/tenants/{tenant}/decision-config", json=doc, headers=headers)
    assert resp.status_code in (200, 201), resp.text
    return dict(resp.json())


async def until(check: Callable[[], bool], what: str, seconds: float = 20.0) -> None:
    """Wait until `check()` holds (a generous bound against hangs, not a timing assertion)."""
    deadline = asyncio.get_running_loop().time() + seconds
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"never happened: {what}")
        await asyncio.sleep(0.02)


def router(h: Harness) -> DecisionRouter:
    """The app's decision router."""
    return h.svc.decision_router


class EchoLocal:
    """A stand-in embedded engine that says it answered."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    async def evaluate(self, tenant_id: str, path: str, input: Any) -> Decision:
        """Always defined: the tenant and path it was asked."""
        self.calls.append(path)
        return Decision(True, {"local": tenant_id, "path": path}, engine="embedded")


class Clock:
    """A clock that moves only when told."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

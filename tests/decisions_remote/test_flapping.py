"""Endpoints that go down and up in turn: no fallback while one is up; health checks reopen."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from gatehouse.decisions.remote.breaker import BreakerState
from tests.conftest import Harness
from tests.decisions_remote.conftest import Clock, configure, router, until

INPUT = {"subject": {"id": "ada"}, "action": "read"}


@pytest.mark.parametrize("checks", [True, False], ids=["health-checks", "no-health-checks"])
async def test_alternating_outages_never_fall_back(
    harness: Harness, platform: Any, opas: Any, checks: bool
) -> None:
    """Two OPAs down in turn, one always up: every decision is the up one's, none a fallback."""
    await harness.tenant("acme")
    a, b = await opas("a"), await opas("b")
    body = {"mode": "remote", "opa_endpoints": [a.url, b.url]}
    await configure(harness, platform, "acme", **body, health_check={"enabled": checks})
    engine = router(harness).routes["acme"].engine
    assert engine is not None
    for endpoint in engine.endpoints:
        endpoint.breaker.clock = Clock()  # no recovery timeout passes: only routing reopens
    breakers = {e.url: e.breaker for e in engine.endpoints}
    up, down = a, b
    for _ in range(4):
        await down.go_down()
        decisions = [await router(harness).evaluate("acme", "x", INPUT) for _ in range(8)]
        assert [(d.engine, d.endpoint) for d in decisions] == [("remote", up.url)] * 8
        if not checks:  # its failed requests opened it: next round it is up behind an open breaker
            assert breakers[down.url].current() is BreakerState.open
        await down.come_up()
        up, down = down, up
    assert router(harness).routes["acme"].counts["fallbacks"] == 0


async def test_all_open_is_tried_one_call_at_a_time(
    harness: Harness, platform: Any, opas: Any
) -> None:
    """With every breaker open, one request at a time tries an endpoint; the rest fall back."""
    await harness.tenant("acme")
    a = await opas("a", mode="error")
    body = {"mode": "remote", "opa_endpoints": [a.url], "health_check": {"enabled": False}}
    await configure(harness, platform, "acme", **body)
    endpoint = router(harness).routes["acme"].engine.endpoints[0]  # type: ignore[union-attr]
    endpoint.breaker.clock = Clock()
    for _ in range(3):
        await router(harness).evaluate("acme", "x", INPUT)
    assert endpoint.breaker.current() is BreakerState.open
    a.mode = "hold"
    calls = [asyncio.create_task(router(harness).evaluate("acme", "x", INPUT)) for _ in range(5)]
    await until(lambda: a.in_flight == 1 and sum(t.done() for t in calls) == 4, "one tried")
    assert {t.result().engine for t in calls if t.done()} == {"fallback:deny"}
    a.mode = "ok"
    a.release.set()
    assert sum(d.engine == "remote" for d in await asyncio.gather(*calls)) == 1
    assert endpoint.breaker.current() is BreakerState.closed  # its answer closed the circuit


async def test_passing_health_check_half_opens_the_breaker(
    harness: Harness, platform: Any, opas: Any
) -> None:
    """An open breaker lets trial calls through once a health check passes (no timeout waited)."""
    await harness.tenant("acme")
    a = await opas("a", mode="error")
    await configure(harness, platform, "acme", mode="remote", opa_endpoints=[a.url])
    endpoint = router(harness).routes["acme"].engine.endpoints[0]  # type: ignore[union-attr]
    endpoint.breaker.clock = Clock()  # the recovery timeout never passes
    for _ in range(3):
        await router(harness).evaluate("acme", "x", INPUT)
    assert endpoint.breaker.current() is BreakerState.open
    a.mode = "ok"
    await until(lambda: endpoint.breaker.current() is BreakerState.half_open, "half-open")
    assert endpoint.health.healthy is True
    assert (await router(harness).evaluate("acme", "x", INPUT)).engine == "remote"
    assert endpoint.breaker.current() is BreakerState.closed


async def test_counters_survive_a_fallback_change(
    harness: Harness, platform: Any, opas: Any
) -> None:
    """The tenant's health counters are kept when its configuration changes."""
    await harness.tenant("acme")
    a = await opas("a")
    await configure(harness, platform, "acme", mode="remote", opa_endpoints=[a.url])
    for _ in range(3):
        await router(harness).evaluate("acme", "x", INPUT)
    patched = await harness.client.patch(
        "/v1/tenants/acme/decision-config", json={"fallback_mode": "basic"}, headers=platform
    )
    assert patched.status_code == 200, patched.text
    doc = (await harness.client.get("/v1/tenants/acme/health", headers=platform)).json()
    assert doc["fallback_mode"] == "basic"
    assert doc["metrics"] == {"decisions": 3, "fallbacks": 0, "errors": 0}

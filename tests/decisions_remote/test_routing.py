"""Routing to real OPA look-alikes on loopback: balancing, failover, breakers, health, fallbacks."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import pytest

from gatehouse.audit.context import Actor
from gatehouse.decisions.remote.breaker import BreakerState
from gatehouse.decisions.types import EvaluationError
from gatehouse.identity import groups, service
from gatehouse.identity.schemas import GroupData, IdentityData
from tests.conftest import BOTH, Harness
from tests.decisions_remote.conftest import Clock, EchoLocal, configure, router, until

INPUT = {"subject": {"id": "ada"}, "action": "read", "resource": {"type": "report"}}


async def ask(h: Harness, tenant: str = "acme", path: str = "authz/allow") -> Any:
    """One decision through the router."""
    return await router(h).evaluate(tenant, path, INPUT)


async def test_round_robin_spreads_requests(harness: Harness, platform: Any, opas: Any) -> None:
    """Round robin sends requests to every endpoint; each decision names who answered."""
    await harness.tenant("acme")
    a, b = await opas("a"), await opas("b")
    await configure(harness, platform, "acme", mode="remote", opa_endpoints=[a.url, b.url])
    decisions = [await ask(harness) for _ in range(10)]
    assert {d.engine for d in decisions} == {"remote"}
    assert Counter(d.endpoint for d in decisions) == {a.url: 5, b.url: 5}
    assert {d.result["server"] for d in decisions} == {"a", "b"}


async def test_health_based_prefers_healthy_and_fast(
    harness: Harness, platform: Any, opas: Any
) -> None:
    """health_based leaves out an endpoint its checks found down, and prefers the faster one."""
    await harness.tenant("acme")
    a, b = await opas("a"), await opas("b")
    await configure(
        harness,
        platform,
        "acme",
        mode="remote",
        load_balancing="health_based",
        opa_endpoints=[a.url, b.url],
    )
    engine = router(harness).routes["acme"].engine
    assert engine is not None
    first, second = engine.endpoints
    a.mode = "error"  # its health checks fail too
    await until(lambda: first.health.healthy is False, "a marked down")
    assert {(await ask(harness)).endpoint for _ in range(6)} == {b.url}
    a.mode = "ok"
    await until(lambda: first.health.healthy is True, "a up again")
    second.latency_ms, first.latency_ms = 10_000.0, 1.0
    assert (await ask(harness)).endpoint == a.url


@pytest.mark.parametrize("fault", ["drop", "error", "slow", "down"])
async def test_failover_within_one_request(
    harness: Harness, platform: Any, opas: Any, fault: str
) -> None:
    """A dropped connection, a 500, a timeout or a refused connection: the next endpoint answers."""
    await harness.tenant("acme")
    a, b = await opas("a", delay=30), await opas("b")
    body = {"mode": "remote", "opa_endpoints": [a.url, b.url], "request_timeout": 1}
    await configure(harness, platform, "acme", **body, health_check={"enabled": False})
    if fault == "down":
        await a.go_down()
    else:
        a.mode = fault
    decisions = [await ask(harness) for _ in range(4)]
    assert [d.endpoint for d in decisions] == [b.url] * 4
    assert {d.engine for d in decisions} == {"remote"}
    first = router(harness).routes["acme"].engine.endpoints[0]  # type: ignore[union-attr]
    assert first.failures >= 1 and first.last_error


async def test_opa_4xx_is_the_answer(harness: Harness, platform: Any, opas: Any) -> None:
    """A 400 from OPA is the query's fault: it is returned at once, no other endpoint is asked."""
    await harness.tenant("acme")
    a, b = await opas("a"), await opas("b")
    await configure(harness, platform, "acme", mode="remote", opa_endpoints=[a.url, b.url])
    with pytest.raises(EvaluationError) as caught:
        await ask(harness, path="bad/query")
    assert (caught.value.code, caught.value.status) == ("invalid_parameter", 400)
    assert len(a.seen) + len(b.seen) == 1
    engine = router(harness).routes["acme"].engine
    assert engine is not None
    assert all(e.breaker.failures == 0 for e in engine.endpoints)


async def test_undefined_and_package(harness: Harness, platform: Any, opas: Any) -> None:
    """No `result` means undefined; the tenant's package prefixes every path."""
    await harness.tenant("acme")
    a = await opas("a", results={"acme/authz/allow": True})
    body = {"mode": "remote", "opa_endpoints": [a.url], "policy_package": "acme.authz"}
    await configure(harness, platform, "acme", **body)
    assert (await ask(harness, path="allow")).result is True
    undefined = await ask(harness, path="nothing/undefined")
    assert (undefined.defined, undefined.engine) == (False, "remote")
    assert [p for p, _ in a.seen] == ["acme/authz/allow", "acme/authz/nothing/undefined"]
    assert a.seen[0][1] == INPUT


async def test_breaker_opens_half_opens_and_closes(
    harness: Harness, platform: Any, opas: Any
) -> None:
    """N failures open the breaker; half-open admits at most M concurrent trials; success closes."""
    await harness.tenant("acme")
    a = await opas("a")
    body = {"mode": "remote", "opa_endpoints": [a.url], "health_check": {"enabled": False}}
    await configure(harness, platform, "acme", **body)
    endpoint = router(harness).routes["acme"].engine.endpoints[0]  # type: ignore[union-attr]
    endpoint.breaker.clock = clock = Clock()
    a.mode = "error"
    for _ in range(3):
        assert (await ask(harness)).engine == "fallback:deny"
    assert endpoint.breaker.state is BreakerState.open
    asked = len(a.seen)
    assert (await ask(harness)).engine == "fallback:deny"
    assert len(a.seen) == asked + 1  # open and no other endpoint: tried as a last resort
    clock.now += 30
    assert endpoint.breaker.current() is BreakerState.half_open
    a.mode = "hold"
    calls = [asyncio.create_task(ask(harness)) for _ in range(10)]
    await until(lambda: a.in_flight == 2 and sum(t.done() for t in calls) == 8, "2 trials held")
    assert {t.result().engine for t in calls if t.done()} == {"fallback:deny"}
    assert a.in_flight == 2  # half_open_max_calls
    a.mode = "ok"
    a.release.set()
    results = await asyncio.gather(*calls)
    assert sum(d.engine == "remote" for d in results) == 2
    assert endpoint.breaker.current() is BreakerState.closed
    assert (await ask(harness)).engine == "remote"


async def test_half_open_failure_reopens(harness: Harness, platform: Any, opas: Any) -> None:
    """A failed trial call opens the breaker again."""
    await harness.tenant("acme")
    a = await opas("a", mode="error")
    body = {"mode": "remote", "opa_endpoints": [a.url], "health_check": {"enabled": False}}
    await configure(harness, platform, "acme", **body)
    endpoint = router(harness).routes["acme"].engine.endpoints[0]  # type: ignore[union-attr]
    endpoint.breaker.clock = clock = Clock()
    for _ in range(3):
        await ask(harness)
    assert endpoint.breaker.current() is BreakerState.open
    clock.now += 30
    assert endpoint.breaker.current() is BreakerState.half_open
    assert (await ask(harness)).engine == "fallback:deny"
    assert endpoint.breaker.state is BreakerState.open


async def test_health_checks_mark_down_and_up(harness: Harness, platform: Any, opas: Any) -> None:
    """An endpoint that stops answering its checks is marked down, and up when it is back."""
    await harness.tenant("acme")
    a, b = await opas("a"), await opas("b")
    await configure(harness, platform, "acme", mode="remote", opa_endpoints=[a.url, b.url])
    engine = router(harness).routes["acme"].engine
    assert engine is not None
    first = engine.endpoints[0]
    await until(lambda: first.health.healthy is True, "first check")
    await a.go_down()
    await until(lambda: first.health.healthy is False, "marked down")
    assert first.health.consecutive_failures >= 2 and first.health.last_error
    assert {(await ask(harness)).endpoint for _ in range(4)} == {b.url}
    await a.come_up()
    await until(lambda: first.health.healthy is True, "marked up")
    assert first.health.consecutive_failures == 0


async def all_down(harness: Harness, platform: Any, opas: Any, **body: Any) -> None:
    """Configure one endpoint and take it down."""
    await harness.tenant("acme")
    a = await opas("a")
    await configure(harness, platform, "acme", mode="remote", opa_endpoints=[a.url], **body)
    await a.go_down()


async def test_fallback_deny(harness: Harness, platform: Any, opas: Any) -> None:
    """deny answers false, or the value configured for a non-boolean rule."""
    await all_down(harness, platform, opas, deny_results={"authz.decision": {"allow": False}})
    decision = await ask(harness)
    assert (decision.defined, decision.result, decision.engine) == (True, False, "fallback:deny")
    assert decision.endpoint is None
    assert (await ask(harness, path="/authz/decision")).result == {"allow": False}


async def test_fallback_embedded(harness: Harness, platform: Any, opas: Any) -> None:
    """embedded asks the local engine; tenants in embedded mode go there directly."""
    local = EchoLocal()
    router(harness).local = local
    await all_down(harness, platform, opas, fallback_mode="embedded")
    decision = await ask(harness)
    assert decision.engine == "fallback:embedded"
    assert decision.result == {"local": "acme", "path": "authz/allow"}
    await harness.tenant("other")
    assert (await ask(harness, tenant="other")).engine == "embedded"


@BOTH
async def test_fallback_basic(harness: Harness, platform: Any, opas: Any) -> None:
    """basic grants by role or nested group names, through basic_grants, for active identities."""
    grants = {"auditors": ["report:read"]}
    await all_down(harness, platform, opas, fallback_mode="basic", basic_grants=grants)
    actor = Actor("acme", "test")
    async with harness.svc.db.transaction() as s:
        roles = {"roles": [{"value": "invoice:*"}]}
        ada = await service.create_identity(
            s, actor, IdentityData(user_name="ada", attributes=roles), source="test"
        )
        await service.create_identity(s, actor, IdentityData(user_name="bob"), source="test")
        await service.create_identity(
            s, actor, IdentityData(user_name="eve", active=False, attributes=roles), source="test"
        )
        inner = await groups.create_group(s, actor, GroupData(display_name="auditors"), source="t")
        outer = await groups.create_group(s, actor, GroupData(display_name="staff"), source="t")
        await groups.add_members(s, actor, inner.id, [outer.id], source="t")
        await groups.add_members(s, actor, outer.id, [ada.id], source="t")

    async def verdict(subject: str, action: str, kind: str) -> Any:
        request = {"subject": {"id": subject}, "action": action, "resource": {"type": kind}}
        decision = await router(harness).evaluate("acme", "authz/allow", request)
        assert decision.engine == "fallback:basic"
        return decision.result

    assert await verdict("ada", "read", "report") is True  # nested group -> grant
    assert await verdict("ADA", "delete", "invoice") is True  # role wildcard
    assert await verdict("ada", "delete", "report") is False
    assert await verdict("bob", "read", "report") is False
    assert await verdict("eve", "delete", "invoice") is False  # not active
    assert await verdict("nobody", "read", "report") is False
    missing = await router(harness).evaluate("acme", "authz/allow", {"subject": "ada"})
    assert missing.result is False


async def test_config_change_at_runtime(harness: Harness, platform: Any, opas: Any) -> None:
    """A new configuration takes effect at once; the old clients are closed; delete = embedded."""
    router(harness).local = EchoLocal()
    await harness.tenant("acme")
    a, b = await opas("a"), await opas("b")
    await configure(harness, platform, "acme", mode="remote", opa_endpoints=[a.url])
    old = router(harness).routes["acme"].engine
    assert old is not None
    assert (await ask(harness)).endpoint == a.url
    await configure(harness, platform, "acme", mode="remote", opa_endpoints=[b.url])
    assert (await ask(harness)).endpoint == b.url
    await until(lambda: old.endpoints[0].closed, "old client closed")
    current = router(harness).routes["acme"].engine
    patched = await harness.client.patch(
        "/v1/tenants/acme/decision-config", json={"fallback_mode": "basic"}, headers=platform
    )
    assert patched.json()["fallback_mode"] == "basic"
    assert router(harness).routes["acme"].routing.fallback_mode == "basic"
    assert router(harness).routes["acme"].engine is current  # same endpoints: same engine
    deleted = await harness.client.delete("/v1/tenants/acme/decision-config", headers=platform)
    assert deleted.status_code == 204
    assert (await ask(harness)).engine == "embedded"


@BOTH
async def test_refresh_follows_other_processes(harness: Harness, platform: Any, opas: Any) -> None:
    """A configuration changed by another process is picked up by the refresh loop."""
    await harness.tenant("acme")
    a = await opas("a")
    await configure(harness, platform, "acme", mode="remote", opa_endpoints=[a.url])
    routes = router(harness).routes
    stale = routes.pop("acme")  # as if this process had never seen it
    await router(harness).refresh()
    assert routes["acme"].routing.version == stale.routing.version
    assert (await ask(harness)).endpoint == a.url
    assert stale.engine is not None
    await stale.engine.close()


@BOTH
async def test_deleted_tenant_is_dropped(harness: Harness, platform: Any, opas: Any) -> None:
    """Deleting a tenant stops its routing (and its health checks) at the next refresh."""
    await harness.tenant("acme")
    a = await opas("a")
    await configure(harness, platform, "acme", mode="remote", opa_endpoints=[a.url])
    engine = router(harness).routes["acme"].engine
    assert engine is not None
    assert (await harness.client.delete("/v1/tenants/acme", headers=platform)).status_code == 204
    await router(harness).refresh()
    assert "acme" not in router(harness).routes
    await until(lambda: engine.endpoints[0].closed, "its clients closed")

"""Rate limits per tenant tier and per token, in memory and shared through Redis."""

import asyncio
import re
import uuid

import pytest

from gatehouse.config import Settings, Tier
from gatehouse.ratelimit.limiter import RateLimiter
from tests.conftest import Harness, started

PATH = "/v1/integration/tokens/scopes"


async def test_free_tier_refuses_the_61st_request(harness: Harness) -> None:
    """60 requests pass with headers counting down; the 61st is 429 with Retry-After."""
    await harness.tenant("small", Tier.free)
    auth = harness.auth(await harness.token("small", "tokens:read"))
    remaining = []
    for _ in range(60):
        resp = await harness.client.get(PATH, headers=auth)
        assert resp.status_code == 200
        remaining.append(resp.headers["ratelimit"])
    assert re.fullmatch(r'"tenant";r=59;t=\d+', remaining[0])
    assert re.fullmatch(r'"tenant";r=0;t=\d+', remaining[-1])
    assert "q=60;w=60" in resp.headers["ratelimit-policy"]
    refused = await harness.client.get(PATH, headers=auth)
    assert refused.status_code == 429
    assert refused.headers["content-type"] == "application/problem+json"
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert "tenant budget of 60" in refused.json()["detail"]
    assert harness.svc.metrics.rate_limited.labels("tenant")._value.get() == 1


async def test_token_budget_below_the_tier(harness: Harness) -> None:
    """A token's own budget is enforced while the tenant's other tokens go on."""
    await harness.tenant("acme", Tier.pro)
    slow = harness.auth(await harness.token("acme", "tokens:read", rate_limit_per_minute=3))
    other = harness.auth(await harness.token("acme", "tokens:read"))
    for _ in range(3):
        assert (await harness.client.get(PATH, headers=slow)).status_code == 200
    refused = await harness.client.get(PATH, headers=slow)
    assert refused.status_code == 429
    assert "token budget of 3" in refused.json()["detail"]
    assert (await harness.client.get(PATH, headers=other)).status_code == 200


async def test_token_budget_cannot_exceed_tier(harness: Harness) -> None:
    """Asking for more than the tier allows is a 422."""
    await harness.tenant("acme", Tier.free)
    admin = harness.auth(await harness.token("acme", "admin:*"))
    resp = await harness.client.post(
        "/v1/integration/tokens",
        json={"name": "x", "scopes": ["tokens:read"], "rate_limit_per_minute": 61},
        headers=admin,
    )
    assert resp.status_code == 422


async def test_two_instances_share_one_budget_in_redis(settings: Settings, redis_url: str) -> None:
    """Two app instances on one Redis draw from the same tenant budget."""
    shared = settings.model_copy(update={"redis_url": redis_url})
    tenant = f"t{uuid.uuid4().hex[:10]}"
    async with started(shared) as one, started(shared) as two:
        await one.tenant(tenant, Tier.free)
        auth = one.auth(await one.token(tenant, "tokens:read"))
        for i in range(60):
            instance = one if i % 2 else two
            assert (await instance.client.get(PATH, headers=auth)).status_code == 200
        assert (await one.client.get(PATH, headers=auth)).status_code == 429
        assert (await two.client.get(PATH, headers=auth)).status_code == 429
        ready = (await two.client.get("/ready")).json()
        assert ready["checks"]["redis"] == {"status": "ok"}


async def test_platform_tokens_have_their_own_budget(settings: Settings) -> None:
    """GATEHOUSE_PLATFORM_RATE_LIMIT sets the budget of platform tokens."""
    from gatehouse.tenants.models import PLATFORM

    async with started(settings.model_copy(update={"platform_rate_limit": 2})) as h:
        auth = h.auth(await h.token(PLATFORM, "platform:admin"))
        first = await h.client.get("/v1/tenants", headers=auth)
        assert "q=2;w=60" in first.headers["ratelimit-policy"]
        await h.client.get("/v1/tenants", headers=auth)
        assert (await h.client.get("/v1/tenants", headers=auth)).status_code == 429


async def test_revocation_reaches_other_instances_through_redis(
    settings: Settings, redis_url: str
) -> None:
    """A token cached by instance two is refused there as soon as instance one revokes it."""
    shared = settings.model_copy(update={"redis_url": redis_url, "token_cache_seconds": 60})
    tenant = f"t{uuid.uuid4().hex[:10]}"
    async with started(shared) as one, started(shared) as two:
        await one.tenant(tenant, Tier.pro)
        admin = one.auth(await one.token(tenant, "admin:*"))
        made = await one.client.post(
            "/v1/integration/tokens", json={"name": "x", "scopes": ["tokens:read"]}, headers=admin
        )
        victim = one.auth(made.json()["token"])
        assert (await two.client.get(PATH, headers=victim)).status_code == 200
        await one.client.delete(f"/v1/integration/tokens/{made.json()['id']}", headers=admin)
        assert (await two.client.get(PATH, headers=victim)).status_code == 401


async def test_cached_tokens_expire_from_the_cache(settings: Settings) -> None:
    """Without Redis, another instance stops trusting a revoked token when its entry ages out."""
    short = settings.model_copy(update={"token_cache_seconds": 0.2})
    async with started(short) as one, started(short) as two:
        await one.tenant("acme", Tier.pro)
        admin = one.auth(await one.token("acme", "admin:*"))
        made = await one.client.post(
            "/v1/integration/tokens", json={"name": "x", "scopes": ["tokens:read"]}, headers=admin
        )
        victim = one.auth(made.json()["token"])
        assert (await two.client.get(PATH, headers=victim)).status_code == 200
        await one.client.delete(f"/v1/integration/tokens/{made.json()['id']}", headers=admin)
        assert (await one.client.get(PATH, headers=victim)).status_code == 401
        await asyncio.sleep(0.3)
        assert (await two.client.get(PATH, headers=victim)).status_code == 401


async def test_a_hit_can_cost_several_requests(redis_url: str) -> None:
    """A /Bulk job's operations are counted at once, in memory and in Redis alike."""
    for limiter in (RateLimiter(), RateLimiter(redis_url)):
        key = f"cost-{uuid.uuid4().hex}"
        first = await limiter.hit("tenant", key, 10, cost=7)
        assert (first.allowed, first.remaining) == (True, 3)
        second = await limiter.hit("tenant", key, 10, cost=4)
        assert (second.allowed, second.remaining) == (False, 0)


def test_in_process_windows_reset_and_sweep(monkeypatch: pytest.MonkeyPatch) -> None:
    """A window starts at its first hit and ends `seconds` later; ended windows are swept."""
    from gatehouse.ratelimit import limiter

    now = [1000.0]
    monkeypatch.setattr(limiter.time, "time", lambda: now[0])
    monkeypatch.setattr(limiter, "SWEEP_EVERY", 3)
    windows = limiter.Windows(60)
    assert windows.hit("tenant", "a", 1) == (1, 1060.0)
    now[0] = 1059.9
    assert windows.hit("tenant", "a", 2) == (3, 1060.0)
    now[0] = 1060.0
    assert windows.hit("tenant", "b", 1) == (1, 1120.0)  # third hit: sweeps a's ended window
    assert ("tenant", "a") not in windows.counts
    assert windows.hit("tenant", "a", 1) == (1, 1120.0)

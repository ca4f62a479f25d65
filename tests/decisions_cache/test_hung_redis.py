"""A Redis that accepts connections and never answers: decisions still answer, the cache is
bypassed and reported degraded, and it is used again once Redis answers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from gatehouse.config import Settings
from gatehouse.decisions.cache.keys import Key
from gatehouse.decisions.cache.store import RETRY_SECONDS, Cached, RedisStore
from tests.conftest import started
from tests.decisions.conftest import AUTHZ
from tests.decisions_cache.conftest import Clock
from tests.decisions_cache.hungredis import HungRedis

KEY = Key("p1", "d1", 1, "authz/allow", "digest")
ANSWER = Cached(True, True, "embedded")


@pytest.fixture
async def hung(redis_url: str) -> AsyncIterator[HungRedis]:
    """A started hung Redis (the real one behind it, for when it comes back)."""
    server = HungRedis()
    await server.start()
    yield server
    await server.stop()


async def test_store_is_bypassed_while_degraded_and_used_again(hung: HungRedis) -> None:
    """One timeout degrades the store; until the retry time nothing waits on Redis; then it is
    asked again and, answering, serves again."""
    store = RedisStore(hung.url, prefix="gatehouse-test:hung:")
    store.clock = clock = Clock()
    try:
        assert await store.get("acme", KEY) is None
        assert store.health() == {"status": "degraded", "error": "TimeoutError"}
        opened = hung.connections
        await store.put("acme", KEY, ANSWER, 60, 10)
        assert await store.get("acme", KEY) is None
        await store.evict("acme")
        assert hung.connections == opened  # bypassed: no call reached Redis
        hung.hung = False
        clock.now += RETRY_SECONDS
        await store.put("acme", KEY, ANSWER, 60, 10)
        assert store.health() == {"status": "ok"}
        assert await store.get("acme", KEY) == ANSWER
        await store.evict("acme")
    finally:
        await store.close()


async def test_decisions_answer_with_redis_hung(settings: Settings, hung: HungRedis) -> None:
    """With the whole app's Redis hung, a decision answers (cache bypassed) and /ready says the
    decision cache is degraded."""
    config = settings.model_copy(update={"redis_url": hung.url, "decision_cache_backend": "redis"})
    async with started(config) as h:
        store = h.svc.decision_cache.store
        assert isinstance(store, RedisStore)
        store.clock = Clock()  # no retry during the test
        tenant = await h.tenant("acme")
        writer = h.auth(await h.token(tenant, "policies:write"))
        put = await h.client.put(
            "/v1/policies/authz/main.rego",
            content=AUTHZ.encode(),
            headers={**writer, "Content-Type": "text/plain"},
        )
        assert put.status_code == 200, put.text
        # The subject's groups are the caller's own (enrichment off), as a PEP would send them.
        off = await h.client.put("/v1/decision-settings", json={"enrich": False}, headers=writer)
        assert off.status_code == 200, off.text
        evaluator = h.auth(await h.token(tenant, "decisions:evaluate"))
        body: dict[str, Any] = {"input": {"action": "read", "subject": {"groups": ["engineering"]}}}
        for _ in range(2):
            resp = await h.client.post("/v1/data/authz/allow", json=body, headers=evaluator)
            assert resp.status_code == 200, resp.text
            assert resp.json()["result"] is True
        assert store.health()["status"] == "degraded"
        ready = await h.client.get("/ready")
        assert ready.status_code == 503
        assert ready.json()["checks"]["decision_cache"] == {
            "status": "degraded",
            "error": "TimeoutError",
        }

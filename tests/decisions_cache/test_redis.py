"""A Redis-backed cache is shared by two app instances."""

from __future__ import annotations

import uuid
from dataclasses import replace

from gatehouse.config import Settings
from gatehouse.decisions.cache.store import RedisStore
from gatehouse.decisions.log import Made
from gatehouse.services import Services
from tests.conftest import started
from tests.decisions.conftest import AUTHZ, Api
from tests.distribution.conftest import acme


def spy(svc: Services, prefix: str) -> list[Made]:
    """Point the app's Redis store at a prefix of the test's own and record its decisions."""
    assert isinstance(svc.decision_cache.store, RedisStore)
    svc.decision_cache.store.prefix = prefix
    seen: list[Made] = []
    svc.decision_log.record = seen.append  # type: ignore[method-assign]
    return seen


async def test_two_instances_share_answers(settings: Settings, redis_url: str) -> None:
    """What one instance computed, the other answers from Redis."""
    shared = settings.model_copy(update={"redis_url": redis_url, "decision_cache_backend": "redis"})
    prefix = f"gatehouse-test:{uuid.uuid4().hex}:"
    async with started(shared) as one:
        org = await acme(one)
        api = Api(
            org,
            await one.token(org.tenant, "decisions:evaluate"),
            await one.token(org.tenant, "policies:write"),
            await one.token(org.tenant, "policies:read"),
        )
        assert (await api.put_policy("authz/main.rego", AUTHZ)).status_code == 200
        async with started(shared) as two:
            first, second = spy(one.svc, prefix), spy(two.svc, prefix)
            await two.svc.engines.sources(org.tenant)  # loaded: it knows its revisions
            await api.ask("authz/allow", {"action": "read"})
            other = replace(api, org=replace(org, h=two))
            await other.ask("authz/allow", {"action": "read"})
            assert [m.cache_hit for m in first + second] == [False, True]
            assert second[0].engine == "embedded"
            await one.svc.decision_cache.store.evict(org.tenant)
            await other.ask("authz/allow", {"action": "read"})
            assert second[-1].cache_hit is False

"""The decision cache: hits, misses, TTL, size, invalidation by revision, errors."""

from __future__ import annotations

from typing import Any

from gatehouse.decisions.cache.store import MemoryStore
from gatehouse.decisions.log import Made
from gatehouse.decisions.types import Decision, EvaluationError
from tests.decisions.conftest import AUTHZ, Api
from tests.decisions_cache.conftest import Clock

READ = {"action": "read"}


def store(api: Api) -> MemoryStore:
    """The app's in-memory store."""
    found = api.h.svc.decision_cache.store
    assert isinstance(found, MemoryStore)
    return found


async def test_second_ask_is_a_hit_logged_with_its_engine(api: Api, logged: list[Made]) -> None:
    """The same input again is answered from the cache, logged as a hit by `embedded`."""
    alice = api.org.users["alice"]
    first = await api.ask("authz/allow", {**READ, "subject": alice})
    second = await api.ask("authz/allow", {"subject": alice, **READ})  # key order is irrelevant
    assert first["result"] is second["result"] is True
    assert [m.cache_hit for m in logged] == [False, True]
    assert {m.engine for m in logged} == {"embedded"}
    assert logged[1].revision == logged[0].revision
    counts = api.h.svc.decision_stats.of(api.org.tenant)
    assert (counts.cache_hits, counts.cache_misses, counts.total_evaluations) == (1, 1, 2)


async def test_undefined_answers_are_cached(api: Api, logged: list[Made]) -> None:
    """An undefined rule is an answer too."""
    for _ in range(2):
        assert "result" not in await api.ask("authz/nothing", {})
    assert [m.cache_hit for m in logged] == [False, True]


async def test_entries_expire_after_the_ttl(api: Api, logged: list[Made]) -> None:
    """After the tenant's TTL the engine is asked again."""
    clock = Clock()
    store(api).timer = clock
    resp = await api.h.client.put(
        "/v1/decision-settings/cache", json={"ttl_seconds": 10}, headers=api.h.auth(api.writer)
    )
    assert resp.status_code == 200, resp.text
    for step in (0, 5, 11):
        clock.now += step
        await api.ask("authz/allow", READ)
    assert [m.cache_hit for m in logged] == [False, True, False]


async def test_a_full_cache_drops_the_least_recently_used(api: Api, logged: list[Made]) -> None:
    """At most `max_entries` answers per tenant: the oldest unused one goes."""
    resp = await api.h.client.put(
        "/v1/decision-settings/cache", json={"max_entries": 2}, headers=api.h.auth(api.writer)
    )
    assert resp.status_code == 200, resp.text
    for n in (1, 2, 3, 1):
        await api.ask("authz/allow", {"n": n})
    assert [m.cache_hit for m in logged] == [False, False, False, False]
    assert store(api).size(api.org.tenant) == 2
    got = await api.h.client.get("/v1/decision-settings/cache", headers=api.h.auth(api.reader))
    assert got.json() == {"enabled": None, "ttl_seconds": None, "max_entries": 2}


async def test_the_cache_can_be_turned_off(api: Api, logged: list[Made]) -> None:
    """A tenant that turns caching off gets every answer from the engine."""
    resp = await api.h.client.put(
        "/v1/decision-settings/cache", json={"enabled": False}, headers=api.h.auth(api.writer)
    )
    assert resp.status_code == 200, resp.text
    for _ in range(2):
        await api.ask("authz/allow", READ)
    assert [m.cache_hit for m in logged] == [False, False]
    bad = await api.h.client.put(
        "/v1/decision-settings/cache", json={"ttl_seconds": 0}, headers=api.h.auth(api.writer)
    )
    assert bad.status_code == 422


async def test_a_new_policy_answers_at_once(api: Api) -> None:
    """Uploading a policy moves the policy revision: the cached answer is unreachable."""
    bob = api.org.users["bob"]
    assert (await api.ask("authz/allow", {**READ, "subject": bob}))["result"] is False
    assert (await api.ask("authz/allow", {**READ, "subject": bob}))["result"] is False
    opened = AUTHZ.replace("default allow := false", "default allow := true")
    assert (await api.put_policy("authz/main.rego", opened)).status_code == 200
    assert (await api.ask("authz/allow", {**READ, "subject": bob}))["result"] is True


async def test_a_data_change_answers_once_the_engine_is_rebuilt(
    api: Api, logged: list[Made]
) -> None:
    """A SCIM change: answers follow the engine's revision, never a stale cached one after."""
    bob = api.org.users["bob"]
    assert sorted((await api.ask("authz/titles", {}))["result"]) == ["Clerk", "Engineer"]
    await api.org.patch_user(bob, "title", "Boss")
    await api.h.svc.engines.changed(api.org.tenant)
    for _ in range(2):
        assert sorted((await api.ask("authz/titles", {}))["result"]) == ["Boss", "Engineer"]
    assert [m.cache_hit for m in logged] == [False, False, True]
    assert logged[0].revision != logged[1].revision


async def test_errors_are_not_cached(api: Api, logged: list[Made]) -> None:
    """A failed evaluation is asked again next time."""
    svc = api.h.svc
    calls: list[str] = []
    real = svc.decisions

    class Flaky:
        async def evaluate(self, tenant_id: str, path: str, input: Any) -> Decision:
            calls.append(path)
            if len(calls) == 1:
                raise EvaluationError("eval_conflict_error", "boom")
            return await real.evaluate(tenant_id, path, input)

    svc.decisions = Flaky()
    assert (await api.post("authz/allow", {"input": READ})).status_code == 500
    await api.ask("authz/allow", READ)
    await api.ask("authz/allow", READ)
    assert len(calls) == 2
    assert [m.cache_hit for m in logged] == [False, True]
    assert svc.decision_stats.of(api.org.tenant).server_failures == 1

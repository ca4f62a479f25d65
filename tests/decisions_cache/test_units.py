"""The cache's keys and rules without an app: remote routes, generations, moved engines."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from gatehouse.decisions.cache.keys import digest
from gatehouse.decisions.cache.options import CachePolicy
from gatehouse.decisions.cache.service import DecisionCache
from gatehouse.decisions.cache.store import MemoryStore
from gatehouse.decisions.monitor.stats import violates
from gatehouse.decisions.types import Decision

POLICY = CachePolicy(True, 60.0, 100)


def cache(number: int = 1, remote: bool = False) -> tuple[DecisionCache, Any]:
    """A cache over a fake router and one fake engine generation of tenant `t`."""
    src = SimpleNamespace(policy_revision="1-0", data_revision="e1", number=number)
    engines = SimpleNamespace(tenants={"t": SimpleNamespace(sources=src)})
    route = SimpleNamespace(engine=object() if remote else None)
    router = SimpleNamespace(routes={"t": route})
    return DecisionCache(MemoryStore(lambda: 0.0), router, engines), src  # type: ignore[arg-type]


async def test_remote_routes_and_unloaded_engines_have_no_key() -> None:
    """Nothing is cached for a remote route or before the engine is loaded."""
    remote, _ = cache(remote=True)
    assert await remote.key("t", "a/b", {}) is None
    local, _ = cache()
    assert await local.key("other", "a/b", {}) is None


async def test_a_new_generation_with_the_same_labels_misses() -> None:
    """Two builds never share in-memory entries, whatever their labels."""
    c, src = cache()
    key = await c.key("t", "a/b", {"x": 1})
    assert key is not None
    await c.put("t", key, Decision(True, True, policy_revision="1-0", data_revision="e1"), POLICY)
    assert await c.get("t", key) is not None
    src.number = 2
    moved = await c.key("t", "a/b", {"x": 1})
    assert moved is not None and await c.get("t", moved) is None


async def test_answers_of_another_revision_are_not_kept() -> None:
    """An engine that moved while it evaluated: its answer is not stored under the old key."""
    c, _ = cache()
    key = await c.key("t", "a/b", {})
    assert key is not None
    await c.put("t", key, Decision(True, 1, policy_revision="2-0", data_revision="e2"), POLICY)
    assert await c.get("t", key) is None
    await c.put("t", key, Decision(True, 1, engine="fallback:deny"), POLICY)
    assert await c.get("t", key) is None


def test_digests_are_canonical_and_violations_defined() -> None:
    """Key order does not change a digest; denials are `false` or `allow: false`."""
    assert digest({"a": 1, "b": [1, 2]}) == digest({"b": [1, 2], "a": 1})
    assert digest({"a": 1}) != digest({"a": 2})
    assert violates(True, False) and violates(True, {"allow": False})
    assert (
        not violates(False, None) and not violates(True, {"allow": True}) and not violates(True, 3)
    )

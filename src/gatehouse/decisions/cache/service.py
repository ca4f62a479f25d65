"""Which answers may be cached, under which key, and eager eviction when revisions move.

Only the embedded engines' answers are cached: they carry the policy and data revisions they were
computed on, and the key is the revision the engine will answer with *now* (its published
generation, and in memory that generation's number), never the store's newest revision, so an
answer is reused only while the engine would compute it again. Remote OPA answers (and
fallbacks) are never cached: Gatehouse cannot know which bundle revision a remote OPA loaded.
"""

from __future__ import annotations

from typing import Any

import orjson

from gatehouse.decisions.cache.keys import Key, digest
from gatehouse.decisions.cache.options import CachePolicy
from gatehouse.decisions.cache.store import Cached, CacheStore, RedisStore
from gatehouse.decisions.embedded.engines import EmbeddedEngines
from gatehouse.decisions.routing.router import DecisionRouter
from gatehouse.decisions.types import Decision


class DecisionCache:
    """Looks answers up and keeps them, per tenant."""

    def __init__(self, store: CacheStore, router: DecisionRouter, engines: EmbeddedEngines) -> None:
        self.store, self.router, self.engines = store, router, engines
        # The engine revisions each tenant's entries were last keyed on (eager eviction).
        self.seen: dict[str, tuple[str, str]] = {}

    def remote(self, tenant: str) -> bool:
        """Whether the tenant's decisions go to remote OPAs (never cached)."""
        route = self.router.routes.get(tenant)
        return route is not None and route.engine is not None

    async def key(self, tenant: str, path: str, input: Any) -> Key | None:
        """The key of the answer the tenant's engine would give now, or None when it is not
        cacheable (a remote route, or no engine loaded yet)."""
        if self.remote(tenant):
            return None
        held = self.engines.tenants.get(tenant)
        if held is None:
            return None
        src = held.sources
        revs = (src.policy_revision, src.data_revision)
        if self.seen.get(tenant, revs) != revs:
            await self.store.evict(tenant)  # old entries are unreachable anyway: free them now
        self.seen[tenant] = revs
        try:
            hashed = digest(input)
        except orjson.JSONEncodeError:  # not JSON (an integer over 64 bits): the engine says so
            return None
        return Key(revs[0], revs[1], src.number, path, hashed)

    async def get(self, tenant: str, key: Key) -> Cached | None:
        """A cached answer."""
        return await self.store.get(tenant, key)

    async def put(self, tenant: str, key: Key, decision: Decision, policy: CachePolicy) -> None:
        """Keep an embedded answer, if it was computed on the revisions of its key."""
        if decision.engine != "embedded":
            return
        if (decision.policy_revision, decision.data_revision) != key[:2]:
            return  # the engine moved on while it evaluated
        value = Cached(decision.defined, decision.result, decision.engine)
        await self.store.put(tenant, key, value, policy.ttl, policy.size)

    async def check(self) -> dict[str, str] | None:
        """The shared (Redis) cache's health, asked now: `ok` or `degraded` (bypassed); None
        for the in-process cache, which cannot fail."""
        return await self.store.check() if isinstance(self.store, RedisStore) else None

    async def close(self) -> None:
        """Close the store's connections (Redis)."""
        if isinstance(self.store, RedisStore):
            await self.store.close()

"""Which answers may be cached, under which key, and eager eviction when revisions move.

Only the embedded engines' answers are cached: they carry the policy and data revisions they were
computed on, and the key is the revision the engine will answer with *now* (its published
generation), never the store's newest revision, so an answer is reused only while the engine
would compute it again. Remote OPA answers (and fallbacks) are never cached: Gatehouse cannot
know which bundle revision a remote OPA has loaded.
"""

from __future__ import annotations

from gatehouse.decisions.cache.keys import Key
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

    async def revisions(self, tenant: str) -> tuple[str, str] | None:
        """The (policy, data) revisions the tenant's next answer will carry, or None when the
        answer is not cacheable (a remote route, or no engine loaded yet)."""
        if self.remote(tenant):
            return None
        held = self.engines.tenants.get(tenant)
        if held is None:
            return None
        revs = (held.sources.policy_revision, held.sources.data_revision)
        if self.seen.get(tenant, revs) != revs:
            await self.store.evict(tenant)  # old entries are unreachable anyway: free them now
        self.seen[tenant] = revs
        return revs

    async def get(self, tenant: str, key: Key) -> Cached | None:
        """A cached answer."""
        return await self.store.get(tenant, key)

    async def put(self, tenant: str, key: Key, decision: Decision, policy: CachePolicy) -> None:
        """Keep an embedded answer under the revisions it was actually computed on."""
        if decision.engine != "embedded" or not decision.policy_revision:
            return
        key = key._replace(
            policy_revision=decision.policy_revision, data_revision=decision.data_revision
        )
        value = Cached(decision.defined, decision.result, decision.engine)
        await self.store.put(tenant, key, value, policy.ttl, policy.size)

    async def close(self) -> None:
        """Close the store's connections (Redis)."""
        if isinstance(self.store, RedisStore):
            await self.store.close()

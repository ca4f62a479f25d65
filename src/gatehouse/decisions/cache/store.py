"""Where cached answers are kept: this process's memory (LRU + TTL) or Redis (shared)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple, Protocol

import orjson
import structlog
from redis.asyncio import Redis

from gatehouse.decisions.cache.keys import Key, redis_key
from gatehouse.kit.ttl import Expiring

log = structlog.get_logger("gatehouse.decisions")
PREFIX = "gatehouse:decision-cache:"


class Cached(NamedTuple):
    """One cached answer and the engine that first produced it."""

    defined: bool
    result: Any
    engine: str


class CacheStore(Protocol):
    """Gets and puts answers per tenant."""

    async def get(self, tenant: str, key: Key) -> Cached | None:
        """The answer under the key, if kept and fresh."""
        ...

    async def put(self, tenant: str, key: Key, value: Cached, ttl: float, size: int) -> None:
        """Keep an answer for `ttl` seconds (at most `size` answers per tenant)."""
        ...

    async def evict(self, tenant: str) -> None:
        """Drop every answer of the tenant."""
        ...


class MemoryStore:
    """One LRU + TTL cache per tenant, in this process."""

    def __init__(self, timer: Callable[[], float]) -> None:
        self.timer = timer
        self.tenants: dict[str, Expiring[Key, Cached]] = {}

    def now(self) -> float:
        """The store's clock (replaceable in tests)."""
        return self.timer()

    def _of(self, tenant: str, ttl: float, size: int) -> Expiring[Key, Cached]:
        held = self.tenants.get(tenant)
        if held is None or held.ttl != ttl or held.maxsize != size:
            held = self.tenants[tenant] = Expiring(size, ttl, self.now, lru=True)
        return held

    async def get(self, tenant: str, key: Key) -> Cached | None:
        """The answer under the key, if kept and fresh."""
        held = self.tenants.get(tenant)
        return None if held is None else held.get(key)

    async def put(self, tenant: str, key: Key, value: Cached, ttl: float, size: int) -> None:
        """Keep an answer (the least recently used one goes when the tenant's cache is full)."""
        self._of(tenant, ttl, size)[key] = value

    async def evict(self, tenant: str) -> None:
        """Drop every answer of the tenant."""
        self.tenants.pop(tenant, None)

    def size(self, tenant: str) -> int:
        """How many answers the tenant has (expired ones included until touched)."""
        held = self.tenants.get(tenant)
        return 0 if held is None else len(held)


class RedisStore:
    """Answers in Redis, shared by every process; keys expire after their TTL."""

    def __init__(self, url: str, prefix: str = PREFIX) -> None:
        self.redis: Redis = Redis.from_url(url)
        self.prefix = prefix

    async def get(self, tenant: str, key: Key) -> Cached | None:
        """The answer under the key (None when absent or Redis does not answer)."""
        try:
            raw = await self.redis.get(redis_key(self.prefix, tenant, key))
        except Exception as exc:  # a cache that fails is a miss, never a failed decision
            log.warning("decision cache read failed", error=type(exc).__name__)
            return None
        if raw is None:
            return None
        defined, result, engine = orjson.loads(raw)
        return Cached(defined, result, engine)

    async def put(self, tenant: str, key: Key, value: Cached, ttl: float, size: int) -> None:
        """Keep an answer with Redis's own expiry (size is Redis's `maxmemory` policy's job)."""
        raw = orjson.dumps([value.defined, value.result, value.engine])
        try:
            await self.redis.set(redis_key(self.prefix, tenant, key), raw, px=int(ttl * 1000))
        except Exception as exc:
            log.warning("decision cache write failed", error=type(exc).__name__)

    async def evict(self, tenant: str) -> None:
        """Delete the tenant's keys (SCAN by its prefix)."""
        try:
            found = [k async for k in self.redis.scan_iter(match=f"{self.prefix}{tenant}:*")]
            if found:
                await self.redis.delete(*found)
        except Exception as exc:
            log.warning("decision cache eviction failed", error=type(exc).__name__)

    async def close(self) -> None:
        """Close the connections."""
        await self.redis.aclose()

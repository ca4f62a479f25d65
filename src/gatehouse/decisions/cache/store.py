"""Where cached answers are kept: this process's memory (LRU + TTL) or Redis (shared)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any, NamedTuple, Protocol, TypeVar

import orjson
import structlog
from redis.asyncio import Redis

from gatehouse.decisions.cache.keys import Key, redis_key
from gatehouse.kit.redisconn import redis_client
from gatehouse.kit.ttl import Expiring

log = structlog.get_logger("gatehouse.decisions")
PREFIX = "gatehouse:decision-cache:"
RETRY_SECONDS = 5.0  # while degraded, how often one call tries Redis again
T = TypeVar("T")


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
    """Answers in Redis, shared by every process; keys expire after their TTL.

    A Redis that fails or hangs makes the cache *degraded*: every call is a miss at once, and
    Redis is tried again by one call every RETRY_SECONDS (or by `/ready`'s check), so a decision
    pays the client's timeout once per retry, not on every read and write.
    """

    def __init__(
        self, url: str, prefix: str = PREFIX, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.redis: Redis = redis_client(url)
        self.prefix = prefix
        self.clock = clock
        self.error: str | None = None  # why the cache is degraded (None: it is not)
        self.retry_at = 0.0

    def health(self) -> dict[str, str]:
        """`ok`, or `degraded` (bypassed) with the last error's type."""
        if self.error is None:
            return {"status": "ok"}
        return {"status": "degraded", "error": self.error}

    async def _use(self, action: str, call: Callable[[], Awaitable[T]]) -> T | None:
        """`call()`'s result, or None when the cache is bypassed or Redis failed."""
        if self.error is not None:
            now = self.clock()
            if now < self.retry_at:
                return None
            self.retry_at = now + RETRY_SECONDS  # this call retries; the others keep bypassing
        try:
            result = await call()
        except Exception as exc:  # a cache that fails is a miss, never a failed decision
            self._failed(action, exc)
            return None
        self._recovered()
        return result

    def _failed(self, action: str, exc: Exception) -> None:
        if self.error is None:
            log.warning(
                "decision cache unavailable; bypassed", action=action, error=type(exc).__name__
            )
        self.error = type(exc).__name__
        self.retry_at = self.clock() + RETRY_SECONDS

    def _recovered(self) -> None:
        if self.error is not None:
            log.info("decision cache reachable again")
        self.error = None

    async def get(self, tenant: str, key: Key) -> Cached | None:
        """The answer under the key (None when absent, or while the cache is degraded)."""
        raw = await self._use("read", lambda: self.redis.get(redis_key(self.prefix, tenant, key)))
        if raw is None:
            return None
        defined, result, engine = orjson.loads(raw)
        return Cached(defined, result, engine)

    async def put(self, tenant: str, key: Key, value: Cached, ttl: float, size: int) -> None:
        """Keep an answer with Redis's own expiry (size is Redis's `maxmemory` policy's job)."""
        raw = orjson.dumps([value.defined, value.result, value.engine])
        name = redis_key(self.prefix, tenant, key)
        await self._use("write", lambda: self.redis.set(name, raw, px=int(ttl * 1000)))

    async def evict(self, tenant: str) -> None:
        """Delete the tenant's keys (SCAN by its prefix)."""

        async def drop() -> None:
            found = [k async for k in self.redis.scan_iter(match=f"{self.prefix}{tenant}:*")]
            if found:
                await self.redis.delete(*found)

        await self._use("evict", drop)

    async def check(self) -> dict[str, str]:
        """Ask Redis now, bypassed or not (readiness), and report the cache's health."""
        try:
            await self.redis.ping()
        except Exception as exc:
            self._failed("check", exc)
        else:
            self._recovered()
        return self.health()

    async def close(self) -> None:
        """Close the connections."""
        await self.redis.aclose()

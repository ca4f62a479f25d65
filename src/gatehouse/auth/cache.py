"""A short-lived in-process cache of authenticated principals, with explicit invalidation.

Revocation stays immediate: the process that revokes clears its cache at once, and with Redis
every process checks a shared "auth epoch" that each revocation bumps. Without Redis, other
processes notice within GATEHOUSE_TOKEN_CACHE_SECONDS.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from redis.asyncio import Redis
from redis.exceptions import RedisError

from gatehouse.auth.principal import Principal
from gatehouse.kit.ttl import Expiring, SingleFlight

EPOCH_KEY = "gatehouse:auth-epoch"


class PrincipalCache:
    """Principals by token hash, valid for `ttl` seconds or until invalidated."""

    def __init__(self, ttl: float, redis: Redis | None = None, maxsize: int = 50_000) -> None:
        self.enabled = ttl > 0
        self._entries: Expiring[str, tuple[Principal, datetime | None]] = Expiring(
            maxsize, max(ttl, 0.001)
        )
        self._redis = redis
        self._epoch: str | None = None
        self._flight: SingleFlight[str, Principal] = SingleFlight()

    async def get(self, token_hash: str) -> Principal | None:
        """The cached principal, or None when absent, expired or possibly revoked."""
        if not self.enabled:
            return None
        if self._redis is not None and not await self._same_epoch():
            self._entries.clear()
            return None
        entry = self._entries.get(token_hash)
        if entry is None:
            return None
        principal, expires_at = entry
        if expires_at is not None and expires_at <= datetime.now(UTC):
            self._entries.pop(token_hash, None)
            return None
        return principal

    async def fetch(self, token_hash: str, load: Callable[[], Awaitable[Principal]]) -> Principal:
        """The cached principal, else `load()`'s (one load for concurrent misses), remembered."""
        found = await self.get(token_hash)
        if found is not None:
            return found
        return await self._flight.run(token_hash, lambda: self._kept(token_hash, load))

    async def _kept(self, token_hash: str, load: Callable[[], Awaitable[Principal]]) -> Principal:
        principal = await load()
        self.put(token_hash, principal, principal.expires_at)
        return principal

    def put(self, token_hash: str, principal: Principal, expires_at: datetime | None) -> None:
        """Remember a freshly validated principal."""
        if self.enabled:
            self._entries[token_hash] = (principal, expires_at)

    async def invalidate(self) -> None:
        """Forget everything here and tell other processes (through Redis) to do the same."""
        self._entries.clear()
        if self._redis is not None:
            try:
                self._epoch = str(await self._redis.incr(EPOCH_KEY))
            except RedisError:
                self._epoch = None

    async def _same_epoch(self) -> bool:
        assert self._redis is not None
        try:
            raw = await self._redis.get(EPOCH_KEY)
        except RedisError:
            return False  # cannot tell: do not trust the cache
        current = raw.decode() if isinstance(raw, bytes) else str(raw or "0")
        if current == self._epoch:
            return True
        self._epoch = current
        return False

    async def close(self) -> None:
        """Close the Redis connection, if any."""
        if self._redis is not None:
            await self._redis.aclose()

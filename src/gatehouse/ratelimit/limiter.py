"""Per-minute request budgets, kept in memory or shared through Redis (the `limits` library).

Fixed one-minute windows, as GitHub's API counts: each budget resets at the end of its
window, which is exactly what the RateLimit header's `t` (seconds to reset) reports.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import structlog
from limits import RateLimitItemPerMinute, WindowStats
from limits.aio.storage import RedisStorage
from limits.aio.strategies import FixedWindowRateLimiter
from limits.errors import StorageError

from gatehouse.kit.redisconn import REDIS_TIMEOUT

WINDOW_SECONDS = 60
SWEEP_EVERY = 10_000  # hits between sweeps of the in-process windows that have ended
log = structlog.get_logger("gatehouse.ratelimit")


@dataclass(frozen=True, slots=True)
class Budget:
    """The state of one budget after a request was counted against it."""

    name: str
    limit: int
    remaining: int
    reset_seconds: int
    allowed: bool


class Windows:
    """Fixed windows counted in this process, each starting at its budget's first hit (as the
    `limits` memory store counts them, without its per-key locks and expiry task: the event loop
    is the only writer)."""

    def __init__(self, seconds: int = WINDOW_SECONDS) -> None:
        self.seconds = seconds
        self.counts: dict[tuple[str, str], tuple[float, int]] = {}
        self.hits = 0

    def hit(self, name: str, key: str, cost: int) -> tuple[int, float]:
        """Count `cost` against the budget: its count in the window and when the window ends."""
        now = time.time()
        ends, count = self.counts.get((name, key), (0.0, 0))
        if now >= ends:
            ends, count = now + self.seconds, 0
        count += cost
        self.counts[(name, key)] = (ends, count)
        self.hits += 1
        if self.hits % SWEEP_EVERY == 0:
            self.counts = {k: v for k, v in self.counts.items() if v[0] > now}
        return count, ends


class RateLimiter:
    """Counts requests against named per-minute budgets."""

    def __init__(self, redis_url: str = "") -> None:
        self.shared: FixedWindowRateLimiter | None = None
        self.storage: RedisStorage | None = None
        if redis_url:
            uri = "async+" + redis_url if redis_url.startswith("redis") else redis_url
            self.storage = RedisStorage(
                uri,
                implementation="redispy",
                key_prefix="gatehouse-rl",
                wrap_exceptions=True,
                socket_timeout=REDIS_TIMEOUT,  # the same bounds as kit.redisconn's clients
                socket_connect_timeout=REDIS_TIMEOUT,
            )
            self.shared = FixedWindowRateLimiter(self.storage)
        # In-process counting (the default, and the fallback while Redis is unreachable), in the
        # asyncio memory store: the threaded one takes a threading lock that, with database
        # threads busy, can wait for a GIL hand-off (milliseconds) on the event loop.
        self.memory = Windows()
        self._items: dict[int, RateLimitItemPerMinute] = {}

    def _item(self, limit: int) -> RateLimitItemPerMinute:
        item = self._items.get(limit)
        if item is None:
            item = self._items[limit] = RateLimitItemPerMinute(limit)
        return item

    async def hit(self, name: str, key: str, limit: int, cost: int = 1) -> Budget:
        """Count `cost` requests (one, or a /Bulk request's operations) against `key`'s budget
        of `limit` per minute."""
        if self.shared is not None:
            item = self._item(limit)
            try:
                allowed = await self.shared.hit(item, name, key, cost=cost)
                stats = await self.shared.get_window_stats(item, name, key)
                return _budget(name, limit, stats, allowed)
            except StorageError:
                log.warning("rate-limit store unreachable; counting in this process", budget=name)
        count, ends = self.memory.hit(name, key, cost)
        return _budget(name, limit, WindowStats(ends, limit - count), count <= limit)

    async def check(self) -> bool:
        """Whether the shared counter store answers (always true in-process)."""
        if self.storage is None:
            return True
        try:
            return bool(await self.storage.check())
        except StorageError:
            return False


def _budget(name: str, limit: int, stats: WindowStats, allowed: bool) -> Budget:
    reset = max(1, math.ceil(stats.reset_time - time.time()))
    return Budget(name, limit, max(0, stats.remaining), reset, allowed)


def headers(budgets: list[Budget]) -> dict[str, str]:
    """RateLimit-Policy and RateLimit headers (IETF httpapi ratelimit-headers draft)."""
    policy = ", ".join(f'"{b.name}";q={b.limit};w={WINDOW_SECONDS}' for b in budgets)
    tightest = min(budgets, key=lambda b: (b.remaining, -b.reset_seconds))
    return {
        "RateLimit-Policy": policy,
        "RateLimit": f'"{tightest.name}";r={tightest.remaining};t={tightest.reset_seconds}',
    }

"""The one way Gatehouse opens a Redis client: bounded timeouts, so a hung Redis costs a second."""

from __future__ import annotations

from redis.asyncio import Redis

# Every Redis call (and every connect) gives up after this many seconds (docs/operations.md).
REDIS_TIMEOUT = 1.0


def redis_client(url: str) -> Redis:
    """A Redis client for `url` whose connects and calls time out after REDIS_TIMEOUT."""
    return Redis.from_url(url, socket_timeout=REDIS_TIMEOUT, socket_connect_timeout=REDIS_TIMEOUT)

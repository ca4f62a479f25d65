"""A bounded map whose entries expire: the hot-path caches (tokens, settings, redactors).

cachetools' TTLCache orders entries for LRU and expires on every access behind a timer
context manager; on the decision path its reads cost more than the work they saved. Here a
read is a dict look-up and one clock read, and entries leave when read after their time or,
when the map is full, oldest first (constant time, in an OrderedDict).
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar, cast, overload

K = TypeVar("K")
V = TypeVar("V")
D = TypeVar("D")
MISSING = object()


class SingleFlight(Generic[K, V]):
    """Concurrent calls for one key share one running load (its value or its error)."""

    def __init__(self) -> None:
        self.running: dict[K, asyncio.Future[V]] = {}

    async def run(self, key: K, load: Callable[[], Awaitable[V]]) -> V:
        """`load()`'s value, or that of the load of `key` already running."""
        running = self.running.get(key)
        if running is None:
            running = self.running[key] = asyncio.ensure_future(load())
            running.add_done_callback(lambda _: self.running.pop(key, None))
        # Shielded: a caller that gives up does not cancel the load the others wait for.
        return await asyncio.shield(running)


class Expiring(Generic[K, V]):
    """At most `maxsize` entries, each kept `ttl` seconds after it was set; when full, the
    oldest set (or, with `lru`, the least recently read) goes first."""

    def __init__(
        self,
        maxsize: int,
        ttl: float,
        timer: Callable[[], float] = time.monotonic,
        *,
        lru: bool = False,
    ) -> None:
        self.maxsize, self.ttl, self.timer, self.lru = maxsize, ttl, timer, lru
        # Ordered: evicting the oldest is O(1) (a plain dict's first live entry is found by
        # scanning the slots deleted before it, 4-15 µs at 10-100k entries).
        self.entries: OrderedDict[K, tuple[float, V]] = OrderedDict()
        self.flight: SingleFlight[K, V] = SingleFlight()

    @overload
    def get(self, key: K) -> V | None: ...

    @overload
    def get(self, key: K, default: D) -> V | D: ...

    def get(self, key: K, default: object = None) -> object:
        """The value, or `default` when absent or expired."""
        entries = self.entries
        entry = entries.get(key)
        if entry is None:
            return default
        if entry[0] < self.timer():
            del entries[key]
            return default
        if self.lru:  # to the end: the most recently used
            entries.move_to_end(key)
        return entry[1]

    def __setitem__(self, key: K, value: V) -> None:
        """Keep `value` for `ttl` seconds from now."""
        entries = self.entries
        if self.maxsize <= 0:
            return
        if entries.pop(key, None) is None and len(entries) >= self.maxsize:
            entries.popitem(last=False)  # the oldest (or least recently read)
        entries[key] = (self.timer() + self.ttl, value)

    async def fetch(self, key: K, load: Callable[[], Awaitable[V]]) -> V:
        """The value, loaded (and kept) when absent: concurrent misses of a key share one load,
        so an expiry under load costs one query, not one per request waiting."""
        found = self.get(key, MISSING)
        if found is not MISSING:
            return cast(V, found)
        return await self.flight.run(key, lambda: self._kept(key, load))

    async def _kept(self, key: K, load: Callable[[], Awaitable[V]]) -> V:
        value = self[key] = await load()
        return value

    def pop(self, key: K, default: V | None = None) -> V | None:
        """Remove the entry; its value if it had not expired."""
        entry = self.entries.pop(key, None)
        return entry[1] if entry is not None and entry[0] >= self.timer() else default

    def clear(self) -> None:
        """Forget everything."""
        self.entries.clear()

    def __len__(self) -> int:
        """How many entries are held (expired ones included until read or evicted)."""
        return len(self.entries)

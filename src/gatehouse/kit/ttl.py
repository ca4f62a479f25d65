"""A bounded map whose entries expire: the hot-path caches (tokens, settings, redactors).

cachetools' TTLCache orders entries for LRU and expires on every access behind a timer
context manager; on the decision path its reads cost more than the work they saved. Here a
read is a dict look-up and one clock read, and entries leave when read after their time or,
when the map is full, oldest first.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Generic, TypeVar, overload

K = TypeVar("K")
V = TypeVar("V")
D = TypeVar("D")


class Expiring(Generic[K, V]):
    """At most `maxsize` entries, each kept `ttl` seconds after it was set."""

    def __init__(
        self, maxsize: int, ttl: float, timer: Callable[[], float] = time.monotonic
    ) -> None:
        self.maxsize, self.ttl, self.timer = maxsize, ttl, timer
        self.entries: dict[K, tuple[float, V]] = {}

    @overload
    def get(self, key: K) -> V | None: ...

    @overload
    def get(self, key: K, default: D) -> V | D: ...

    def get(self, key: K, default: object = None) -> object:
        """The value, or `default` when absent or expired."""
        entry = self.entries.get(key)
        if entry is None:
            return default
        if entry[0] <= self.timer():
            self.entries.pop(key, None)
            return default
        return entry[1]

    def __setitem__(self, key: K, value: V) -> None:
        """Keep `value` for `ttl` seconds from now."""
        now = self.timer()
        entries = self.entries
        if key not in entries and len(entries) >= self.maxsize:
            self.entries = entries = {k: e for k, e in entries.items() if e[0] > now}
            while len(entries) >= self.maxsize:
                del entries[next(iter(entries))]
        entries[key] = (now + self.ttl, value)

    def pop(self, key: K, default: V | None = None) -> V | None:
        """Remove the entry; its value if it had not expired."""
        entry = self.entries.pop(key, None)
        return entry[1] if entry is not None and entry[0] > self.timer() else default

    def clear(self) -> None:
        """Forget everything."""
        self.entries.clear()

    def __len__(self) -> int:
        """How many entries are held (expired ones included until read or evicted)."""
        return len(self.entries)

"""The Expiring map: expiry by its clock, oldest-first (or least-recent) eviction."""

import asyncio

import pytest

from gatehouse.kit.ttl import Expiring


class Clock:
    """A clock the test moves."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_entries_expire_after_their_ttl() -> None:
    """An entry is there until `ttl` seconds after it was set, then gone."""
    clock = Clock()
    held: Expiring[str, int] = Expiring(10, 5.0, clock)
    held["a"] = 1
    clock.now += 5.0
    assert held.get("a") == 1
    clock.now += 0.01
    assert held.get("a") is None
    assert held.get("a", -1) == -1
    assert len(held) == 0


def test_setting_again_restarts_the_ttl_and_none_is_a_value() -> None:
    """A key set again lives from then; a stored None is told apart from a miss."""
    clock = Clock()
    held: Expiring[str, int | None] = Expiring(10, 5.0, clock)
    held["a"] = 1
    clock.now += 4
    held["a"] = None
    clock.now += 4
    missing = object()
    assert held.get("a", missing) is None
    assert held.get("b", missing) is missing


def test_full_map_drops_the_oldest() -> None:
    """At `maxsize`, a new key pushes out the one set longest ago."""
    held: Expiring[str, int] = Expiring(2, 60.0)
    held["a"], held["b"] = 1, 2
    held["a"] = 10  # set again: now the newest
    held["c"] = 3
    assert held.get("b") is None
    assert (held.get("a"), held.get("c")) == (10, 3)
    assert len(held) == 2


def test_lru_keeps_what_is_read() -> None:
    """With `lru`, reading an entry saves it from the next eviction."""
    held: Expiring[str, int] = Expiring(2, 60.0, lru=True)
    held["a"], held["b"] = 1, 2
    assert held.get("a") == 1
    held["c"] = 3
    assert held.get("b") is None
    assert (held.get("a"), held.get("c")) == (1, 3)


def test_pop_clear_and_zero_size() -> None:
    """pop returns a live value only; clear empties; a map of size 0 keeps nothing."""
    clock = Clock()
    held: Expiring[str, int] = Expiring(4, 1.0, clock)
    held["a"], held["b"] = 1, 2
    assert held.pop("a") == 1
    clock.now += 2
    assert held.pop("b") is None
    held["c"] = 3
    held.clear()
    assert len(held) == 0
    none: Expiring[str, int] = Expiring(0, 1.0)
    none["a"] = 1
    assert none.get("a") is None


async def test_concurrent_misses_share_one_load() -> None:
    """Many requests missing the same key at once cause one load; an error reaches them all."""
    held: Expiring[str, int] = Expiring(10, 60.0)
    calls = 0

    async def load() -> int:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.01)
        return 7

    assert await asyncio.gather(*(held.fetch("a", load) for _ in range(20))) == [7] * 20
    assert calls == 1
    assert await held.fetch("a", load) == 7 and calls == 1  # kept

    async def broken() -> int:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.01)
        raise ValueError("no")

    results = await asyncio.gather(
        *(held.fetch("b", broken) for _ in range(5)), return_exceptions=True
    )
    assert all(isinstance(r, ValueError) for r in results) and calls == 2
    with pytest.raises(ValueError, match="no"):  # not kept: the next miss loads again
        await held.fetch("b", broken)
    assert calls == 3

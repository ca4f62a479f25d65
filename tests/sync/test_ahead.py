"""Reading one batch ahead: order, errors where they happen, and nothing left running."""

import asyncio
from collections.abc import AsyncGenerator
from contextlib import aclosing

import pytest

from gatehouse.sync.ahead import read_ahead

LIMIT = 10  # seconds: a pump that lost its caller would otherwise hang the test


class Source:
    """Numbers 0..n-1, optionally failing at one of them; records how far it got."""

    def __init__(self, n: int, fail_at: int | None = None, error: BaseException | None = None):
        self.n, self.fail_at, self.error = n, fail_at, error
        self.produced: list[int] = []
        self.closed = False

    async def items(self) -> AsyncGenerator[int, None]:
        """The generator read_ahead consumes."""
        try:
            for i in range(self.n):
                await asyncio.sleep(0)
                if i == self.fail_at:
                    assert self.error is not None
                    raise self.error
                self.produced.append(i)
                yield i
        finally:
            self.closed = True


async def collect(source: Source, stop_after: int | None = None) -> list[int]:
    """What the caller sees, stopping early after `stop_after` items."""
    seen: list[int] = []
    async with aclosing(read_ahead(source.items())) as items:
        async for item in items:
            seen.append(item)
            if stop_after is not None and len(seen) == stop_after:
                break
    return seen


async def test_items_arrive_in_order_and_one_is_read_ahead() -> None:
    source = Source(5)
    seen: list[int] = []
    async for item in read_ahead(source.items()):
        await asyncio.sleep(0.01)  # the caller is busy: the next item is fetched meanwhile
        assert len(source.produced) >= min(item + 2, 5)
        seen.append(item)
    assert seen == [0, 1, 2, 3, 4]
    assert source.closed


async def test_an_error_is_raised_at_the_item_where_it_happened() -> None:
    source = Source(5, fail_at=3, error=ValueError("source broke"))
    with pytest.raises(ValueError, match="source broke"):
        await collect(source)
    assert source.produced == [0, 1, 2]


async def test_a_cancellation_inside_the_source_reaches_the_caller() -> None:
    """A worker dying mid-read (CancelledError from the source) must not leave it waiting."""
    source = Source(5, fail_at=2, error=asyncio.CancelledError())
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(collect(source), LIMIT)
    assert source.produced == [0, 1]


async def test_stopping_early_cancels_the_fetch_and_closes_the_source() -> None:
    source = Source(100)
    assert await asyncio.wait_for(collect(source, stop_after=3), LIMIT) == [0, 1, 2]
    assert source.closed
    assert len(source.produced) <= 5

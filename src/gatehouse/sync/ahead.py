"""Reading one item ahead: the source works on the next batch while the store writes this one."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator
from typing import TypeVar, cast

T = TypeVar("T")
_END = object()


async def read_ahead(source: AsyncGenerator[T, None]) -> AsyncGenerator[T, None]:
    """The items of `source` in order, each next one fetched while the caller holds the last.

    An error in `source` is raised to the caller at the item where it happened. A caller that
    may stop early (an error of its own, a break) closes this generator (`contextlib.aclosing`):
    that cancels the fetch and closes `source`.
    """
    queue: asyncio.Queue[object] = asyncio.Queue(maxsize=1)
    stopping = False

    async def pump() -> None:
        try:
            async for item in source:
                await queue.put(item)
        except BaseException as exc:
            if stopping:  # the caller cancelled the fetch: nobody waits for anything more
                raise
            # Handed to the caller and raised there, a cancellation from inside `source` too
            # (a dying worker): a pump that just ended would leave the caller waiting forever.
            await queue.put(exc)
        else:
            await queue.put(_END)

    task = asyncio.create_task(pump())
    try:
        while True:
            item = await queue.get()
            if item is _END:
                break
            if isinstance(item, BaseException):
                raise item
            yield cast(T, item)
    finally:
        stopping = True
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await source.aclose()

"""Reading one item ahead: the source works on the next batch while the store writes this one."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator
from typing import TypeVar, cast

T = TypeVar("T")
_END = object()


async def read_ahead(source: AsyncGenerator[T, None]) -> AsyncIterator[T]:
    """The items of `source` in order, each next one fetched while the caller holds the last.

    An error in `source` is raised to the caller at the item where it happened; when the caller
    stops early (an error of its own, a break), the fetch is cancelled and `source` closed.
    """
    queue: asyncio.Queue[object] = asyncio.Queue(maxsize=1)

    async def pump() -> None:
        try:
            async for item in source:
                await queue.put(item)
        except Exception as exc:  # handed to the caller, raised there
            await queue.put(exc)
        else:
            await queue.put(_END)

    task = asyncio.create_task(pump())
    try:
        while True:
            item = await queue.get()
            if item is _END:
                break
            if isinstance(item, Exception):
                raise item
            yield cast(T, item)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await source.aclose()

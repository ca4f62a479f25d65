"""Progress bars for runs: one bar per stream, with a total where the source tells one."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.text import Text

from gatehouse.cli.common import console
from gatehouse.sync.tally import Tally

T = TypeVar("T")
REFRESH = 0.2  # seconds between looks at the run's tally


class Done(ProgressColumn):
    """`n/total` when the total is known, else `n rows`."""

    def __init__(self) -> None:
        super().__init__()
        self.counted = MofNCompleteColumn()

    def render(self, task: Task) -> Text:
        """The count of the task."""
        if task.total is not None:
            return self.counted.render(task)
        return Text(f"{int(task.completed)} rows", style="progress.download")


async def follow(work: asyncio.Task[T], tally: Callable[[], Tally | None], label: str) -> T:
    """Wait for `work`, drawing a bar per stream from the run's tally as it grows.

    Log lines written meanwhile appear above the bars (the display captures stderr).
    """
    columns = (TextColumn("{task.description}"), BarColumn(), Done(), TimeElapsedColumn())
    with Progress(*columns, console=console, redirect_stderr=True) as progress:
        tasks: dict[str, TaskID] = {}
        while True:
            current = tally()
            if current is not None:
                for stream, rows in current.rows.items():
                    if stream not in tasks:
                        tasks[stream] = progress.add_task(f"{label} {stream}", total=None)
                    total = current.totals.get(stream)
                    progress.update(tasks[stream], completed=rows, total=total)
            if work.done():
                for task in progress.tasks:
                    if task.total is None:  # the stream is read to its end: show it full
                        progress.update(task.id, total=task.completed)
                return await work
            await asyncio.wait({work}, timeout=REFRESH)

"""The in-process sync worker of `gatehouse serve`."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass

from gatehouse.config import Settings
from gatehouse.connections.operations import Connections
from gatehouse.db.engine import Database
from gatehouse.services import Services
from gatehouse.sync.engine import Settings as RunSettings
from gatehouse.sync.jobs import job_factory
from gatehouse.sync.worker import Worker


def run_settings(settings: Settings) -> RunSettings:
    """How runs behave, from the configuration."""
    return RunSettings(lease_seconds=settings.sync_lease_seconds, retries=settings.sync_retries)


def background_worker(db: Database, connections: Connections, settings: Settings) -> Worker:
    """A polling worker (serve's or `gatehouse worker`'s) paced by the configuration."""
    return Worker(
        db,
        job_factory(connections),
        run_settings(settings),
        poll_seconds=settings.worker_poll_seconds,
        idle_max_seconds=settings.idle_poll_max_seconds,
    )


def make_worker(svc: Services) -> Worker:
    """A worker over this process's database, key ring and settings."""
    return background_worker(svc.db, Connections(svc.db, svc.keys, svc.settings), svc.settings)


@dataclass
class Running:
    """A worker task and the event that stops it."""

    task: asyncio.Task[None]
    stop_event: asyncio.Event

    async def stop(self) -> None:
        """Stop after the current batch (a run in progress resumes on the next start)."""
        self.stop_event.set()
        try:
            await asyncio.wait_for(asyncio.shield(self.task), 10)
        except TimeoutError:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task


def start_worker(svc: Services) -> Running:
    """Start the in-process worker."""
    stop = asyncio.Event()
    task = asyncio.create_task(make_worker(svc).run_forever(stop, svc.worker_wake))
    return Running(task, stop)

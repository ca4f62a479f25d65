"""The sync worker: fires due schedules, claims queued runs and executes them.

`gatehouse worker` runs it in its own process; `gatehouse serve` runs one in-process unless
GATEHOUSE_WORKER_IN_PROCESS=false. Any number of workers may share one PostgreSQL database:
schedules fire once and each run has one owner at a time (leases; an expired lease lets
another worker resume the run from its last checkpoint).
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import structlog
from sqlalchemy import update

from gatehouse.connectors.protocol import ConnectorError
from gatehouse.db.engine import Database
from gatehouse.db.tenancy import TENANT
from gatehouse.kit.ids import new_id
from gatehouse.kit.pacing import Pacer
from gatehouse.sync import runs, scheduler
from gatehouse.sync.engine import LeaseLost, RunFailed, Runner, RunRefused, RunSpec, Settings
from gatehouse.sync.models import SyncRun
from gatehouse.sync.plan import Job
from gatehouse.sync.tally import Tally

log = structlog.get_logger("gatehouse.worker")
JobFactory = Callable[[Database, SyncRun], Awaitable[Job]]
WHOLE_RUN_LEASE = 3600.0  # dry and atomic runs commit once, so they cannot renew as they go


class JobUnavailable(Exception):
    """The run's connection cannot be used (deleted, misconfigured, secrets unreadable)."""


class JobCancelled(Exception):
    """The run must not go on (its connection was paused); it ends cancelled, not failed."""


class Worker:
    """Claims and executes sync runs."""

    def __init__(
        self,
        db: Database,
        jobs: JobFactory,
        settings: Settings | None = None,
        *,
        poll_seconds: float = 2.0,
        owner: str | None = None,
        idle_max_seconds: float = 0.0,
    ) -> None:
        self.db, self.jobs = db, jobs
        self.settings = settings or Settings()
        self.poll_seconds, self.idle_max_seconds = poll_seconds, idle_max_seconds
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{new_id()[-8:]}"

    async def run_once(self) -> str | None:
        """Fire due schedules, then execute at most one run; its id, or None when idle."""
        await scheduler.fire_due(self.db)
        claimed = await runs.claim(self.db, self.owner, self.settings.lease_seconds)
        if claimed is None:
            return None
        run, spec = claimed
        await self.execute(run, spec)
        return spec.id

    async def execute(
        self, run: SyncRun, spec: RunSpec, watch: Callable[[Runner], None] | None = None
    ) -> None:
        """Execute a claimed run and record how it ended; `watch` sees the runner first."""
        bound = log.bind(run_id=spec.id, tenant=spec.tenant_id, connection=run.connection_id)
        tally = Tally()
        try:
            job = await self.jobs(self.db, run)
            if spec.dry_run or spec.atomic:
                await self._extend(spec, WHOLE_RUN_LEASE)
            runner = Runner(self.db, job, spec, self.settings)
            tally = runner.tally
            if watch is not None:
                watch(runner)
            await runner.execute()
        except LeaseLost:
            bound.warning("sync_lease_lost")
            return
        except JobCancelled as exc:
            await runs.finish(self.db, spec, "cancelled", tally, str(exc))
            bound.info("sync_cancelled", reason=str(exc))
            return
        except RunRefused as exc:
            await runs.finish(self.db, spec, "refused", tally, str(exc))
            bound.warning("sync_refused", error=str(exc))
            return
        except (RunFailed, ConnectorError, JobUnavailable) as exc:
            await runs.finish(self.db, spec, "failed", tally, str(exc))
            bound.warning("sync_failed", error=str(exc))
            return
        except Exception as exc:
            bound.exception("sync_crashed")
            # The exception's text may quote SQL parameters (record values): it stays in the log.
            reason = f"internal error ({type(exc).__name__}); the server log has the details"
            await runs.finish(self.db, spec, "failed", tally, reason)
            return
        await runs.finish(self.db, spec, "succeeded", tally)
        bound.info("sync_succeeded", counts=tally.counts)

    async def _extend(self, spec: RunSpec, seconds: float) -> None:
        async with self.db.transaction() as session:
            await session.execute(
                update(SyncRun)
                .where(SyncRun.tenant_id == spec.tenant_id, SyncRun.id == spec.id)
                .where(SyncRun.lease_owner == spec.owner)
                .values(lease_expires_at=datetime.now(UTC) + timedelta(seconds=seconds))
                .execution_options(**{TENANT: spec.tenant_id})
            )

    async def run_forever(self, stop: asyncio.Event, wake: asyncio.Event | None = None) -> None:
        """Work until `stop` is set; when idle, sleep until the poll period ends or `wake`."""
        log.info("worker_started", owner=self.owner)
        pacer = Pacer(self.poll_seconds, self.idle_max_seconds)
        while not stop.is_set():
            try:
                busy = await self.run_once()
            except Exception:
                log.exception("worker_loop_error")
                busy = None
            if busy is None:
                if await self._idle(stop, wake, pacer.after(False)):
                    pacer.reset()
            else:
                pacer.reset()
        log.info("worker_stopped", owner=self.owner)

    async def _idle(self, stop: asyncio.Event, wake: asyncio.Event | None, seconds: float) -> bool:
        """Sleep up to `seconds`, or until stopped or woken; whether this process woke it."""
        events = [stop] if wake is None else [stop, wake]
        waits = [asyncio.create_task(e.wait()) for e in events]
        try:
            await asyncio.wait(waits, timeout=seconds, return_when="FIRST_COMPLETED")
            return wake is not None and wake.is_set()
        finally:
            for task in waits:
                task.cancel()
            if wake is not None:
                wake.clear()

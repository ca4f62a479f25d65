"""Gatehouse's own decisions into the decision log: queued in memory, written in batches.

Nothing is written on the request path. The queue is bounded; a decision that finds it full is
counted (`gatehouse_decision_log_dropped`), never silently lost; a batch that fails to write is
counted the same way and logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import socket
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog

from gatehouse.db.bulk import insert_many
from gatehouse.db.engine import Database
from gatehouse.fleet import decisionlog
from gatehouse.fleet.redaction import Redactions, Redactor
from gatehouse.fleet.service import Redactors
from gatehouse.observability.metrics import Metrics

log = structlog.get_logger("gatehouse.decisions")
INSTANCE = f"gatehouse:{socket.gethostname()}:{os.getpid()}"[:200]
# Values shared by rows are the same objects, so a batch serialises each once (db/bulk.py).
LABELS = {"id": INSTANCE, "app": "gatehouse"}
NONE_REDACTED: list[str] = []


@functools.lru_cache(maxsize=64)
def extra_of(api: str) -> dict[str, str]:
    """The `extra` column of decisions asked through `api` (one object per API, serialised once
    per batch)."""
    return {"api": api}


YIELD_EVERY = 100  # rows prepared between turns of the event loop


# Not frozen: one is made per decision, and a frozen dataclass's __init__ costs five times more.
@dataclass(slots=True)
class Made:
    """One decision as it was made (not yet redacted)."""

    tenant_id: str
    decision_id: str
    decided_at: datetime
    path: str
    input: Any
    defined: bool
    result: Any
    engine: str
    endpoint: str | None
    latency_ms: float
    metrics: dict[str, int] | None
    requested_by: str | None
    revision: str
    # The API that asked, when not OPA's Data API (e.g. `/access/v1/evaluations`).
    api: str | None = None
    cache_hit: bool = False


class DecisionLog:
    """A bounded queue of decisions and the task that writes them."""

    def __init__(
        self,
        db: Database,
        redactors: Redactors,
        metrics: Metrics,
        *,
        capacity: int = 100_000,
        batch: int = 1000,
        interval: float = 0.25,
    ) -> None:
        self.db, self.redactors, self.metrics = db, redactors, metrics
        self.capacity, self.batch, self.interval = capacity, batch, interval
        self.queue: deque[Made] = deque()
        self.wake = asyncio.Event()
        self.task: asyncio.Task[None] | None = None
        self.stop_now = asyncio.Event()
        self.revision = ""
        self.bundles: dict[str, Any] = {}

    def record(self, made: Made) -> None:
        """Queue a decision (counted as dropped when the queue is full)."""
        if len(self.queue) >= self.capacity:
            self.metrics.decision_log_dropped.labels("queue_full").inc()
            return
        self.queue.append(made)
        if len(self.queue) >= self.batch:
            self.wake.set()

    def start(self) -> None:
        """Start writing in the background."""
        self.task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        """Write what is queued, then stop."""
        self.stop_now.set()
        self.wake.set()
        if self.task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self.task

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), self.interval)
            self.wake.clear()
            await self.flush()
            if self.stop_now.is_set() and not self.queue:
                return

    async def flush(self) -> None:
        """Write everything queued now, a batch at a time."""
        while self.queue:
            taken = [self.queue.popleft() for _ in range(min(self.batch, len(self.queue)))]
            by_tenant: dict[str, list[Made]] = {}
            for made in taken:
                by_tenant.setdefault(made.tenant_id, []).append(made)
            for tenant, items in by_tenant.items():
                try:
                    now = datetime.now(UTC)
                    rows = []
                    redactor = await self.redactors.of(tenant)
                    for n, made in enumerate(items, 1):
                        rows.append(self._row(made, now, redactor))
                        if n % YIELD_EVERY == 0:  # let requests in between (their p99)
                            await asyncio.sleep(0)
                    # Decision ids are fresh UUIDs: no look-up for ones already stored.
                    async with self.db.transaction() as session:
                        await insert_many(session, decisionlog.TABLE, rows)
                    self.metrics.decisions_logged.inc(len(rows))
                except Exception:
                    log.exception("could not write decisions", tenant=tenant, count=len(items))
                    self.metrics.decision_log_dropped.labels("write_failed").inc(len(items))

    def _bundles(self, revision: str) -> dict[str, Any]:
        """The `bundles` field for a revision (one object per revision in a row)."""
        if revision != self.revision:
            self.revision, self.bundles = revision, {"gatehouse": {"revision": revision}}
        return self.bundles

    def _row(self, made: Made, now: datetime, redactor: Redactor) -> dict[str, Any]:
        report = Redactions()
        stored_input = redactor.apply(made.input, "/input", report)
        result = redactor.apply(made.result, "/result", report) if made.defined else None
        return {
            "tenant_id": made.tenant_id,
            "received_at": now,
            "decision_id": made.decision_id,
            "decided_at": made.decided_at,
            "engine": made.engine,
            "instance_id": INSTANCE,
            "endpoint": made.endpoint,
            "path": made.path.strip("/"),
            "query": None,
            "input": stored_input,
            "defined": made.defined,
            "result": result,
            "latency_ms": made.latency_ms,
            "cache_hit": made.cache_hit,
            "labels": LABELS,
            "bundles": self._bundles(made.revision),
            "metrics": made.metrics,
            "erased": report.erased or NONE_REDACTED,
            "masked": report.masked or NONE_REDACTED,
            "requested_by": made.requested_by,
            "error": None,
            "extra": extra_of(made.api) if made.api else None,
        }

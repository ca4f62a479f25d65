"""Token usage logging, buffered in memory and written in batches off the request path."""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncConnection

from gatehouse.auth.models import ApiToken
from gatehouse.db.engine import Database
from gatehouse.db.tenancy import ALL_TENANTS

log = structlog.get_logger("gatehouse.usage")
MAX_BUFFER = 50_000
# Records written per driver call: building a slice's rows holds the event loop, so a second's
# worth of a busy server's requests goes in several calls with requests served in between.
SLICE = 500


@dataclass(frozen=True, slots=True)
class UsageRecord:
    """One authenticated request, as it will be logged."""

    tenant_id: str
    token_id: str
    method: str
    path: str
    status: int
    latency_ms: float
    request_id: str
    at: datetime


COLUMNS = ("tenant_id", "token_id", "method", "path", "status", "latency_ms", "request_id", "at")


def _insert_sql(dialect: str) -> str:
    marks = [f"${i}" for i in range(1, len(COLUMNS) + 1)] if dialect == "postgresql" else ["?"] * 8
    # Built from the constants above only.
    return f"INSERT INTO token_usage ({', '.join(COLUMNS)}) VALUES ({', '.join(marks)})"  # noqa: S608


def _rows(batch: list[UsageRecord], conn: AsyncConnection) -> list[tuple[Any, ...]]:
    # The driver's own executemany: at thousands of rows a second, building ORM or Core
    # parameter sets costs more CPU than the write. SQLite gets SQLAlchemy's text format.
    sqlite = conn.dialect.name == "sqlite"
    return [
        (
            r.tenant_id,
            r.token_id,
            r.method,
            r.path[:2000],
            r.status,
            r.latency_ms,
            r.request_id,
            r.at.strftime("%Y-%m-%d %H:%M:%S.%f") if sqlite else r.at,
        )
        for r in batch
    ]


class UsageRecorder:
    """Collects usage records and flushes them with last_used_at updates every period."""

    def __init__(self, db: Database, period: float) -> None:
        self.db = db
        self.period = period
        self._buffer: deque[UsageRecord] = deque(maxlen=MAX_BUFFER)
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self.dropped = 0

    def add(self, record: UsageRecord) -> None:
        """Queue a record; past MAX_BUFFER the oldest records are dropped and counted."""
        if len(self._buffer) == MAX_BUFFER:
            self.dropped += 1
        self._buffer.append(record)

    async def flush(self) -> int:
        """Write every queued record now (after any flush already under way); returns how many."""
        async with self._lock:
            return await self._flush()

    async def _flush(self) -> int:
        batch = list(self._buffer)
        self._buffer.clear()
        if self.dropped:
            log.warning("usage records dropped: the database fell behind", count=self.dropped)
            self.dropped = 0
        if not batch:
            return 0
        last_used: dict[str, datetime] = {}
        for rec in batch:
            last_used[rec.token_id] = max(rec.at, last_used.get(rec.token_id, rec.at))
        try:
            async with self.db.transaction() as session:
                conn = await session.connection()
                sql = _insert_sql(conn.dialect.name)
                for start in range(0, len(batch), SLICE):
                    await conn.exec_driver_sql(sql, _rows(batch[start : start + SLICE], conn))
                for token_id, at in sorted(last_used.items()):
                    await session.execute(
                        update(ApiToken)
                        .where(ApiToken.id == token_id)
                        .values(last_used_at=at, updated_at=ApiToken.updated_at)
                        .execution_options(**{ALL_TENANTS: True})
                    )
        except Exception:
            log.exception("usage flush failed; records kept for the next try", count=len(batch))
            room = MAX_BUFFER - len(self._buffer)
            keep = batch[-room:] if room else []
            self._buffer.extendleft(reversed(keep))  # back in front, in their original order
            self.dropped += len(batch) - len(keep)
            return 0
        return len(batch)

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.period)
            await self.flush()

    def start(self) -> None:
        """Begin flushing in the background."""
        self._task = asyncio.create_task(self._loop(), name="usage-flush")

    async def stop(self) -> None:
        """Stop the background loop and write what is left."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.flush()

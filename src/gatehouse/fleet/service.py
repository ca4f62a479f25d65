"""The fleet's two uploads, as units of work: a status report, and a decision-log upload."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from gatehouse.audit import service as audit
from gatehouse.audit.context import Actor
from gatehouse.config import Settings
from gatehouse.db.engine import Database
from gatehouse.fleet import decisionlog
from gatehouse.fleet.classification import attribute_levels
from gatehouse.fleet.events import parse_events
from gatehouse.fleet.redaction import Redactor
from gatehouse.fleet.wire import decode, parse_json
from gatehouse.kit.boundary import refused
from gatehouse.kit.jsonbounds import json_refusal
from gatehouse.kit.ttl import Expiring

REDACTOR_TTL = 30.0  # seconds a tenant's classification is reused before it is read again
THREAD_ABOVE = 16 * 1024  # bodies larger than this are decompressed and parsed off the loop
LOG_HINT = (
    "Lower OPA's decision_logs.reporting.upload_size_limit_bytes, or raise "
    "GATEHOUSE_DECISION_LOG_MAX_DECOMPRESSED_BYTES."
)


class Redactors:
    """Each tenant's redactor, built from its classification and reused for a short while."""

    def __init__(self, db: Database, mask_from: str, ttl: float = REDACTOR_TTL) -> None:
        self.db = db
        self.mask_from = mask_from
        self.cache: Expiring[str, Redactor] = Expiring(4096, ttl)

    async def of(self, tenant_id: str) -> Redactor:
        """The tenant's redactor."""
        found = self.cache.get(tenant_id)  # the hot path: no coroutine, no closure
        if found is not None:
            return found
        return await self.cache.fetch(tenant_id, lambda: self._load(tenant_id))

    async def _load(self, tenant_id: str) -> Redactor:
        async with self.db.transaction(write=False) as session:
            levels = await attribute_levels(session, tenant_id)
        return Redactor.from_levels(levels, self.mask_from)


def refuse_unstorable(body: bytes) -> None:
    """Refuse a decompressed upload holding a NUL character or an integer beyond 64 bits (the
    request boundary, kit/boundary.py, sees only uncompressed bodies)."""
    found = json_refusal(body)
    if found is not None:
        raise refused(found)


def read_upload(raw: bytes, encoding: str, settings: Settings) -> Any:
    """The JSON document of a decision-log upload (decompressed within the limit)."""
    limit = settings.decision_log_max_decompressed_bytes
    body = decode(raw, encoding, limit, LOG_HINT)
    refuse_unstorable(body)
    return parse_json(body)


async def upload_rows(
    raw: bytes, encoding: str, settings: Settings, redactor: Redactor
) -> list[dict[str, Any]]:
    """Decision-log rows of an upload, or the problem with it (large bodies off the loop)."""

    def work() -> list[dict[str, Any]]:
        doc = read_upload(raw, encoding, settings)
        return parse_events(doc, settings.decision_log_max_events, redactor)

    return await asyncio.to_thread(work) if len(raw) > THREAD_ABOVE else work()


def unique_violation(exc: BaseException) -> bool:
    """Whether a write failed on a unique index (two uploads of one decision at once)."""
    if isinstance(exc, IntegrityError | sqlite3.IntegrityError):
        return True
    return type(exc).__name__ == "UniqueViolationError"  # asyncpg, raised by COPY


def instances_of(rows: list[dict[str, Any]]) -> str:
    """The instance ids an upload came from, for its audit entry."""
    return ",".join(sorted({r["instance_id"] for r in rows}))[:200]


Unit = Callable[[str], AbstractAsyncContextManager[tuple[AsyncSession, Actor]]]


async def store_upload(
    unit: Unit,
    tenant_id: str,
    rows: list[dict[str, Any]],
    queue: asyncio.Lock | None = None,
) -> decisionlog.Stored:
    """Store an upload in one unit of work (`unit(target)`), audited as one entry.

    Two uploads of the same decision at once collide on the unique index; the loser is retried
    once, and then finds the decision stored. `queue` makes uploads in this process wait their
    turn in memory: SQLite admits one writer, and its busy handler waits by sleeping.
    """
    target = instances_of(rows)
    for attempt in (1, 2):
        try:
            async with queue or contextlib.nullcontext(), unit(target) as (session, actor):
                now = datetime.now(UTC)
                stored = await decisionlog.store(session, tenant_id, rows, now)
                after = {
                    "received": stored.received,
                    "stored": stored.stored,
                    "duplicates": stored.duplicates,
                }
                await audit.record(
                    session, actor, "decision_log.upload", "opa_instance", target, after=after
                )
            return stored
        except Exception as exc:
            if attempt == 2 or not unique_violation(exc):
                raise
    raise AssertionError("unreachable")

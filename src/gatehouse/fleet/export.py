"""Decision-log rows back in OPA's decision-log event format (the plugin's EventV1)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson

from gatehouse.db.engine import Database
from gatehouse.fleet import decisionlog
from gatehouse.fleet.models import DecisionRecord
from gatehouse.fleet.timestamps import rfc3339

EXPORT_PAGE = 1000


def opa_event(row: DecisionRecord) -> dict[str, Any]:
    """One decision as OPA would log it; fields OPA omits when empty are omitted here too."""
    event: dict[str, Any] = {"labels": row.labels, "decision_id": row.decision_id}
    extra = dict(row.extra or {})
    for key in ("trace_id", "span_id", "revision"):
        if key in extra:
            event[key] = extra.pop(key)
    if row.bundles:
        event["bundles"] = row.bundles
    if row.path:
        event["path"] = row.path
    if row.query:
        event["query"] = row.query
    if row.input is not None:
        event["input"] = row.input
    if row.defined:
        event["result"] = row.result
    for key in ("mapped_result", "nd_builtin_cache"):
        if key in extra:
            event[key] = extra.pop(key)
    if row.erased:
        event["erased"] = row.erased
    if row.masked:
        event["masked"] = row.masked
    if row.error is not None:
        event["error"] = row.error
    if row.requested_by:
        event["requested_by"] = row.requested_by
    event["timestamp"] = rfc3339(row.decided_at)
    if row.metrics:
        event["metrics"] = row.metrics
    event.update(extra)  # req_id, request_context and anything newer OPAs send
    return event


async def ndjson(
    db: Database, tenant_id: str, flt: decisionlog.DecisionFilter, most: int
) -> AsyncIterator[bytes]:
    """Matching decisions as OPA events, one JSON document per line, newest first."""
    after = None
    left = most
    while left > 0:
        async with db.transaction(write=False) as session:
            rows = await decisionlog.search(session, tenant_id, flt, after, min(EXPORT_PAGE, left))
        if not rows:
            return
        yield b"".join(orjson.dumps(opa_event(r)) + b"\n" for r in rows)
        left -= len(rows)
        last = rows[-1]
        after = (last.decided_at, last.seq)


async def json_array(lines: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """The same events as one JSON array (the body OPA itself uploads, uncompressed)."""
    yield b"["
    first = True
    async for chunk in lines:
        body = b",".join(chunk.rstrip(b"\n").split(b"\n"))
        yield body if first else b"," + body
        first = False
    yield b"]"

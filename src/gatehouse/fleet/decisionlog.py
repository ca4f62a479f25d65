"""The decision log: idempotent writes of decision rows, search and keyset pages."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ARRAY, Select, String, and_, any_, bindparam, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from gatehouse.db.bulk import insert_many
from gatehouse.db.tenancy import TENANT
from gatehouse.fleet.models import DecisionRecord
from gatehouse.fleet.timestamps import parse_rfc3339, rfc3339
from gatehouse.identity.rows import table_of
from gatehouse.kit.problems import Problem

LOOKUP_CHUNK = 1000  # decision ids per IN (...) when looking for ones already stored
TABLE = table_of(DecisionRecord)


@dataclass(frozen=True, slots=True)
class Stored:
    """What one write did."""

    received: int
    stored: int
    duplicates: int


async def known_ids(session: AsyncSession, tenant_id: str, ids: Sequence[str]) -> set[str]:
    """The decision ids among `ids` the tenant's log already holds."""
    found: set[str] = set()
    for start in range(0, len(ids), LOOKUP_CHUNK):
        part = ids[start : start + LOOKUP_CHUNK]
        # Core, not ORM: the tenant is in the statement, and ORM rows would cost more than
        # the look-up itself on every upload.
        if session.get_bind().dialect.name == "postgresql":
            # One array parameter: an IN list of a thousand is a thousand to bind and plan.
            wanted = TABLE.c.decision_id == any_(bindparam("ids", part, ARRAY(String)))
        else:
            wanted = TABLE.c.decision_id.in_(part)
        stmt = select(TABLE.c.decision_id).where(TABLE.c.tenant_id == tenant_id, wanted)
        found.update((await session.execute(stmt)).scalars())
    return found


async def store(
    session: AsyncSession, tenant_id: str, rows: Sequence[dict[str, Any]], received_at: datetime
) -> Stored:
    """Add the rows whose decision id is new to the tenant's log (a repeat is not an error).

    Rows are complete decision-log rows without `tenant_id` and `received_at` (see events.to_row).
    """
    fresh: dict[str, dict[str, Any]] = {}
    for row in rows:
        fresh.setdefault(row["decision_id"], row)
    known = await known_ids(session, tenant_id, list(fresh))
    new = [
        {**row, "tenant_id": tenant_id, "received_at": received_at}
        for decision_id, row in fresh.items()
        if decision_id not in known
    ]
    await insert_many(session, TABLE, new)
    return Stored(len(rows), len(new), len(rows) - len(new))


@dataclass(frozen=True, slots=True)
class DecisionFilter:
    """What a search of the decision log asks for."""

    start: datetime | None = None
    end: datetime | None = None
    path: str | None = None
    decision_id: str | None = None
    instance_id: str | None = None
    engine: str | None = None


def cursor_key(row: DecisionRecord) -> str:
    """The keyset position of a row, as a cursor key (newest first)."""
    return f"{rfc3339(row.decided_at)}|{row.seq}"


def parse_cursor_key(key: str | int | None) -> tuple[datetime, int] | None:
    """A cursor key back as (decided_at, seq), or 400."""
    if key is None:
        return None
    when, _, seq = str(key).rpartition("|")
    try:
        return parse_rfc3339(when), int(seq)
    except ValueError:
        raise Problem(400, "The cursor is not one this API issued.") from None


def query(tenant_id: str, flt: DecisionFilter, after: tuple[datetime, int] | None) -> Select[Any]:
    """The tenant's decisions matching `flt`, newest first, after a keyset position."""
    stmt = select(DecisionRecord).where(DecisionRecord.tenant_id == tenant_id)
    if flt.start is not None:
        stmt = stmt.where(DecisionRecord.decided_at >= flt.start)
    if flt.end is not None:
        stmt = stmt.where(DecisionRecord.decided_at < flt.end)
    if flt.path is not None:
        stmt = stmt.where(DecisionRecord.path == flt.path.strip("/"))
    if flt.decision_id is not None:
        stmt = stmt.where(DecisionRecord.decision_id == flt.decision_id)
    if flt.instance_id is not None:
        stmt = stmt.where(DecisionRecord.instance_id == flt.instance_id)
    if flt.engine is not None:
        stmt = stmt.where(DecisionRecord.engine == flt.engine)
    if after is not None:
        when, seq = after
        stmt = stmt.where(
            or_(
                DecisionRecord.decided_at < when,
                and_(DecisionRecord.decided_at == when, DecisionRecord.seq < seq),
            )
        )
    order = (DecisionRecord.decided_at.desc(), DecisionRecord.seq.desc())
    return stmt.order_by(*order).execution_options(**{TENANT: tenant_id})


async def search(
    session: AsyncSession,
    tenant_id: str,
    flt: DecisionFilter,
    after: tuple[datetime, int] | None,
    limit: int,
) -> list[DecisionRecord]:
    """Up to `limit` matching decisions, newest first."""
    return list((await session.scalars(query(tenant_id, flt, after).limit(limit))).all())


async def one(session: AsyncSession, tenant_id: str, decision_id: str) -> DecisionRecord | None:
    """One decision of the tenant by its decision id."""
    rows = await search(session, tenant_id, DecisionFilter(decision_id=decision_id), None, 1)
    return rows[0] if rows else None

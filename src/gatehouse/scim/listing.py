"""One page of a filtered, sorted SCIM query (RFC 7644 §3.4.2), counted in SQL."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from gatehouse.db.tenancy import TENANT
from gatehouse.kit.problems import Problem
from gatehouse.scim.discovery import DEFAULT_COUNT, MAX_RESULTS
from gatehouse.scim.filters import Compare, Node
from gatehouse.scim.where import Attribute, Compiler, Scalar

# A filtered query that runs this long (an unindexed `co` on a huge table) is refused.
STATEMENT_TIMEOUT_MS = 10_000
PROGRESS_STEPS = 10_000  # SQLite checks the deadline every this many VM instructions
MAX_START = 1_000_000_000


@dataclass(frozen=True)
class ListQuery:
    """What a client asked for: filter, order and the 1-based window."""

    filter: Node | None = None
    sort_by: str | None = None
    descending: bool = False
    start: int = 1
    count: int = DEFAULT_COUNT


def window(start: int | None, count: int | None) -> tuple[int, int]:
    """startIndex and count as RFC 7644 §3.4.2.4 reads them, count capped at maxResults."""
    first = min(max(1, start or 1), MAX_START)
    size = DEFAULT_COUNT if count is None else max(0, count)
    return first, min(size, MAX_RESULTS)


def _order(sorts: Mapping[str, Scalar], sort_by: str | None, descending: bool) -> list[Any]:
    if sort_by is None:
        return []
    target = sorts.get(sort_by.lower().removeprefix("urn:ietf:params:scim:schemas:core:2.0:user:"))
    if target is None:
        raise Problem(400, f"Cannot sort on {sort_by!r}.", scim_type="invalidPath")
    column = target.column
    if target.kind == "string" and not (target.case_exact or target.lowered):
        column = func.lower(column)
    # Missing values come last ascending and first descending (RFC 7644 §3.4.2.3).
    return [column.desc().nulls_first() if descending else column.asc().nulls_last()]


# Equality on these is a unique-index lookup: it cannot run long, so it needs no deadline (whose
# set-up costs two round trips to SQLite's thread on the busiest query IdPs send).
INDEXED_EQ = frozenset({"username", "id"})


def needs_deadline(node: Node | None) -> bool:
    """Whether a filter could run long enough to need the statement deadline."""
    if node is None:
        return False
    if isinstance(node, Compare) and node.op == "eq" and node.attr.urn is None:
        return not (node.attr.sub is None and node.attr.name in INDEXED_EQ)
    return True


@asynccontextmanager
async def _deadline(session: AsyncSession, dialect: str, filtered: bool) -> AsyncIterator[None]:
    """Cancel a filtered query that runs past STATEMENT_TIMEOUT_MS, on either database."""
    if not filtered:
        yield
        return
    if dialect != "sqlite":
        await session.execute(text(f"SET LOCAL statement_timeout = {int(STATEMENT_TIMEOUT_MS)}"))
        yield
        return
    raw = await (await session.connection()).get_raw_connection()
    driver = raw.driver_connection
    assert driver is not None
    end = time.monotonic() + STATEMENT_TIMEOUT_MS / 1000
    await driver.set_progress_handler(lambda: int(time.monotonic() > end), PROGRESS_STEPS)
    try:
        yield
    finally:
        await driver.set_progress_handler(None, 0)


async def page(
    session: AsyncSession,
    entity: Any,
    tenant_id: str,
    conditions: Sequence[ColumnElement[bool]],
    query: ListQuery,
    attributes: Mapping[str, Attribute],
    sorts: Mapping[str, Scalar],
    dialect: str,
) -> tuple[int, Sequence[Any]]:
    """The total number of matches and the requested window of them."""
    where = [entity.tenant_id == tenant_id, *conditions]
    if query.filter is not None:
        where.append(Compiler(attributes, dialect).where(query.filter))
    order = [*_order(sorts, query.sort_by, query.descending), entity.id]
    scoped = {TENANT: tenant_id}
    try:
        async with _deadline(session, dialect, needs_deadline(query.filter)):
            rows: Sequence[Any] = []
            if query.count:
                stmt = (
                    select(entity)
                    .where(*where)
                    .order_by(*order)
                    .offset(query.start - 1)
                    .limit(query.count)
                )
                rows = (await session.execute(stmt.execution_options(**scoped))).scalars().all()
            if 0 < len(rows) < query.count or (query.start == 1 and len(rows) < query.count):
                return query.start - 1 + len(rows), rows
            counted = select(func.count()).select_from(entity).where(*where)
            total = (await session.execute(counted.execution_options(**scoped))).scalar_one()
    except DBAPIError as exc:
        reason = str(exc.orig)
        if "statement timeout" in reason or "interrupted" in reason:
            raise Problem(
                400,
                "The filter would take too long on this many records; narrow it "
                "(eq on userName, externalId or id is indexed).",
                scim_type="tooMany",
            ) from None
        raise
    return int(total), rows

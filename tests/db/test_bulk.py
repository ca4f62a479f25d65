"""Bulk inserts: every row lands as the ORM would write it, and a large batch lets other tasks
run while its rows are bound."""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import func, select

from gatehouse.db import bulk
from gatehouse.db.engine import Database
from gatehouse.db.tenancy import TENANT
from gatehouse.fleet.decisionlog import TABLE
from gatehouse.fleet.models import DecisionRecord
from gatehouse.kit.ids import new_ids
from tests.conftest import BOTH

ROWS = 3 * bulk.BIND_SLICE + 7


def row(decision_id: str, n: int, now: datetime) -> dict[str, object]:
    """One decision-log row with JSON columns."""
    return {
        "tenant_id": "acme",
        "decision_id": decision_id,
        "decided_at": now,
        "engine": "embedded",
        "path": "authz/allow",
        "input": {"n": n, "subject": {"id": f"u{n}", "active": True}},
        "defined": True,
        "result": n % 2 == 0,
    }


@BOTH
async def test_large_batch_lands_whole_and_yields_while_binding(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """All rows are written with their JSON intact, bound a slice at a time with a turn for
    other tasks between slices."""
    db = Database(database_url)
    now = datetime.now(UTC)
    ids = new_ids(ROWS)
    turns = 0
    done = asyncio.Event()

    async def ticker() -> None:
        nonlocal turns
        while not done.is_set():
            turns += 1
            await asyncio.sleep(0)

    seen: list[int] = []  # the ticker's count at each slice bound
    bind = bulk._tuples

    def counted(*args: Any) -> list[tuple[Any, ...]]:
        seen.append(turns)
        return bind(*args)

    monkeypatch.setattr(bulk, "_tuples", counted)
    try:
        task = asyncio.create_task(ticker())
        async with db.transaction() as session:
            await bulk.insert_many(session, TABLE, [row(i, n, now) for n, i in enumerate(ids)])
        done.set()
        await task
        assert len(seen) == -(-ROWS // bulk.BIND_SLICE)
        assert all(later > earlier for earlier, later in itertools.pairwise(seen))
        async with db.transaction(write=False) as session:
            count = await session.scalar(
                select(func.count()).select_from(TABLE).execution_options(**{TENANT: "acme"})
            )
            last = (
                await session.execute(
                    select(DecisionRecord)
                    .where(DecisionRecord.decision_id == ids[-1])
                    .execution_options(**{TENANT: "acme"})
                )
            ).scalar_one()
        assert count == ROWS
        assert last.input == {"n": ROWS - 1, "subject": {"id": f"u{ROWS - 1}", "active": True}}
        assert last.result is ((ROWS - 1) % 2 == 0)
    finally:
        await db.dispose()

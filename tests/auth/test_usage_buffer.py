"""The usage buffer: bounded, counts what it drops, keeps records when a write fails."""

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text

from gatehouse.auth import usage
from gatehouse.db.engine import Database
from tests.conftest import BOTH


def _record(n: int) -> usage.UsageRecord:
    return usage.UsageRecord("t", "tok", "GET", f"/{n}", 200, 1.0, str(n), datetime.now(UTC))


async def test_overflow_and_failed_flush(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Past the bound the oldest go and are counted; a failed write puts the batch back in order."""
    monkeypatch.setattr(usage, "MAX_BUFFER", 4)
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}")  # no tables: writes fail
    recorder = usage.UsageRecorder(db, 60)
    try:
        for n in range(6):
            recorder.add(_record(n))
        assert recorder.dropped == 2
        assert [r.request_id for r in recorder._buffer] == ["2", "3", "4", "5"]
        assert await recorder.flush() == 0
        assert [r.request_id for r in recorder._buffer] == ["2", "3", "4", "5"]
        assert recorder.dropped == 0  # reported by the flush
        recorder.add(_record(6))
        assert recorder.dropped == 1
    finally:
        await db.dispose()


@BOTH
async def test_a_busy_second_is_written_whole_in_slices(database_url: str) -> None:
    """More records than one write slice all land, in one transaction, none twice."""
    db = Database(database_url)
    recorder = usage.UsageRecorder(db, 60)
    count = 2 * usage.SLICE + 3
    try:
        for n in range(count):
            recorder.add(_record(n))
        assert await recorder.flush() == count
        async with db.transaction(write=False) as session:
            rows = (
                await session.execute(
                    text("SELECT request_id FROM token_usage WHERE tenant_id = 't'")
                )
            ).all()
        assert sorted(int(r[0]) for r in rows) == list(range(count))
    finally:
        await db.dispose()

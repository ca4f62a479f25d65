"""`gatehouse worker` logs as `serve` does: JSON lines (GATEHOUSE_LOG_JSON), masked, with no
multi-line tracebacks or local variables, also when an error stops it."""

from __future__ import annotations

import json
import signal
import sqlite3
import time
from pathlib import Path
from typing import Any

from gatehouse.config import Settings
from tests.conftest import worker_process


def json_lines(path: Path) -> list[dict[str, Any]]:
    """Every line of a log file, each of which must be one JSON object."""
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    assert lines, "the worker wrote nothing"
    for line in lines:
        assert line.startswith("{"), line  # a rich traceback's box or a console line is not JSON
    return [json.loads(line) for line in lines]


def test_loop_errors_are_json_lines_by_default(settings: Settings, tmp_path: Path) -> None:
    """With no GATEHOUSE_LOG_JSON set, a failing poll is one JSON line, as under `serve`."""
    log = tmp_path / "worker.log"
    with log.open("wb") as out:
        proc = worker_process(settings, stderr=out, GATEHOUSE_WORKER_POLL_SECONDS="0.1")
        try:
            db = sqlite3.connect(settings.effective_database_url.split(":///", 1)[1])
            db.execute("DROP TABLE sync_runs")
            db.commit()
            db.close()
            deadline = time.monotonic() + 60
            while "worker_loop_error" not in log.read_text() and time.monotonic() < deadline:
                time.sleep(0.1)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)
    events = json_lines(log)
    failed = [e for e in events if e["event"] == "worker_loop_error"]
    assert failed, events
    assert "no such table: sync_runs" in failed[0]["exception"]
    assert "locals" not in log.read_text()


def test_an_error_that_stops_the_worker_is_one_json_line(
    settings: Settings, tmp_path: Path
) -> None:
    """An unreachable database stops the worker with exit 1 and one JSON error line (not a
    rich traceback of several hundred lines)."""
    log = tmp_path / "worker.log"
    with log.open("wb") as out:
        proc = worker_process(
            settings,
            stderr=out,
            GATEHOUSE_LOG_JSON="1",
            GATEHOUSE_DATABASE_URL="postgresql+asyncpg://gatehouse:hunter2@127.0.0.1:1/gatehouse",
        )
        assert proc.wait(timeout=60) == 1
    events = json_lines(log)
    assert [e["event"] for e in events] == ["worker_failed"]
    assert events[0]["level"] == "error"
    assert "Connect call failed" in events[0]["exception"]
    assert "hunter2" not in log.read_text()

"""A connector over in-memory rows, for driving the sync engine: a plug-in as a third party
would write one, with failures to inject (the real connectors have their own tests)."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from gatehouse.connectors.protocol import (
    Batch,
    CheckResult,
    FieldInfo,
    Selection,
    StreamInfo,
    SyncMode,
)
from gatehouse.db.engine import Database
from gatehouse.db.tenancy import TENANT
from gatehouse.sync import runs
from gatehouse.sync.engine import Settings
from gatehouse.sync.models import SyncRun
from gatehouse.sync.plan import Job, Rejected, StreamPlan, Transformed
from gatehouse.sync.worker import Worker
from tests.conftest import Harness

FAST = Settings(lease_seconds=30, retries=0, backoff_seconds=0.01)


@dataclass
class Rows:
    """Rows per stream, each with an `id` and an `updated` counter; failures to inject."""

    streams: dict[str, list[dict[str, Any]]]
    batch: int = 2
    fail_at: dict[str, int] = field(default_factory=dict)  # stream → batch index that fails
    fail_with: type[BaseException] | BaseException = ConnectionError
    reads: list[tuple[str, str, dict[str, Any] | None]] = field(default_factory=list)


class MemorySource:
    """Reads `Rows` in id order; checkpoints are the last id (full) or `updated` (incremental)."""

    name: ClassVar[str] = "memory"
    title: ClassVar[str] = "Memory"

    def __init__(self, rows: Rows) -> None:
        self.rows = rows

    @classmethod
    def spec(cls) -> dict[str, Any]:
        return {"type": "object", "properties": {}}

    async def check(self, config: Mapping[str, Any]) -> CheckResult:
        return CheckResult.success("ok")

    async def discover(self, config: Mapping[str, Any]) -> list[StreamInfo]:
        return [
            StreamInfo(name, (FieldInfo("id", "string"),), ("id",), ("updated",))
            for name in self.rows.streams
        ]

    async def read(
        self,
        config: Mapping[str, Any],
        stream: str,
        mode: SyncMode,
        state: Mapping[str, Any] | None,
        selection: Selection | None = None,
    ) -> AsyncIterator[Batch]:
        self.rows.reads.append((stream, mode.value, dict(state) if state else None))
        data = sorted(self.rows.streams[stream], key=lambda r: (r["updated"], r["id"]))
        if state:
            data = [r for r in data if (r["updated"], r["id"]) > tuple(state["after"])]
        for index, start in enumerate(range(0, len(data), self.rows.batch)):
            if self.rows.fail_at.get(stream) == index:
                del self.rows.fail_at[stream]
                failure = self.rows.fail_with
                raise (
                    failure(f"{stream} went away at batch {index}")
                    if isinstance(failure, type)
                    else failure
                )
            chunk = data[start : start + self.rows.batch]
            last = chunk[-1]
            yield Batch([dict(r) for r in chunk], {"after": [last["updated"], last["id"]]})


def person(record: dict[str, Any]) -> Transformed | Rejected | None:
    """Map a person row; rows flagged `bad` are rejected, `skip` filtered out."""
    if record.get("skip"):
        return None
    if record.get("bad"):
        return Rejected(record["id"], "email is not an e-mail address")
    data = {
        "user_name": record["login"],
        "email": record.get("email"),
        "title": record.get("title"),
    }
    return Transformed("identity", record["id"], {k: v for k, v in data.items() if v is not None})


def group(record: dict[str, Any]) -> Transformed:
    """Map a group row."""
    return Transformed("group", record["id"], {"display_name": record["name"]})


def membership(record: dict[str, Any]) -> Transformed:
    """Map a membership row."""
    return Transformed(
        "membership",
        record["id"],
        {"group": record["group"], "member": record["member"], "member_kind": "identity"},
    )


def people(n: int, **extra: Any) -> list[dict[str, Any]]:
    """n person rows."""
    return [
        {"id": f"p{i:03}", "login": f"user{i}", "email": f"u{i}@x.com", "updated": 1, **extra}
        for i in range(n)
    ]


def job(rows: Rows, tenant: str = "acme", on_error: str = "skip", **kw: Any) -> Job:
    """A job over `rows` with the usual three streams (those present)."""
    plans = {
        "people": StreamPlan("people", "identity", person, incremental=True, on_error=on_error),
        "groups": StreamPlan("groups", "group", group),
        "members": StreamPlan("members", "membership", membership),
    }
    return Job(
        tenant_id=tenant,
        connection_id="conn-1",
        source="memory",
        connector=MemorySource(rows),
        config={},
        streams=[plans[name] for name in rows.streams],
        **kw,
    )


async def run_job(
    h: Harness, the_job: Job, mode: SyncMode = SyncMode.full_refresh, **queued: Any
) -> SyncRun:
    """Queue a run of the job's connection, let one worker do it, return the finished run."""
    tenant = the_job.tenant_id
    async with h.svc.db.transaction() as s:
        run = await runs.enqueue(
            s, tenant, the_job.connection_id, mode=mode, trigger="api", **queued
        )

    async def jobs(_db: Database, _run: SyncRun) -> Job:
        return the_job

    assert await Worker(h.svc.db, jobs, FAST).run_once() == run.id
    async with h.svc.db.transaction(write=False) as s:
        done = await s.get(SyncRun, run.id, execution_options={TENANT: tenant})
        assert done is not None
        return done


def sqlite_people(home: Path, people: int = 5, tenant: str = "acme") -> Path:
    """A SQLite source in the tenant's source directory whose `people` table has rows 1..n
    (`user<n>`, `user<n>@example.com`); called again, it adds the rows it lacks."""
    path = home / "sources" / tenant / "hr.db"
    path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(path) as conn:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS people (id INTEGER PRIMARY KEY, login TEXT, email TEXT)"
        )
        conn.executemany(
            "INSERT OR REPLACE INTO people VALUES (?, ?, ?)",
            ((n, f"user{n}", f"user{n}@example.com") for n in range(1, people + 1)),
        )
    return path

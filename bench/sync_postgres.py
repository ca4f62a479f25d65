"""sync_postgres: 100,000 people, 2,000 groups and 300,000 memberships from a PostgreSQL source
into the store (SQLite, then PostgreSQL), through the real connector, transform and sync engine.

For each store, in the same run:
- a full sync (correlation, links, versions, events, audit, deletion marks): records/s;
- the baseline: a raw bulk insert of the same rows (identities, groups, memberships) into the
  same store with the same driver, nothing else; the ratio sync/raw is reported;
- an incremental sync after 1,000 people changed at the source: seconds (target <= 1 s).
Peak memory (max RSS of this process) is reported. Target: >= 20,000 records/s into each store.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import resource
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import admin, emit, log

from gatehouse.audit.context import Actor
from gatehouse.connectors.environment import Environment, using
from gatehouse.connectors.protocol import Selection, SyncMode
from gatehouse.connectors.registry import connector_type
from gatehouse.db import migrate
from gatehouse.db.engine import Database
from gatehouse.identity import rows as store_rows
from gatehouse.identity.ingest_groups import GROUPS, MEMBERSHIPS
from gatehouse.kit.ids import new_id
from gatehouse.sync import runs
from gatehouse.sync.engine import Runner, Settings
from gatehouse.sync.mapping import stream_transform
from gatehouse.sync.plan import Job, StreamPlan
from gatehouse.tenants.schemas import TenantCreate
from gatehouse.tenants.service import create_tenant

BENCH = "sync_postgres"
PEOPLE = int(os.environ.get("BENCH_SYNC_PEOPLE", "100000"))
TEAMS = int(os.environ.get("BENCH_SYNC_GROUPS", "2000"))
MEMBERS = int(os.environ.get("BENCH_SYNC_MEMBERSHIPS", "300000"))
CHANGES = 1000
STORES = os.environ.get("BENCH_SYNC_STORES", "sqlite,postgres").split(",")
SOURCE_DB = "gatehouse_bench_sync_source"
STORE_DB = "gatehouse_bench_sync_store"
ENV = Environment((ipaddress.ip_network("127.0.0.0/8"),))
TARGETS = {"records_per_s": 20_000.0, "incremental_s": 1.0}
PERSON = {
    "kind": "identity",
    "external_id": "id",
    "fields": {
        "user_name": "login",
        "email": {"from": "email", "steps": ["email"]},
        "given_name": "given_name",
        "family_name": "family_name",
        "display_name": {"template": "{given_name} {family_name}"},
        "department": "department",
        "title": "title",
        "employee_number": "employee_number",
    },
}
TEAM = {"kind": "group", "external_id": "id", "fields": {"display_name": "name"}}
MEMBER = {
    "kind": "membership",
    "external_id": "id",
    "fields": {"group": "team_id", "member": "person_id"},
}
SOURCE_SQL: list[tuple[str, tuple[int, ...]]] = [
    (
        "CREATE TABLE people (id int PRIMARY KEY, login text NOT NULL, email text NOT NULL,"
        " given_name text, family_name text, department text, title text, employee_number text,"
        " updated_at timestamptz NOT NULL)",
        (),
    ),
    (
        "INSERT INTO people SELECT g, 'user' || g, 'user' || g || '@example.com', 'Given' || g,"
        " 'Family' || g, 'Dept ' || (g % 40), 'Title ' || (g % 25), 'E' || g,"
        " now() - interval '1 day' FROM generate_series(1, $1::int) g",
        (PEOPLE,),
    ),
    ("CREATE TABLE teams (id int PRIMARY KEY, name text NOT NULL, updated_at timestamptz)", ()),
    (
        "INSERT INTO teams SELECT g, 'Team ' || g, now() - interval '1 day'"
        " FROM generate_series(1, $1::int) g",
        (TEAMS,),
    ),
    (
        "CREATE TABLE team_members (id int PRIMARY KEY, team_id int NOT NULL,"
        " person_id int NOT NULL, updated_at timestamptz NOT NULL)",
        (),
    ),
    (
        # Person p is in teams p, p + 701, p + 1402 (mod the team count): no pair repeats.
        "INSERT INTO team_members SELECT g + 1,"
        " 1 + ((g % $1::int) + (g / $1::int) * 701) % $2::int, 1 + g % $1::int,"
        " now() - interval '1 day' FROM generate_series(0, $3::int - 1) g",
        (PEOPLE, TEAMS, MEMBERS),
    ),
    ("ANALYZE", ()),
]


async def prepare_source() -> int:
    """The source database with its three tables; returns how many memberships it holds."""
    await admin(f'DROP DATABASE IF EXISTS "{SOURCE_DB}" WITH (FORCE)')
    await admin(f'CREATE DATABASE "{SOURCE_DB}"')
    conn = await asyncpg.connect(host="127.0.0.1", user="postgres", database=SOURCE_DB)
    try:
        for sql, args in SOURCE_SQL:
            await conn.execute(sql, *args)
        return int(await conn.fetchval("SELECT count(*) FROM team_members"))
    finally:
        await conn.close()


def job(tenant: str) -> Job:
    """The sync job: three streams, all incremental by `updated_at`."""
    with using(ENV):
        connector = connector_type("postgresql")()
    config = {"host": "127.0.0.1", "database": SOURCE_DB, "user": "postgres", "tls_mode": "disable"}

    def plan(name: str, kind: str, spec: dict[str, Any]) -> StreamPlan:
        chosen = Selection(cursor_field="updated_at", primary_key=("id",))
        return StreamPlan(name, kind, stream_transform(spec), incremental=True, selection=chosen)

    return Job(
        tenant_id=tenant,
        connection_id="bench-source",
        source="hr-db",
        connector=connector,
        config=config,
        streams=[
            plan("people", "identity", PERSON),
            plan("teams", "group", TEAM),
            plan("team_members", "membership", MEMBER),
        ],
    )


async def sync(db: Database, tenant: str, mode: SyncMode) -> tuple[float, dict[str, Any]]:
    """Seconds for one run of the job, and its counts."""
    async with db.transaction() as session:
        queued = await runs.enqueue(session, tenant, "bench-source", mode=mode, trigger="api")
        run_id = queued.id
    claimed = await runs.claim(db, "bench", 600, run_id)
    assert claimed is not None
    _, spec = claimed
    started = time.perf_counter()
    tally = await Runner(db, job(tenant), spec, Settings(lease_seconds=600)).execute()
    seconds = time.perf_counter() - started
    await runs.finish(db, spec, "succeeded", tally)
    return seconds, tally.counts


async def raw_insert(db: Database, tenant: str, memberships: int) -> float:
    """Seconds to bulk-insert the same rows, complete, with nothing else."""
    now = datetime.now(UTC)
    people = [
        store_rows.new_identity_row(
            tenant,
            new_id(),
            str(n),
            f"user{n}",
            {
                "email": f"user{n}@example.com",
                "given_name": f"Given{n}",
                "family_name": f"Family{n}",
                "display_name": f"Given{n} Family{n}",
                "department": f"Dept {n % 40}",
                "title": f"Title {n % 25}",
                "employee_number": f"E{n}",
            },
            "raw",
            now,
        )
        for n in range(1, PEOPLE + 1)
    ]
    teams = [
        {
            "id": new_id(),
            "tenant_id": tenant,
            "display_name": f"Team {n}",
            "display_name_key": f"team {n}",
            "external_id": str(n),
            "attributes": {},
            "version": 1,
            "created_at": now,
            "updated_at": now,
            "deleted_at": None,
        }
        for n in range(1, TEAMS + 1)
    ]
    pairs = {
        (1 + ((g % PEOPLE) + (g // PEOPLE) * 701) % TEAMS, 1 + g % PEOPLE) for g in range(MEMBERS)
    }
    members = [
        {
            "tenant_id": tenant,
            "group_id": teams[t - 1]["id"],
            "member_id": people[p - 1]["id"],
            "member_type": "identity",
            "created_at": now,
            "source": "raw",
            "seen_run": None,
        }
        for t, p in sorted(pairs)
    ]
    assert len(members) == memberships
    started = time.perf_counter()
    async with db.transaction() as session:
        await store_rows.insert_rows(session, store_rows.IDENTITIES, people)
        await store_rows.insert_rows(session, GROUPS, teams)
        await store_rows.insert_rows(session, MEMBERSHIPS, members)
    return time.perf_counter() - started


async def change_people(title: str) -> None:
    """1,000 people change title at the source."""
    conn = await asyncpg.connect(host="127.0.0.1", user="postgres", database=SOURCE_DB)
    try:
        await conn.execute(
            "UPDATE people SET title = $1, updated_at = now() WHERE id <= $2", title, CHANGES
        )
    finally:
        await conn.close()


async def one_store(kind: str, url: str, memberships: int) -> dict[str, float]:
    """Full sync, raw baseline and incremental sync into one store."""
    db = Database(url)
    await migrate.upgrade(db.engine)
    async with db.transaction() as session:
        for tenant in ("bench", "raw"):
            await create_tenant(
                session, Actor("platform", "bench"), TenantCreate(id=tenant, name=tenant)
            )
    total = PEOPLE + TEAMS + memberships
    full_s, counts = await sync(db, "bench", SyncMode.full_refresh)
    created = sum(c.get("created", 0) for c in counts.values())
    if created != total:
        raise SystemExit(f"{kind}: the full sync created {created} records, not {total}: {counts}")
    raw_s = await raw_insert(db, "raw", memberships)
    await change_people(f"Changed for {kind}")
    incremental_s, counts = await sync(db, "bench", SyncMode.incremental)
    if counts.get("identity", {}).get("updated") != CHANGES:
        raise SystemExit(f"{kind}: the incremental sync counted {counts}")
    await db.dispose()
    result = {
        f"{kind}_records_per_s": round(total / full_s, 1),
        f"{kind}_raw_records_per_s": round(total / raw_s, 1),
        f"{kind}_ratio": round(raw_s / full_s, 3),
        f"{kind}_incremental_s": round(incremental_s, 3),
    }
    log(f"{kind}: {result}")
    return result


async def main() -> dict[str, Any]:
    """Both stores, one JSON line."""
    log(f"loading the source: {PEOPLE} people, {TEAMS} groups, {MEMBERS} memberships")
    memberships = await prepare_source()
    home = Path(tempfile.mkdtemp(prefix="gatehouse-bench-sync-"))
    result: dict[str, Any] = {"bench": BENCH, "records": PEOPLE + TEAMS + memberships}
    try:
        if "sqlite" in STORES:
            sqlite = f"sqlite+aiosqlite:///{home / 'store.db'}"
            result |= await one_store("sqlite", sqlite, memberships)
        if "postgres" in STORES:
            await admin(f'DROP DATABASE IF EXISTS "{STORE_DB}" WITH (FORCE)')
            await admin(f'CREATE DATABASE "{STORE_DB}"')
            pg = f"postgresql+asyncpg://postgres@127.0.0.1/{STORE_DB}"
            result |= await one_store("postgres", pg, memberships)
    finally:
        shutil.rmtree(home, ignore_errors=True)
        await admin(f'DROP DATABASE IF EXISTS "{STORE_DB}" WITH (FORCE)')
        await admin(f'DROP DATABASE IF EXISTS "{SOURCE_DB}" WITH (FORCE)')
    result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    result["targets"] = TARGETS
    return result


if __name__ == "__main__":
    emit(asyncio.run(main()))

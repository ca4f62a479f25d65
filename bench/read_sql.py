"""Raw read rate of the SQL connectors: 100,000 rows from PostgreSQL and from MariaDB through
the connector (full refresh, keyset batches of 5,000, rows as dicts), against a bare driver
fetch of the same rows in the same run. Prints one JSON line."""

from __future__ import annotations

import asyncio
import ipaddress
import sys
import time
from pathlib import Path
from typing import Any

import asyncmy
import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import emit, log

from gatehouse.connectors.environment import Environment, using
from gatehouse.connectors.protocol import SyncMode
from gatehouse.connectors.registry import connector_type

ROWS = 100_000
DB = "gatehouse_bench_read"
TABLE = (
    "users (id INTEGER PRIMARY KEY, email VARCHAR(200) NOT NULL, given_name VARCHAR(100), "
    "family_name VARCHAR(100), department VARCHAR(100), title VARCHAR(100), "
    "active BOOLEAN NOT NULL, updated_at {ts} NOT NULL)"
)
ENV = Environment((ipaddress.ip_network("127.0.0.0/8"),))


async def through_connector(kind: str, config: dict[str, Any]) -> tuple[float, int]:
    """Seconds and rows for a full read through the connector."""
    with using(ENV):
        connector = connector_type(kind)()
    started, count = time.perf_counter(), 0
    async for batch in connector.read(config, "users", SyncMode.full_refresh, None):
        count += len(batch.records)
    return time.perf_counter() - started, count


async def postgres() -> dict[str, float]:
    """Load PostgreSQL, then time the bare fetch and the connector."""
    admin = await asyncpg.connect(host="127.0.0.1", user="postgres", database="postgres")
    await admin.execute(f"DROP DATABASE IF EXISTS {DB}")
    await admin.execute(f"CREATE DATABASE {DB}")
    conn = await asyncpg.connect(host="127.0.0.1", user="postgres", database=DB)
    await conn.execute("CREATE TABLE " + TABLE.format(ts="TIMESTAMPTZ"))
    await conn.execute(
        "INSERT INTO users SELECT g, 'user' || g || '@example.com', 'Given' || g, 'Family' || g,"
        " 'Dept ' || (g % 50), 'Title ' || (g % 20), g % 7 <> 0, now()"
        " FROM generate_series(1, $1) g",
        ROWS,
    )
    await conn.execute("ANALYZE users")
    started = time.perf_counter()
    rows = await conn.fetch("SELECT * FROM users ORDER BY id")
    records = [dict(r.items()) for r in rows]
    bare = time.perf_counter() - started
    assert len(records) == ROWS
    await conn.close()
    config = {"host": "127.0.0.1", "database": DB, "user": "postgres", "tls_mode": "disable"}
    seconds, count = await through_connector("postgresql", config)
    assert count == ROWS
    await admin.execute(f"DROP DATABASE IF EXISTS {DB}")
    await admin.close()
    return {"bare": ROWS / bare, "connector": ROWS / seconds}


async def mariadb() -> dict[str, float]:
    """Load MariaDB, then time the bare fetch and the connector."""
    conn = await asyncmy.connect(host="127.0.0.1", user="root", password="")
    async with conn.cursor() as cur:
        await cur.execute(f"DROP DATABASE IF EXISTS {DB}")
        await cur.execute(f"CREATE DATABASE {DB}")
        await cur.execute(f"USE {DB}")
        await cur.execute("CREATE TABLE " + TABLE.format(ts="DATETIME(6)"))
        rows = [
            (
                i,
                f"user{i}@example.com",
                f"Given{i}",
                f"Family{i}",
                f"Dept {i % 50}",
                f"Title {i % 20}",
                i % 7 != 0,
                "2026-01-01 00:00:00",
            )
            for i in range(1, ROWS + 1)
        ]
        for start in range(0, ROWS, 10_000):
            await cur.executemany(
                "INSERT INTO users VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                rows[start : start + 10_000],
            )
    await conn.commit()
    started = time.perf_counter()
    async with conn.cursor() as cur:
        await cur.execute("SELECT * FROM users ORDER BY id")
        fetched = await cur.fetchall()
        names = [d[0] for d in cur.description]
    records = [dict(zip(names, row, strict=False)) for row in fetched]
    bare = time.perf_counter() - started
    assert len(records) == ROWS
    config = {"host": "127.0.0.1", "database": DB, "user": "root", "tls_mode": "disable"}
    seconds, count = await through_connector("mysql", config)
    assert count == ROWS
    async with conn.cursor() as cur:
        await cur.execute(f"DROP DATABASE IF EXISTS {DB}")
    conn.close()
    return {"bare": ROWS / bare, "connector": ROWS / seconds}


async def main() -> None:
    """Measure both servers and print the result line."""
    log("PostgreSQL: loading and reading 100,000 rows")
    pg = await postgres()
    log("MariaDB: loading and reading 100,000 rows")
    my = await mariadb()
    emit(
        {
            "bench": "read_sql",
            "metric": round(pg["connector"]),
            "unit": "rows/s (PostgreSQL, through the connector)",
            "rows": ROWS,
            "postgresql_rows_per_s": round(pg["connector"]),
            "postgresql_bare_fetch_rows_per_s": round(pg["bare"]),
            "postgresql_ratio": round(pg["connector"] / pg["bare"], 3),
            "mariadb_rows_per_s": round(my["connector"]),
            "mariadb_bare_fetch_rows_per_s": round(my["bare"]),
            "mariadb_ratio": round(my["connector"] / my["bare"], 3),
            "target_rows_per_s": 100_000,
        }
    )


if __name__ == "__main__":
    asyncio.run(main())

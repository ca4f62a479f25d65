"""Real source databases for the SQL connectors: PostgreSQL, MariaDB and a SQLite file."""

from __future__ import annotations

import ipaddress
import os
import sqlite3
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncmy
import asyncpg
import psycopg
import pytest

from gatehouse.connectors.environment import Environment, using
from gatehouse.connectors.protocol import Batch, Connector, Selection, SyncMode
from gatehouse.connectors.registry import connector_type
from tests.conftest import PG_ADMIN, in_thread, reachable, service_missing, worker_id

LOOPBACK = (ipaddress.ip_network("127.0.0.0/8"),)
SOURCE_DB = f"gh_source_{worker_id()}_{os.getpid()}"
TIMESTAMP = {"postgresql": "TIMESTAMPTZ", "mysql": "DATETIME(6)", "sqlite": "TIMESTAMP"}


@pytest.fixture(scope="session")
def pg_source_db() -> Iterator[str]:
    """A PostgreSQL database for source tables."""
    try:
        admin = psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        service_missing("PostgreSQL", str(exc))
    admin.execute(f'DROP DATABASE IF EXISTS "{SOURCE_DB}" WITH (FORCE)')
    admin.execute(f'CREATE DATABASE "{SOURCE_DB}"')
    yield SOURCE_DB
    admin.execute(f'DROP DATABASE IF EXISTS "{SOURCE_DB}" WITH (FORCE)')
    admin.close()


async def _my_admin(*statements: str) -> None:
    conn = await asyncmy.connect(host="127.0.0.1", user="root", password="")
    async with conn.cursor() as cur:
        for statement in statements:
            await cur.execute(statement)
    conn.close()


@pytest.fixture(scope="session")
def my_source_db() -> Iterator[str]:
    """A MariaDB database for source tables."""
    if not reachable("127.0.0.1", 3306):
        service_missing("MariaDB", "127.0.0.1:3306 refused")
    drop = f"DROP DATABASE IF EXISTS `{SOURCE_DB}`"
    in_thread(_my_admin(drop, f"CREATE DATABASE `{SOURCE_DB}`"))
    yield SOURCE_DB
    in_thread(_my_admin(drop))


@dataclass
class Source:
    """A source database with a connector and its configuration."""

    kind: str
    config: dict[str, Any]
    env: Environment
    handle: Any = None
    made: list[str] = field(default_factory=list)

    @property
    def ts(self) -> str:
        """The dialect's timestamp column type."""
        return TIMESTAMP[self.kind]

    def connector(self) -> Connector:
        """A connector made in the test environment."""
        with using(self.env):
            return connector_type(self.kind)()

    def param(self, i: int) -> str:
        """The dialect's placeholder for writing test rows."""
        return {"postgresql": f"${i + 1}", "mysql": "%s", "sqlite": "?"}[self.kind]

    async def run(self, sql: str, rows: Sequence[Sequence[Any]] | None = None) -> None:
        """Execute SQL in the source (once, or once per row)."""
        if self.kind == "postgresql":
            if rows is None:
                await self.handle.execute(sql)
            else:
                await self.handle.executemany(sql, rows)
        elif self.kind == "mysql":
            async with self.handle.cursor() as cur:
                if rows is None:
                    await cur.execute(sql)
                else:
                    await cur.executemany(sql, rows)
            await self.handle.commit()
        else:
            with sqlite3.connect(self.handle) as conn:
                if rows is None:
                    conn.executescript(sql)
                else:
                    conn.executemany(sql, rows)

    async def table(self, name: str, columns: str, rows: Sequence[Sequence[Any]] = ()) -> None:
        """(Re)create a table and fill it."""
        await self.run(f"DROP TABLE IF EXISTS {name}")
        await self.run(f"CREATE TABLE {name} ({columns})")
        if rows:
            marks = ", ".join(self.param(i) for i in range(len(rows[0])))
            await self.run(f"INSERT INTO {name} VALUES ({marks})", rows)

    async def read(
        self,
        stream: str,
        mode: SyncMode = SyncMode.full_refresh,
        state: dict[str, Any] | None = None,
        selection: Selection | None = None,
        config: dict[str, Any] | None = None,
    ) -> list[Batch]:
        """Every batch of a read."""
        connector = self.connector()
        return [
            b async for b in connector.read(config or self.config, stream, mode, state, selection)
        ]


@pytest.fixture(params=["postgresql", "mysql", "sqlite"])
async def source(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Source]:
    """Each SQL source in turn, empty, with loopback allowed."""
    kind = request.param
    env = Environment(LOOPBACK, (tmp_path / "sources",))
    if kind == "postgresql":
        db = request.getfixturevalue("pg_source_db")
        handle = await asyncpg.connect(host="127.0.0.1", user="postgres", database=db)
        await handle.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
        config = {"host": "127.0.0.1", "database": db, "user": "postgres", "tls_mode": "disable"}
        yield Source(kind, config, env, handle)
        await handle.close()
    elif kind == "mysql":
        db = request.getfixturevalue("my_source_db")
        handle = await asyncmy.connect(host="127.0.0.1", user="root", password="", database=db)
        async with handle.cursor() as cur:
            await cur.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", (db,)
            )
            for (name,) in await cur.fetchall():
                await cur.execute(f"DROP VIEW IF EXISTS `{name}`")
                await cur.execute(f"DROP TABLE IF EXISTS `{name}`")
        config = {"host": "127.0.0.1", "database": db, "user": "root", "tls_mode": "disable"}
        yield Source(kind, config, env, handle)
        handle.close()
    else:
        path = tmp_path / "sources" / "source.db"
        path.parent.mkdir()
        sqlite3.connect(path).close()
        yield Source(kind, {"path": str(path)}, env, str(path))

"""SQLite source, on aiosqlite: a database file under an allowed source directory, read-only."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any, ClassVar

import aiosqlite

from gatehouse.connectors.builtin import sqltypes
from gatehouse.connectors.builtin.sql import (
    Described,
    DriverBase,
    SqlConnector,
    batch_schema,
    queries_schema,
    tables_schema,
)
from gatehouse.connectors.builtin.sqlread import Rows
from gatehouse.connectors.environment import local_file, shown
from gatehouse.connectors.protocol import CheckFailure, ConnectorError, SchemaChanged

SAMPLE = 20  # rows a query's column types are guessed from (SQLite reports none)


class SqliteDriver(DriverBase):
    """Reads through one aiosqlite connection."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self.conn = conn

    def param(self, index: int) -> str:
        """`?`."""
        return "?"

    async def fetch(self, sql: str, args: Sequence[Any]) -> Rows:
        """Every row, as tuples."""
        async with self.conn.execute(sql, tuple(args)) as cursor:
            rows: Rows = list(await cursor.fetchall())
            return rows

    async def stream(self, sql: str, size: int) -> AsyncIterator[Rows]:
        """Chunks from one cursor."""
        async with self.conn.execute(sql) as cursor:
            while rows := list(await cursor.fetchmany(size)):
                yield rows

    @asynccontextmanager
    async def snapshot(self) -> AsyncIterator[None]:
        """One read transaction, so every page sees the same file state."""
        if self.conn.in_transaction:
            yield
            return
        await self.conn.execute("BEGIN")
        try:
            yield
        finally:
            await self.conn.execute("ROLLBACK")

    async def describe(self, source: str) -> Described:
        """Column names, and types guessed from the first rows' values."""
        async with self.conn.execute(f"SELECT * FROM {source} LIMIT {SAMPLE}") as cursor:
            rows = await cursor.fetchall()
            names = [col[0] for col in cursor.description or ()]
        described: Described = []
        for i, name in enumerate(names):
            sample = next((row[i] for row in rows if row[i] is not None), None)
            described.append((name, sqltypes.by_value(sample) if sample is not None else None))
        return described


class SqliteConnector(SqlConnector):
    """Tables, views and queries of a SQLite file (for demos and files)."""

    name: ClassVar[str] = "sqlite"
    title: ClassVar[str] = "SQLite"
    url: ClassVar[str] = "sqlite+aiosqlite://"

    @classmethod
    def spec(cls) -> dict[str, Any]:
        """The file's path, tables, queries and pool size."""
        return {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "title": cls.title,
            "type": "object",
            "required": ["path"],
            "additionalProperties": False,
            "properties": {
                "path": {
                    "type": "string",
                    "title": "Database file",
                    "minLength": 1,
                    "maxLength": 4096,
                    "x-endpoint": True,
                    "description": "Relative to the tenant's source directory "
                    "(GATEHOUSE_SOURCE_ROOTS/<tenant>/); opened read-only.",
                },
                "pool_size": {
                    "type": "integer",
                    "title": "Pool size",
                    "minimum": 1,
                    "maximum": 20,
                    "default": 1,
                },
                "batch_size": batch_schema(),
                "tables": tables_schema(),
                "queries": queries_schema(),
            },
        }

    def who(self, config: Mapping[str, Any]) -> str:
        """The file stands in for a user."""
        return str(config.get("path", ""))

    async def connect(self, config: Mapping[str, Any]) -> aiosqlite.Connection:
        """The file, read-only; it must exist and lie under a source directory."""
        path = local_file(str(config["path"]), self.env)
        if not path.is_file():
            raise ConnectorError(
                CheckFailure.config,
                f"there is no SQLite database {shown(path, self.env)} in this tenant's source "
                "directory: check the path",
            )
        return await aiosqlite.connect(f"{path.as_uri()}?mode=ro", uri=True)

    def driver(self, connection: Any) -> SqliteDriver:
        """The driver over an aiosqlite connection."""
        return SqliteDriver(connection)

    def classify(self, exc: BaseException, config: Mapping[str, Any]) -> ConnectorError | None:
        """SQLite errors to failures; a vanished table or column is a schema change."""
        if not isinstance(exc, sqlite3.Error):
            return None
        text = str(exc)
        if text.startswith(("no such table", "no such column")):
            return SchemaChanged(f"the source schema changed: {text}; rediscover it")
        if isinstance(exc, sqlite3.DatabaseError) and (
            "not a database" in text or "unable to open" in text
        ):
            return ConnectorError(
                CheckFailure.config,
                f"{config.get('path', 'the file')} is not a readable SQLite database ({text})",
            )
        return ConnectorError(CheckFailure.config, f"SQLite refused it: {text}")

"""PostgreSQL source, on asyncpg."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any, ClassVar

import asyncpg

from gatehouse.connectors.builtin import sqltypes
from gatehouse.connectors.builtin.sql import (
    CONNECT_TIMEOUT,
    Described,
    DriverBase,
    SqlConnector,
    network_spec,
)
from gatehouse.connectors.builtin.sqlread import Rows
from gatehouse.connectors.builtin.tls import client_context, not_offered
from gatehouse.connectors.environment import network_address
from gatehouse.connectors.protocol import CheckFailure, ConnectorError, SchemaChanged

# SQLSTATE → what it means for the user.
_STATES: dict[str, tuple[CheckFailure, str]] = {
    "28P01": (CheckFailure.auth, "the password was refused for user {user!r}: check it"),
    "28000": (
        CheckFailure.auth,
        "user {user!r} may not log in ({detail}): check the user name and the server's pg_hba.conf",
    ),
    "3D000": (CheckFailure.config, "there is no database {database!r}: check its name"),
    "3F000": (CheckFailure.config, "there is no schema {schema!r}: check `schema`"),
    "42501": (
        CheckFailure.permission,
        "user {user!r} lacks a privilege ({detail}): grant it SELECT on what it should read",
    ),
    "57P03": (CheckFailure.unreachable, "the server is starting up or shutting down; retry"),
    "53300": (CheckFailure.unreachable, "the server has no free connections; retry later"),
}


class PostgresDriver(DriverBase):
    """Reads through one asyncpg connection."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    def param(self, index: int) -> str:
        """`$1`, `$2`, ..."""
        return f"${index + 1}"

    async def fetch(self, sql: str, args: Sequence[Any]) -> Rows:
        """Every row (asyncpg records are sequences, so no conversion here)."""
        rows: Rows = await self.conn.fetch(sql, *args)
        return rows

    async def stream(self, sql: str, size: int) -> AsyncIterator[Rows]:
        """Chunks from a server-side cursor (inside the snapshot's transaction)."""
        cursor = await self.conn.cursor(sql)
        while rows := await cursor.fetch(size):
            yield rows

    @asynccontextmanager
    async def snapshot(self) -> AsyncIterator[None]:
        """A read-only REPEATABLE READ transaction: one consistent view for every page."""
        async with self.conn.transaction(isolation="repeatable_read", readonly=True):
            yield

    async def describe(self, source: str) -> Described:
        """Column names and types from a prepared statement, without running it."""
        statement = await self.conn.prepare(f"SELECT * FROM {source}")
        return [(a.name, sqltypes.by_name(a.type.name)) for a in statement.get_attributes()]


class PostgresConnector(SqlConnector):
    """PostgreSQL tables, views and queries."""

    name: ClassVar[str] = "postgresql"
    title: ClassVar[str] = "PostgreSQL"
    url: ClassVar[str] = "postgresql+asyncpg://"

    @classmethod
    def spec(cls) -> dict[str, Any]:
        """Host, port, database, user, password, TLS, schema, pool size, queries."""
        return network_spec(cls.title, 5432, schema="public")

    def schema_name(self, config: Mapping[str, Any]) -> str | None:
        """The configured schema (public by default)."""
        return str(config.get("schema") or "public")

    async def connect(self, config: Mapping[str, Any]) -> asyncpg.Connection:
        """A connection to the checked address, TLS as configured."""
        host, port = str(config["host"]), int(config.get("port", 5432))
        address = await network_address(host, port, self.env)
        tls = client_context(config, host)
        try:
            conn: asyncpg.Connection = await asyncpg.connect(
                host=address,
                port=port,
                user=config["user"],
                password=config.get("password") or None,
                database=config["database"],
                ssl=tls if tls is not None else False,
                timeout=CONNECT_TIMEOUT,
                server_settings={"application_name": "gatehouse"},
            )
        except ConnectionError as exc:
            if "rejected SSL upgrade" in str(exc):
                raise not_offered(config) from None
            raise
        return conn

    def driver(self, connection: Any) -> PostgresDriver:
        """The driver over an asyncpg connection."""
        return PostgresDriver(connection)

    def classify(self, exc: BaseException, config: Mapping[str, Any]) -> ConnectorError | None:
        """SQLSTATE codes to failures; a vanished table or column is a schema change."""
        state = getattr(exc, "sqlstate", None)
        if not isinstance(state, str):
            return None
        if state in ("42P01", "42703"):
            return SchemaChanged(f"the source schema changed: {exc}; rediscover it")
        if state not in _STATES:
            if state.startswith("08"):
                return ConnectorError(CheckFailure.unreachable, str(exc), transient=True)
            return None
        failure, text = _STATES[state]
        detail = str(exc)
        return ConnectorError(
            failure,
            text.format(
                user=config.get("user", ""),
                database=config.get("database", ""),
                schema=config.get("schema", "public"),
                detail=detail,
            ),
            transient=failure is CheckFailure.unreachable,
        )

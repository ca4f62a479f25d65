"""MySQL and MariaDB source, on asyncmy (the maintained, Cython-speed asyncio driver)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any, ClassVar

import asyncmy
from asyncmy.constants import FIELD_TYPE
from asyncmy.cursors import SSCursor

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

MARK = "\x00?\x00"  # our placeholder, so every `%` of the SQL text can be escaped first
SSL_CAPABILITY = 2048
_FIELD_NAMES = {v: k for k, v in vars(FIELD_TYPE).items() if k.isupper() and k != "CHAR"}
_ERRORS: dict[int, tuple[CheckFailure, str]] = {
    1045: (
        CheckFailure.auth,
        "the server refused user {user!r} with this password (from this address): check both",
    ),
    1044: (
        CheckFailure.permission,
        "user {user!r} may not use database {database!r}: GRANT SELECT ON {database}.* to it",
    ),
    1049: (CheckFailure.config, "there is no database {database!r}: check its name"),
    1142: (
        CheckFailure.permission,
        "user {user!r} may not read a table ({detail}): grant it SELECT",
    ),
    1143: (
        CheckFailure.permission,
        "user {user!r} may not read a column ({detail}): grant it SELECT",
    ),
    1040: (CheckFailure.unreachable, "the server has no free connections; retry later"),
    1129: (CheckFailure.unreachable, "the server blocked this host after errors ({detail})"),
    2002: (CheckFailure.unreachable, "cannot reach the server ({detail}): check host and port"),
    2003: (CheckFailure.unreachable, "cannot reach the server ({detail}): check host and port"),
    2006: (CheckFailure.unreachable, "the server went away ({detail}); retry"),
    2013: (CheckFailure.unreachable, "the connection was lost ({detail}); retry"),
}


class MysqlDriver(DriverBase):
    """Reads through one asyncmy connection."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn

    def param(self, index: int) -> str:
        """A marker turned into `%s` after the SQL text's own `%` are escaped."""
        return MARK

    @staticmethod
    def _format(sql: str) -> str:
        return sql.replace("%", "%%").replace(MARK, "%s")

    async def fetch(self, sql: str, args: Sequence[Any]) -> Rows:
        """Every row, as tuples."""
        async with self.conn.cursor() as cursor:
            await cursor.execute(self._format(sql), tuple(args))
            rows: Rows = await cursor.fetchall()
            return rows

    async def stream(self, sql: str, size: int) -> AsyncIterator[Rows]:
        """Chunks from an unbuffered cursor."""
        async with self.conn.cursor(SSCursor) as cursor:
            await cursor.execute(self._format(sql), ())
            while rows := await cursor.fetchmany(size):
                yield rows

    @asynccontextmanager
    async def snapshot(self) -> AsyncIterator[None]:
        """A read-only transaction with a consistent snapshot."""
        await self.fetch("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY", ())
        try:
            yield
        finally:
            await self.conn.rollback()

    async def describe(self, source: str) -> Described:
        """Column names and field types of an empty result."""
        async with self.conn.cursor() as cursor:
            await cursor.execute(self._format(f"SELECT * FROM {source} LIMIT 0"), ())
            return [
                (col[0], sqltypes.by_name(_FIELD_NAMES.get(col[1], "")))
                for col in cursor.description or ()
            ]


class MysqlConnector(SqlConnector):
    """MySQL and MariaDB tables, views and queries."""

    name: ClassVar[str] = "mysql"
    title: ClassVar[str] = "MySQL / MariaDB"
    url: ClassVar[str] = "mysql+asyncmy://"
    row_values: ClassVar[bool] = False  # MariaDB plans `(a, b) > (x, y)` as a full scan

    @classmethod
    def spec(cls) -> dict[str, Any]:
        """Host, port, database, user, password, TLS, pool size, queries."""
        return network_spec(cls.title, 3306, schema=None)

    async def connect(self, config: Mapping[str, Any]) -> Any:
        """A connection to the checked address, TLS as configured."""
        host, port = str(config["host"]), int(config.get("port", 3306))
        address = await network_address(host, port, self.env)
        tls = client_context(config, host)
        conn = await asyncmy.connect(
            host=address,
            port=port,
            user=config["user"],
            password=config.get("password") or "",
            database=config["database"],
            ssl=tls,
            connect_timeout=CONNECT_TIMEOUT,
            charset="utf8mb4",
        )
        return conn

    def driver(self, connection: Any) -> MysqlDriver:
        """The driver over an asyncmy connection."""
        return MysqlDriver(connection)

    def classify(self, exc: BaseException, config: Mapping[str, Any]) -> ConnectorError | None:
        """MySQL error numbers to failures; a vanished table or column is a schema change."""
        args: tuple[Any, ...] = getattr(exc, "args", ())
        code = args[0] if args and isinstance(args[0], int) else None
        if code is None:
            if "SSL" in str(exc) and "not" in str(exc).lower():
                return not_offered(config)
            return None
        detail = str(args[1]) if len(args) > 1 else str(exc)
        if code in (1146, 1054):
            return SchemaChanged(f"the source schema changed: {detail}; rediscover it")
        if code == 2026 or "SSL" in detail:
            return _tls(detail, config)
        if code not in _ERRORS:
            return None
        failure, text = _ERRORS[code]
        return ConnectorError(
            failure,
            text.format(
                user=config.get("user", ""), database=config.get("database", ""), detail=detail
            ),
            transient=failure is CheckFailure.unreachable,
        )


def _tls(detail: str, config: Mapping[str, Any]) -> ConnectorError:
    """What a TLS failure reported inside a MySQL connect error means."""
    if "WRONG_VERSION_NUMBER" in detail or "support" in detail:
        return not_offered(config)
    if "CERTIFICATE_VERIFY_FAILED" in detail:
        return ConnectorError(
            CheckFailure.tls,
            f"the server certificate was not accepted ({detail}); paste the CA that signed it "
            "into tls_ca_pem, and connect with the name it was issued for",
        )
    return ConnectorError(CheckFailure.tls, f"the TLS handshake failed ({detail}); check tls_mode")

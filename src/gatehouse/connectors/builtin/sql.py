"""What the SQL connectors share: the spec, check, discovery through SQLAlchemy's inspector, and
reads through the bare driver (the fast path) with names validated against discovery."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any, ClassVar

from sqlalchemy import inspect
from sqlalchemy.engine import Connection
from sqlalchemy.engine.reflection import ObjectKind
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine
from sqlalchemy.pool import AsyncAdaptedQueuePool

from gatehouse.connectors.builtin import sqltypes
from gatehouse.connectors.builtin.sqlread import BATCH, ReadPlan, Rows, read_plan
from gatehouse.connectors.builtin.tls import MODES, tls_failure
from gatehouse.connectors.environment import current
from gatehouse.connectors.protocol import (
    Batch,
    CheckFailure,
    CheckResult,
    ConnectorError,
    FieldInfo,
    SchemaChanged,
    Selection,
    StreamInfo,
    SyncMode,
)

STREAM_NAME = r"^[A-Za-z_][A-Za-z0-9_]{0,62}$"
CONNECT_TIMEOUT = 10.0
PROBE_LIMIT = 200  # tables a check tries to read, at most
Described = list[tuple[str, sqltypes.JsonType | None]]


def queries_schema() -> dict[str, Any]:
    """The `queries` field: stream name → SELECT statement."""
    return {
        "type": "object",
        "title": "Custom queries",
        "description": "Each becomes a stream named by its key; the SQL runs read-only.",
        "propertyNames": {"pattern": STREAM_NAME},
        "additionalProperties": {"type": "string", "minLength": 1, "maxLength": 20_000},
        "maxProperties": 50,
        "default": {},
    }


def batch_schema() -> dict[str, Any]:
    """The `batch_size` field."""
    return {
        "type": "integer",
        "title": "Batch size",
        "description": "Rows per batch and checkpoint.",
        "minimum": 1,
        "maximum": 100_000,
        "default": BATCH,
    }


def tables_schema() -> dict[str, Any]:
    """The `tables` field: which tables and views to offer."""
    return {
        "type": "array",
        "title": "Tables",
        "description": "Tables and views to offer, all of them must be readable (empty: all).",
        "items": {"type": "string", "minLength": 1, "maxLength": 128},
        "maxItems": 1000,
        "default": [],
    }


def network_spec(title: str, port: int, *, schema: str | None) -> dict[str, Any]:
    """The configuration schema of a SQL server reached over the network."""
    properties: dict[str, Any] = {
        "host": {
            "type": "string",
            "title": "Host",
            "minLength": 1,
            "maxLength": 253,
            "pattern": r"^[A-Za-z0-9._:\[\]-]+$",
            "x-endpoint": True,
        },
        "port": {
            "type": "integer",
            "title": "Port",
            "minimum": 1,
            "maximum": 65535,
            "default": port,
            "x-endpoint": True,
        },
        "database": {"type": "string", "title": "Database", "minLength": 1, "maxLength": 128},
        "user": {"type": "string", "title": "User", "minLength": 1, "maxLength": 128},
        "password": {
            "type": "string",
            "title": "Password",
            "maxLength": 1024,
            "writeOnly": True,
            "x-secret": True,
        },
        "tls_mode": {
            "enum": list(MODES),
            "title": "TLS",
            "default": "verify-full",
            "x-endpoint": True,
            "description": "disable: plain; require: encrypted, unverified; verify-full: "
            "encrypted, certificate and host name checked.",
        },
        "tls_ca_pem": {
            "type": "string",
            "title": "CA certificate (PEM)",
            "maxLength": 65_536,
            "x-endpoint": True,
            "description": "verify-full: the CA that signed the server certificate "
            "(default: the system's CAs).",
        },
        "pool_size": {
            "type": "integer",
            "title": "Pool size",
            "minimum": 1,
            "maximum": 20,
            "default": 2,
            "description": "Most connections one operation opens.",
        },
        "batch_size": batch_schema(),
        "tables": tables_schema(),
        "queries": queries_schema(),
    }
    if schema is not None:
        properties["schema"] = {
            "type": "string",
            "title": "Schema",
            "minLength": 1,
            "maxLength": 128,
            "default": schema,
        }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": title,
        "type": "object",
        "required": ["host", "database", "user"],
        "additionalProperties": False,
        "properties": properties,
    }


@dataclass
class SqlSession:
    """One open connection: SQLAlchemy for inspection, the bare driver for everything else."""

    conn: AsyncConnection
    driver: Any  # the dialect's SqlDriver
    quote_name: Any

    def quote(self, name: str) -> str:
        """A quoted identifier (names come from discovery, quoting makes them inert)."""
        return str(self.quote_name(name))


class SqlConnector:
    """Base of the PostgreSQL, MySQL/MariaDB and SQLite connectors."""

    name: ClassVar[str]
    title: ClassVar[str]
    url: ClassVar[str]  # SQLAlchemy dialect, e.g. "postgresql+asyncpg://"
    row_values: ClassVar[bool] = True

    def __init__(self) -> None:
        self.env = current()

    @classmethod
    def spec(cls) -> dict[str, Any]:
        """JSON Schema of the configuration."""
        raise NotImplementedError

    async def connect(self, config: Mapping[str, Any]) -> Any:
        """A new driver connection (through the outbound guard)."""
        raise NotImplementedError

    def driver(self, connection: Any) -> Any:
        """The SqlDriver over a driver connection."""
        raise NotImplementedError

    def classify(self, exc: BaseException, config: Mapping[str, Any]) -> ConnectorError | None:
        """The dialect's reading of a driver error, or None when it is not one it knows."""
        raise NotImplementedError

    def schema_name(self, config: Mapping[str, Any]) -> str | None:
        """The schema whose tables are streams (None: the connection's default)."""
        return None

    def who(self, config: Mapping[str, Any]) -> str:
        """How the user appears in messages."""
        return str(config.get("user", ""))

    async def check(self, config: Mapping[str, Any]) -> CheckResult:
        """Connect, then try to read every offered table and run every custom query."""
        try:
            async with self.session(config) as s:
                tables = await self._tables(s, config)
                unreadable: list[str] = []
                for name in tables[:PROBE_LIMIT]:
                    if not await self._probe(s, self._table_source(s, config, name)):
                        unreadable.append(name)
                for name, sql in _queries(config).items():
                    if not await self._probe(s, _query_source(sql), query=name):
                        unreadable.append(name)
        except Exception as exc:
            failure = self.failure(exc, config)
            return CheckResult.failed(failure.failure, str(failure))
        return self._verdict(config, tables, unreadable)

    def _verdict(
        self, config: Mapping[str, Any], tables: list[str], unreadable: list[str]
    ) -> CheckResult:
        listed = bool(config.get("tables"))
        readable = len(tables) + len(_queries(config)) - len(unreadable)
        if unreadable and (listed or readable == 0 or set(unreadable) & set(_queries(config))):
            return CheckResult.failed(
                CheckFailure.permission,
                f"connected as {self.who(config)!r}, but it may not read {', '.join(unreadable)}:"
                " grant it SELECT on them, or leave them out of `tables`",
                unreadable=unreadable,
            )
        if readable == 0 and not unreadable:
            where = self.schema_name(config) or "the database"
            return CheckResult.failed(
                CheckFailure.config,
                f"connected as {self.who(config)!r}, but {where} has no tables or views it may "
                "see: check `schema` and the user's privileges, or add `queries`",
            )
        note = f"; not readable: {', '.join(unreadable)}" if unreadable else ""
        return CheckResult.success(
            f"connected as {self.who(config)!r}; {readable} stream(s) readable{note}",
            streams=readable,
            unreadable=unreadable,
        )

    async def _probe(self, s: SqlSession, source: str, query: str | None = None) -> bool:
        """Whether `source` can be read; other errors propagate."""
        try:
            async with s.driver.snapshot():
                await s.driver.fetch(f"SELECT * FROM {source} WHERE 1 = 0", ())
        except Exception as exc:
            found = self.failure(exc, {})
            if found.failure is CheckFailure.permission:
                return False
            if query is not None:
                raise ConnectorError(
                    CheckFailure.config, f"query {query!r} does not run: {found}"
                ) from None
            raise
        return True

    async def discover(self, config: Mapping[str, Any]) -> list[StreamInfo]:
        """Tables, views and custom queries with their fields, keys and cursor candidates."""
        try:
            async with self.session(config) as s:
                return await self._streams(s, config, None)
        except Exception as exc:
            raise self.failure(exc, config) from None

    async def read(
        self,
        config: Mapping[str, Any],
        stream: str,
        mode: SyncMode,
        state: Mapping[str, Any] | None,
        selection: Selection | None = None,
    ) -> AsyncIterator[Batch]:
        """Batches of one stream in a read-only snapshot, each with its checkpoint."""
        try:
            async with self.session(config) as s:
                found = await self._streams(s, config, stream)
                if not found:
                    raise SchemaChanged(
                        f"stream {stream!r} no longer exists in the source: rediscover its "
                        "schema and update the mapping"
                    )
                queries = _queries(config)
                source = (
                    _query_source(queries[stream])
                    if stream in queries
                    else self._table_source(s, config, stream)
                )
                plan = ReadPlan.build(
                    found[0],
                    source,
                    mode,
                    selection or Selection(),
                    s.quote,
                    row_values=self.row_values,
                    batch=int(config.get("batch_size", BATCH)),
                )
                async with s.driver.snapshot():
                    async for batch in read_plan(plan, s.driver, state):
                        yield batch
        except ConnectorError:
            raise
        except Exception as exc:
            raise self.failure(exc, config) from None

    def failure(self, exc: BaseException, config: Mapping[str, Any]) -> ConnectorError:
        """A ConnectorError that says what went wrong and what to do about it."""
        for cause in _causes(exc):
            if isinstance(cause, ConnectorError):
                return cause
            found = tls_failure(cause, config) if isinstance(cause, ssl.SSLError) else None
            found = found or self.classify(cause, config)
            if found is not None:
                return found
        for cause in _causes(exc):
            if isinstance(cause, TimeoutError):
                return ConnectorError(
                    CheckFailure.unreachable,
                    "the server did not answer in time: check host, port and firewalls",
                    transient=True,
                )
            if isinstance(cause, OSError):
                return ConnectorError(
                    CheckFailure.unreachable,
                    f"cannot reach the server ({cause.strerror or cause}): check host and port, "
                    "and that the server accepts TCP connections",
                    transient=True,
                )
        return ConnectorError(CheckFailure.error, f"{type(exc).__name__}: {exc}")

    @asynccontextmanager
    async def session(self, config: Mapping[str, Any]) -> AsyncIterator[SqlSession]:
        """An engine whose first connection is opened here, so connect errors surface as-is."""
        first = await self.connect(config)
        pending = [first]

        async def creator() -> Any:
            return pending.pop() if pending else await self.connect(config)

        engine = create_async_engine(
            self.url,
            async_creator=creator,
            poolclass=AsyncAdaptedQueuePool,
            pool_size=int(config.get("pool_size", 2)),
            max_overflow=0,
            hide_parameters=True,  # a failed read's error (logged, kept in the run) omits values
        )
        try:
            async with engine.connect() as conn:
                raw = await conn.get_raw_connection()
                yield SqlSession(
                    conn,
                    self.driver(raw.driver_connection),
                    engine.dialect.identifier_preparer.quote_identifier,
                )
        finally:
            await engine.dispose()

    def _table_source(self, s: SqlSession, config: Mapping[str, Any], table: str) -> str:
        schema = self.schema_name(config)
        return f"{s.quote(schema)}.{s.quote(table)}" if schema else s.quote(table)

    async def _tables(self, s: SqlSession, config: Mapping[str, Any]) -> list[str]:
        """Offered tables and views; a name listed in `tables` that does not exist is an error."""
        schema = self.schema_name(config)

        def names(sync: Connection) -> list[str]:
            found = inspect(sync)
            return sorted({*found.get_table_names(schema), *found.get_view_names(schema)})

        present = await s.conn.run_sync(names)
        await s.conn.rollback()
        listed = list(config.get("tables") or ())
        missing = [name for name in listed if name not in present]
        if missing:
            raise ConnectorError(
                CheckFailure.config,
                f"no table or view named {', '.join(missing)} in "
                f"{schema or 'the database'}; fix `tables`",
            )
        return listed or present

    async def _streams(
        self, s: SqlSession, config: Mapping[str, Any], only: str | None
    ) -> list[StreamInfo]:
        """Discovered streams: every offered table and query, or just the one named `only`."""
        queries = _queries(config)
        if only is not None and only in queries:
            return [await self._query_stream(s, only, queries[only])]
        tables = await self._tables(s, config)
        if only is not None:
            tables = [t for t in tables if t == only]
        clash = sorted(set(tables) & set(queries))
        if clash:
            raise ConnectorError(
                CheckFailure.config,
                f"custom quer(y/ies) {', '.join(clash)} share a name with a table: rename them",
            )
        streams = await s.conn.run_sync(_reflect, tables, self.schema_name(config))
        await s.conn.rollback()
        if only is None:
            for name, sql in queries.items():
                streams.append(await self._query_stream(s, name, sql))
        return streams

    async def _query_stream(self, s: SqlSession, name: str, sql: str) -> StreamInfo:
        """A custom query as a stream: its columns, described without reading its rows."""
        try:
            async with s.driver.snapshot():
                described: Described = await s.driver.describe(_query_source(sql))
        except Exception as exc:
            found = self.failure(exc, {})
            if found.failure in (CheckFailure.unreachable, CheckFailure.tls):
                raise
            raise ConnectorError(
                found.failure if found.failure is CheckFailure.permission else CheckFailure.config,
                f"query {name!r} does not run: {found}",
            ) from None
        fields: list[FieldInfo] = [
            sqltypes.field(col, kind or ("string", None), True) for col, kind in described
        ]
        return sqltypes.stream(name, fields, ())


def _reflect(sync: Connection, tables: list[str], schema: str | None) -> list[StreamInfo]:
    """Columns and primary keys of `tables`, in as few catalog queries as the dialect allows."""
    if not tables:
        return []
    found = inspect(sync)
    columns = found.get_multi_columns(schema=schema, filter_names=tables, kind=ObjectKind.ANY)
    keys: dict[Any, Any] = dict(
        found.get_multi_pk_constraint(schema=schema, filter_names=tables, kind=ObjectKind.ANY)
    )
    streams = []
    for table in tables:
        pk = tuple((keys.get((schema, table)) or {}).get("constrained_columns") or ())
        fields = [  # a key column is never null (SQLite reports its rowid alias as nullable)
            sqltypes.field(
                c["name"],
                sqltypes.json_type(c["type"]),
                bool(c["nullable"]) and c["name"] not in pk,
            )
            for c in columns.get((schema, table), [])
        ]
        streams.append(sqltypes.stream(table, fields, pk))
    return streams


def _queries(config: Mapping[str, Any]) -> dict[str, str]:
    return {k: str(v) for k, v in (config.get("queries") or {}).items()}


def _query_source(sql: str) -> str:
    """A custom query as a derived table (a trailing semicolon would end the statement)."""
    return f"({sql.strip().rstrip(';').strip()}) AS gh_query"


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """The error, the driver error SQLAlchemy wraps, and what they were raised from."""
    seen: list[BaseException] = []
    todo: list[BaseException | None] = [exc]
    while todo:
        current = todo.pop(0)
        if current is None or any(current is s for s in seen):
            continue
        seen.append(current)
        yield current
        todo += [getattr(current, "orig", None), current.__cause__, current.__context__]


class DriverBase:
    """Helpers the drivers share."""

    def snapshot(self) -> AbstractAsyncContextManager[None]:
        """A read-only, consistent view for the reads inside it."""
        raise NotImplementedError

    async def describe(self, source: str) -> Described:
        """Column names and types of a derived table."""
        raise NotImplementedError

    async def fetch(self, sql: str, args: Sequence[Any]) -> Rows:
        """Every row of a query."""
        raise NotImplementedError

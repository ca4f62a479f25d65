"""Engines and session factories for SQLite (WAL) and PostgreSQL."""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from gatehouse.db.tenancy import TenantSession

IMMEDIATE = "sqlite_begin_immediate"
CONNECT_TIMEOUT = 5.0  # seconds a PostgreSQL connect may take


def _dumps(value: Any) -> str:
    """JSON columns are written with orjson: several times faster than json on batch writes."""
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


def _loads(value: str | bytes | int | float) -> Any:
    """JSON columns are read with orjson. SQLite gives a bare number back as a number: a column
    declared `JSON` has numeric affinity, so a stored `1` or `1.5` comes back converted."""
    if isinstance(value, (str, bytes)):
        return orjson.loads(value)
    return value


JSON_CODEC: dict[str, Any] = {"json_serializer": _dumps, "json_deserializer": _loads}
# A failed statement's error names the statement, never its bound values: they hold token
# hashes, personal data and sealed secrets, and errors are logged.
ENGINE_OPTIONS: dict[str, Any] = {**JSON_CODEC, "hide_parameters": True}


def _sqlite_engine(url: str) -> AsyncEngine:
    path = url.split(":///", 1)[1]
    on_disk = bool(path) and path != ":memory:"
    if on_disk:
        Path(path).parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    # Every unit of work ends in COMMIT or ROLLBACK, so the pool's extra reset is only a cost.
    engine = create_async_engine(
        url,
        connect_args={"timeout": 30},
        pool_size=8,
        max_overflow=8,
        pool_reset_on_return=None,
        **ENGINE_OPTIONS,
    )

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Take transaction control from the driver so BEGIN IMMEDIATE is possible.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        # 64 MiB of page cache per connection (the default is 2 MiB): batch writes touch many
        # index pages, and re-reading them from the OS on every statement dominated syncs.
        cursor.execute("PRAGMA cache_size=-65536")
        cursor.execute("PRAGMA temp_store=MEMORY")
        cursor.close()
        if on_disk:
            # Only the owner may read the store (SQLite gives its -wal/-shm files the same mode).
            for suffix in ("", "-wal", "-shm"):
                with contextlib.suppress(FileNotFoundError):
                    os.chmod(path + suffix, 0o600)

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # Writers take the lock up front, so two writers queue instead of failing.
        immediate = conn.get_execution_options().get(IMMEDIATE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def make_engine(url: str) -> AsyncEngine:
    """Create the async engine for a URL with the settings that dialect needs."""
    if url.startswith("sqlite"):
        return _sqlite_engine(url)
    # asyncpg prepares every statement; after five runs PostgreSQL may switch a prepared
    # statement to a generic plan, which cannot hash a long IN list: a batch look-up of 2,000
    # ids then compares every row with every id (seconds instead of milliseconds). Custom
    # plans cost a little planning per statement and never fall into that.
    engine = create_async_engine(
        url,
        pool_size=10,
        max_overflow=10,
        pool_pre_ping=True,
        connect_args={
            "server_settings": {"plan_cache_mode": "force_custom_plan"},
            # A server that does not answer (a host gone, a dropped route) fails a connect in
            # seconds, not asyncpg's default minute: the request answers 503 meanwhile.
            "timeout": CONNECT_TIMEOUT,
        },
        **ENGINE_OPTIONS,
    )
    return engine


class Database:
    """The engine plus session factories for reads and for writes."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.is_sqlite = url.startswith("sqlite")
        write_bind = self.engine.execution_options(**{IMMEDIATE: True})
        self.reader = async_sessionmaker(
            self.engine, expire_on_commit=False, sync_session_class=TenantSession
        )
        self.writer = async_sessionmaker(
            write_bind, expire_on_commit=False, sync_session_class=TenantSession
        )

    @asynccontextmanager
    async def transaction(self, *, write: bool = True) -> AsyncIterator[AsyncSession]:
        """A session committed on success and rolled back on any error."""
        factory = self.writer if write else self.reader
        async with factory() as session:
            try:
                yield session
                await session.commit()
            except BaseException:
                await session.rollback()
                raise

    async def dispose(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()

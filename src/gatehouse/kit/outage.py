"""Telling "the store is away" (an outage: retry later) from every other database error."""

from __future__ import annotations

from sqlalchemy import exc as sa

RETRY_AFTER_SECONDS = 5  # what a 503 for an unavailable store tells clients to wait
PROBLEM_TYPE = "https://gatehouse.dev/problems/store-unavailable"
# Where a network error raised while reaching the database comes from: the pool connecting
# (asyncpg lets a refused or timed-out connect through as a bare OSError) or a driver.
_DRIVERS = ("sqlalchemy.", "asyncpg", "aiosqlite", "psycopg")


def unavailable(error: BaseException) -> bool:
    """Whether `error` says the database cannot be reached or used now (down, restarting,
    disconnected, out of connections, locked, read-only or out of disk), rather than that a
    statement is wrong: the request may succeed when retried later."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, sa.DBAPIError) and current.connection_invalidated:
            return True
        if isinstance(current, sa.OperationalError) and _sqlite(current):
            return _sqlite_outage(current)
        if isinstance(current, sa.OperationalError | sa.InterfaceError | sa.TimeoutError):
            return True
        if isinstance(current, sa.DisconnectionError):
            return True
        if isinstance(current, OSError | TimeoutError) and _from_driver(current):
            return True
        current = current.__cause__ or current.__context__
    return False


# SQLite reports wrong statements (no such table, syntax) as OperationalError too: only these
# messages say the file cannot be used now.
_SQLITE_OUTAGES = ("locked", "busy", "unable to open", "disk i/o", "readonly", "full", "malformed")


def _sqlite(error: sa.OperationalError) -> bool:
    """Whether SQLite raised it."""
    return type(error.orig).__module__.startswith("sqlite3")


def _sqlite_outage(error: sa.OperationalError) -> bool:
    """Whether SQLite's error says the database file cannot be used now."""
    text = str(error.orig).lower()
    return any(word in text for word in _SQLITE_OUTAGES)


def _from_driver(error: BaseException) -> bool:
    """Whether the error was raised inside SQLAlchemy or a database driver."""
    frame = error.__traceback__
    while frame is not None:
        module = frame.tb_frame.f_globals.get("__name__", "")
        if isinstance(module, str) and module.startswith(_DRIVERS):
            return True
        frame = frame.tb_next
    return False

"""Bulk inserts handed straight to the driver: COPY on PostgreSQL, executemany on SQLite.

SQLAlchemy's `session.execute(insert(table), rows)` renders and binds every row in Python
(insertmanyvalues), which costs more than the database's own work on batch ingestion. Here each
column's value still goes through SQLAlchemy's bind processor for that column and dialect (JSON
serialised as configured, timestamps normalised to UTC, SQLite's timestamp format), so what lands
is what the ORM path would write, but the rows travel as tuples in one driver call.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from functools import lru_cache, partial
from typing import Any

from sqlalchemy import Table, insert
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncSession

CHUNK = 5_000  # rows per driver call, so other tasks get the event loop between calls
# Rows bound between turns of the event loop: binding serialises JSON columns, about 10 µs a
# row for a decision-log row, so 5,000 at once would hold requests up for tens of milliseconds.
BIND_SLICE = 250
Processor = Callable[[Any], Any] | None


@lru_cache(maxsize=256)
def _plan(table: Table, columns: tuple[str, ...], dialect: Dialect) -> tuple[str, list[Processor]]:
    """The driver-level INSERT for these columns, and each column's bind processor."""
    quote = dialect.identifier_preparer
    names = ", ".join(quote.quote(name) for name in columns)
    marks = ", ".join("?" for _ in columns)  # sqlite3's paramstyle; PostgreSQL uses COPY
    sql = f"INSERT INTO {quote.format_table(table)} ({names}) VALUES ({marks})"  # noqa: S608 (quoted names from the model)
    processors: list[Processor] = [
        table.c[name].type._cached_bind_processor(dialect) for name in columns
    ]
    return sql, processors


@lru_cache(maxsize=256)
def _defaults(table: Table, columns: tuple[str, ...]) -> tuple[tuple[str, Callable[[], Any]], ...]:
    """The columns left out that have a Python-side default, each with a maker of its value
    (SQLAlchemy applies these itself; COPY and the driver do not)."""
    found: list[tuple[str, Callable[[], Any]]] = []
    for column in table.columns:
        default: Any = column.default
        if column.name in columns or default is None:
            continue
        if default.is_callable:
            found.append((column.name, partial(default.arg, None)))  # SQLAlchemy's (context)
        elif default.is_scalar:
            found.append((column.name, partial(_same, default.arg)))
    return tuple(found)


def _same(value: Any) -> Any:
    return value


def _completed(
    table: Table, rows: Sequence[dict[str, Any]]
) -> tuple[Sequence[dict[str, Any]], tuple[str, ...]]:
    """The rows with their left-out columns' defaults filled in, and the full column list."""
    columns = tuple(rows[0])
    defaults = _defaults(table, columns)
    if not defaults:
        return rows, columns
    filled = [{**row, **{name: make() for name, make in defaults}} for row in rows]
    return filled, columns + tuple(name for name, _ in defaults)


def _bound(values: list[Any], process: Processor) -> list[Any]:
    """One column's values through its processor; a value repeated by identity (the batch's
    timestamp, say) is processed once."""
    if process is None:
        return values
    out: list[Any] = []
    last: Any = out  # a sentinel no value is
    done: Any = None
    for value in values:
        if value is not last:
            last, done = value, (None if value is None else process(value))
        out.append(done)
    return out


def _tuples(
    rows: Sequence[dict[str, Any]], columns: tuple[str, ...], procs: list[Processor]
) -> list[tuple[Any, ...]]:
    """Rows as tuples of bound values, in column order (processed column by column)."""
    bound = [_bound([row[c] for row in rows], p) for c, p in zip(columns, procs, strict=True)]
    return list(zip(*bound, strict=True))


async def _tuples_yielding(
    rows: Sequence[dict[str, Any]], columns: tuple[str, ...], procs: list[Processor]
) -> list[tuple[Any, ...]]:
    """`_tuples`, a slice at a time, letting other tasks run in between."""
    if len(rows) <= BIND_SLICE:
        return _tuples(rows, columns, procs)
    out: list[tuple[Any, ...]] = []
    for start in range(0, len(rows), BIND_SLICE):
        out += _tuples(rows[start : start + BIND_SLICE], columns, procs)
        await asyncio.sleep(0)
    return out


async def insert_many(session: AsyncSession, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert complete rows (every row with the same keys) in the session's transaction."""
    if not rows:
        return
    conn = await session.connection()
    dialect = conn.dialect
    rows, columns = _completed(table, rows)
    raw = await conn.get_raw_connection()
    driver: Any = raw.driver_connection
    if dialect.name == "postgresql":
        _, procs = _plan(table, columns, dialect)
        for start in range(0, len(rows), CHUNK):
            part = await _tuples_yielding(rows[start : start + CHUNK], columns, procs)
            await driver.copy_records_to_table(
                table.name, records=part, columns=list(columns), schema_name=table.schema
            )
    elif dialect.name == "sqlite":
        sql, procs = _plan(table, columns, dialect)
        for start in range(0, len(rows), CHUNK):
            part = await _tuples_yielding(rows[start : start + CHUNK], columns, procs)
            await driver.executemany(sql, part)
    else:  # any other dialect: SQLAlchemy's own executemany
        for start in range(0, len(rows), CHUNK):
            await session.execute(insert(table), list(rows[start : start + CHUNK]))


async def update_many(
    session: AsyncSession,
    table: Table,
    keys: tuple[str, ...],
    rows: Sequence[dict[str, Any]],
) -> None:
    """Set the other columns of each row where its `keys` columns match (every row alike).

    PostgreSQL gets one `UPDATE ... FROM unnest(arrays)` statement per chunk, SQLite one
    executemany: a per-row UPDATE through SQLAlchemy costs several times more.
    """
    if not rows:
        return
    conn = await session.connection()
    dialect = conn.dialect
    columns = tuple(rows[0])
    sets = tuple(c for c in columns if c not in keys)
    procs = [table.c[name].type._cached_bind_processor(dialect) for name in columns]
    raw = await conn.get_raw_connection()
    driver: Any = raw.driver_connection
    sql = _update_sql(table, columns, keys, sets, dialect)
    for start in range(0, len(rows), CHUNK):
        part = rows[start : start + CHUNK]
        if dialect.name == "postgresql":
            arrays = [
                _bound([row[c] for row in part], p) for c, p in zip(columns, procs, strict=True)
            ]
            await driver.execute(sql, *arrays)
        elif dialect.name == "sqlite":
            ordered = (*sets, *keys)
            await driver.executemany(
                sql, _tuples(part, ordered, [procs[columns.index(c)] for c in ordered])
            )
        else:
            raise NotImplementedError(f"bulk updates on {dialect.name}")


@lru_cache(maxsize=256)
def _update_sql(
    table: Table,
    columns: tuple[str, ...],
    keys: tuple[str, ...],
    sets: tuple[str, ...],
    dialect: Dialect,
) -> str:
    """The driver-level UPDATE: positional parameters in `columns` order (PostgreSQL, arrays)
    or in sets-then-keys order (SQLite)."""
    quote = dialect.identifier_preparer
    name = quote.format_table(table)
    if dialect.name == "postgresql":
        unnest = ", ".join(
            f"${n}::{table.c[c].type.compile(dialect)}[]" for n, c in enumerate(columns, 1)
        )
        names = ", ".join(quote.quote(c) for c in columns)
        assign = ", ".join(f"{quote.quote(c)} = v.{quote.quote(c)}" for c in sets)
        match = " AND ".join(f"t.{quote.quote(c)} = v.{quote.quote(c)}" for c in keys)
        return (
            f"UPDATE {name} AS t SET {assign} FROM unnest({unnest}) AS v({names})"  # noqa: S608
            f" WHERE {match}"
        )
    assign = ", ".join(f"{quote.quote(c)} = ?" for c in sets)
    match = " AND ".join(f"{quote.quote(c)} = ?" for c in keys)
    return f"UPDATE {name} SET {assign} WHERE {match}"  # noqa: S608

"""Reading a SQL stream in batches: keyset pages with a resumable checkpoint, no row twice."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from gatehouse.connectors.builtin.sqltypes import decode_value, encode_value
from gatehouse.connectors.protocol import (
    Batch,
    CheckFailure,
    ConnectorError,
    SchemaChanged,
    Selection,
    StreamInfo,
    SyncMode,
)

BATCH = 5_000
Rows = Sequence[Sequence[Any]]


class SqlDriver(Protocol):
    """What a dialect supplies to run the reads below on its driver connection."""

    def param(self, index: int) -> str:
        """The placeholder of the 0-based parameter `index`."""
        ...

    async def fetch(self, sql: str, args: Sequence[Any]) -> Rows:
        """Every row of a query."""
        ...

    def stream(self, sql: str, size: int) -> AsyncIterator[Rows]:
        """A query's rows in chunks of `size`, through a server-side cursor."""
        ...


@dataclass(frozen=True)
class ReadPlan:
    """The columns, order and checkpoint key of one read, validated against discovery."""

    stream: str
    source: str  # quoted table name or `(query) AS q`
    columns: tuple[str, ...]
    key: tuple[str, ...]  # keyset order; empty with `cursor` set: bounded cursor reads
    cursor: str | None
    mode: SyncMode
    quote: Callable[[str], str]
    row_values: bool = True  # `(a, b) > (x, y)`; otherwise the expanded OR form
    batch: int = BATCH

    @classmethod
    def build(
        cls,
        info: StreamInfo,
        source: str,
        mode: SyncMode,
        selection: Selection,
        quote: Callable[[str], str],
        **options: Any,
    ) -> ReadPlan:
        """A plan for `selection`; SchemaChanged names any field the source no longer has."""
        names = [f.name for f in info.fields]
        known = set(names)
        primary = tuple(selection.primary_key or info.primary_key)
        cursor = None
        if mode is SyncMode.incremental:
            cursor = selection.cursor_field or next(iter(info.cursor_candidates), None)
            if cursor is None:
                raise ConnectorError(
                    CheckFailure.config,
                    f"stream {info.name!r} has no cursor column for incremental reads: name one "
                    "as cursor_field in the mapping, or read it with full_refresh",
                )
        wanted = list(selection.fields) or names
        needed = [*wanted, *primary, *([cursor] if cursor else [])]
        missing = sorted({name for name in needed if name not in known})
        if missing:
            raise SchemaChanged(
                f"stream {info.name!r} no longer has field(s) {', '.join(missing)}: rediscover "
                "its schema and update the mapping"
            )
        key: tuple[str, ...] = primary
        if cursor is not None:
            key = (cursor, *(c for c in primary if c != cursor)) if primary else ()
        columns = tuple(dict.fromkeys([*wanted, *key, *([cursor] if cursor else [])]))
        return cls(info.name, source, columns, key, cursor, mode, quote, **options)

    def resume_from(self, state: Mapping[str, Any] | None) -> list[Any] | None:
        """The position a checkpoint of this same plan stands at (None: from the start)."""
        if not state or state.get("mode") != self.mode.value:
            return None
        if list(state.get("key") or ()) != list(self.key or (self.cursor,)):
            return None  # the key changed since: start over rather than skip rows
        after = state.get("after")
        return [decode_value(v) for v in after] if isinstance(after, list) else None

    def checkpoint(self, after: Sequence[Any]) -> dict[str, Any]:
        """The state that resumes after the position `after`."""
        return {
            "mode": self.mode.value,
            "key": list(self.key or (self.cursor,)),
            "after": [encode_value(v) for v in after],
        }

    def select(self) -> str:
        """The SELECT list and FROM clause."""
        return f"SELECT {', '.join(self.quote(c) for c in self.columns)} FROM {self.source}"

    def after(
        self, columns: Sequence[str], values: Sequence[Any], driver: SqlDriver
    ) -> tuple[str, list[Any]]:
        """`columns > values` in keyset order, and its arguments."""
        quoted = [self.quote(c) for c in columns]
        if self.row_values or len(columns) == 1:
            marks = [driver.param(i) for i in range(len(values))]
            if len(columns) == 1:
                return f"{quoted[0]} > {marks[0]}", list(values)
            return f"({', '.join(quoted)}) > ({', '.join(marks)})", list(values)
        terms: list[str] = []
        args: list[Any] = []
        for depth in range(len(columns)):
            parts = []
            for i in range(depth + 1):
                parts.append(f"{quoted[i]} {'>' if i == depth else '='} {driver.param(len(args))}")
                args.append(values[i])
            terms.append("(" + " AND ".join(parts) + ")")
        return "(" + " OR ".join(terms) + ")", args


async def read_plan(
    plan: ReadPlan, driver: SqlDriver, state: Mapping[str, Any] | None
) -> AsyncIterator[Batch]:
    """Every batch of a plan, resuming after `state` when it is this plan's checkpoint."""
    if plan.key:
        source = _keyset(plan, driver, plan.resume_from(state))
    elif plan.cursor:
        source = _bounded(plan, driver, plan.resume_from(state))
    else:
        source = _streamed(plan, driver)
    async for batch in source:
        yield batch


async def _keyset(
    plan: ReadPlan, driver: SqlDriver, position: list[Any] | None
) -> AsyncIterator[Batch]:
    """Pages ordered by the key, each starting after the last key of the one before."""
    names = plan.columns
    at = [names.index(c) for c in plan.key]
    order = ", ".join(plan.quote(c) for c in plan.key)
    while True:
        conditions: list[str] = []
        args: list[Any] = []
        if plan.cursor:
            conditions.append(f"{plan.quote(plan.cursor)} IS NOT NULL")
        if position is not None:
            clause, args = plan.after(plan.key, position, driver)
            conditions.append(clause)
        where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
        sql = f"{plan.select()}{where} ORDER BY {order} LIMIT {plan.batch}"
        rows = await driver.fetch(sql, args)
        if not rows:
            return
        last = rows[-1]
        position = [last[i] for i in at]
        yield Batch(
            [dict(zip(names, row, strict=False)) for row in rows], plan.checkpoint(position)
        )
        if len(rows) < plan.batch:
            return


async def _bounded(
    plan: ReadPlan, driver: SqlDriver, position: list[Any] | None
) -> AsyncIterator[Batch]:
    """Cursor reads without a key: each batch takes every row up to the batch's last cursor
    value, so rows sharing a value are never split between batches."""
    assert plan.cursor is not None
    cursor = plan.quote(plan.cursor)
    names = plan.columns
    while True:
        lower, args = f"{cursor} IS NOT NULL", list[Any]()
        if position is not None:
            lower, args = plan.after((plan.cursor,), position, driver)
        bound_sql = (
            f"SELECT {cursor} FROM {plan.source} WHERE {lower} "
            f"ORDER BY {cursor} LIMIT 1 OFFSET {plan.batch - 1}"
        )
        bound = await driver.fetch(bound_sql, args)
        sql = f"{plan.select()} WHERE {lower}"
        if bound:
            sql += f" AND {cursor} <= {driver.param(len(args))}"
            args = [*args, bound[0][0]]
        rows = await driver.fetch(sql + f" ORDER BY {cursor}", args)
        if not rows:
            return
        position = [rows[-1][names.index(plan.cursor)]]
        yield Batch(
            [dict(zip(names, row, strict=False)) for row in rows], plan.checkpoint(position)
        )
        if not bound:
            return


async def _streamed(plan: ReadPlan, driver: SqlDriver) -> AsyncIterator[Batch]:
    """A stream with neither key nor cursor, through a server-side cursor (not resumable)."""
    names = plan.columns
    async for rows in driver.stream(plan.select(), plan.batch):
        yield Batch([dict(zip(names, row, strict=False)) for row in rows], None)

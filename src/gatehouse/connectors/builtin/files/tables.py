"""What every file format becomes: named tables of numbered rows, each a record or a reason."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from gatehouse.connectors.builtin.files.detect import bad_file

# (row, record) for a good row, (row, reason) for a malformed one; rows count from 1.
Row = tuple[int, dict[str, Any] | str]


def unknown() -> int | None:
    """A table whose row count is not known without reading it."""
    return None


@dataclass(frozen=True)
class Table:
    """One stream of a file: a CSV file, a JSON array, an Excel sheet."""

    name: str
    columns: tuple[str, ...] | None  # None when records name their own fields (JSON)
    rows: Callable[[], Iterator[Row]]
    count: Callable[[], int | None] = field(default=unknown)  # rows, when cheap to know


def header(file: str, where: str, cells: Sequence[Any]) -> tuple[str, ...]:
    """Column names from a header row: trimmed, blanks named column_N, duplicates refused."""
    names = []
    seen: dict[str, int] = {}
    for index, cell in enumerate(cells, start=1):
        name = str(cell).strip() if cell is not None else ""
        name = name or f"column_{index}"
        if name in seen:
            raise bad_file(
                file,
                f"{where}: columns {seen[name]} and {index} are both called {name!r}; "
                "rename one so each column maps to one field",
            )
        seen[name] = index
        names.append(name)
    return tuple(names)


def fit_row(columns: tuple[str, ...], cells: Sequence[Any]) -> dict[str, Any] | str:
    """A record from a row's cells, or why it does not fit the header (extra empty cells fit)."""
    width = len(columns)
    if len(cells) > width:
        extra = [c for c in cells[width:] if c not in ("", None)]
        if extra:
            return f"has {len(cells)} cells but the header names {width} columns"
        cells = cells[:width]
    elif len(cells) < width:
        return f"has {len(cells)} cells but the header names {width} columns"
    return dict(zip(columns, cells, strict=True))

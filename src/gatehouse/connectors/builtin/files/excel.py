"""Excel workbooks (xlsx, xlsm, xlsb, xls, ods) with python-calamine: one table per sheet."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from typing import Any

import python_calamine

from gatehouse.connectors.builtin.files.detect import ZIP, bad_file
from gatehouse.connectors.builtin.files.tables import Row, Table, fit_row, header

MAX_UNPACKED = 1024 * 1024 * 1024  # a workbook that unpacks past this is refused (zip bomb)


def excel_tables(name: str, data: bytes) -> list[Table]:
    """One table per sheet, in workbook order; the first non-empty row of each is its header."""
    if data.startswith(ZIP):
        _check_unpacked_size(name, data)
    try:
        workbook = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(data))
    except python_calamine.PasswordError:
        raise bad_file(name, "is password-protected; save a copy without a password") from None
    except Exception as exc:  # calamine raises several error types for unreadable files
        raise bad_file(name, f"is not a readable Excel workbook ({exc})") from None
    tables = []
    for sheet_name in workbook.sheet_names:
        try:
            cells = workbook.get_sheet_by_name(sheet_name).to_python(skip_empty_area=True)
        except Exception as exc:
            raise bad_file(name, f"sheet {sheet_name!r} cannot be read ({exc})") from None
        tables.append(_sheet(name, sheet_name, cells))
    return tables


def _check_unpacked_size(name: str, data: bytes) -> None:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except zipfile.BadZipFile as exc:
        raise bad_file(name, f"is a damaged workbook ({exc})") from None
    if unpacked > MAX_UNPACKED:
        raise bad_file(
            name, f"unpacks to {unpacked // 2**20} MiB, more than {MAX_UNPACKED // 2**20} MiB"
        )


def _sheet(name: str, sheet: str, cells: list[list[Any]]) -> Table:
    rows_with_data = [row for row in cells if any(c not in ("", None) for c in row)]
    if not rows_with_data:
        return Table(sheet, (), lambda: iter(()))
    columns = header(name, f"sheet {sheet!r}", [_value(c) for c in rows_with_data[0]])
    # Trailing empty header cells are not columns: calamine pads rows to the used width.
    while columns and columns[-1].startswith("column_") and not _used(rows_with_data, len(columns)):
        columns = columns[:-1]

    def rows() -> Iterator[Row]:
        for number, row in enumerate(rows_with_data[1:], start=1):
            fitted = fit_row(columns, [_value(c) for c in row])
            yield number, fitted if isinstance(fitted, dict) else f"sheet {sheet!r}: {fitted}"

    return Table(sheet, columns, rows, lambda: len(rows_with_data) - 1)


def _used(rows: list[list[Any]], width: int) -> bool:
    """Whether any row has a value in column `width` (1-based)."""
    return any(len(row) >= width and row[width - 1] not in ("", None) for row in rows)


def _value(cell: Any) -> Any:
    """A cell as JSON-ready data: whole numbers as integers, dates and times as ISO 8601."""
    if isinstance(cell, float) and cell.is_integer() and abs(cell) < 2**53:
        return int(cell)
    if isinstance(cell, datetime | date | time):
        return cell.isoformat()
    if isinstance(cell, timedelta):
        return cell.total_seconds()
    return cell

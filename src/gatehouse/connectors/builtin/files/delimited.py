"""CSV (and TSV): the delimiter from csv.Sniffer or a count, a header row, rows as text."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import PurePath

from gatehouse.connectors.builtin.files.detect import SAMPLE, bad_file
from gatehouse.connectors.builtin.files.tables import Row, Table, fit_row, header

DELIMITERS = ",;\t|"


def sniff_delimiter(sample: str) -> str:
    """The delimiter: csv.Sniffer's pick among , ; tab |, else the one most used on line one."""
    try:
        found = csv.Sniffer().sniff(sample, delimiters=DELIMITERS).delimiter
        if found in DELIMITERS:
            return found
    except csv.Error:
        pass
    first = sample.split("\n", 1)[0]
    counts = {d: first.count(d) for d in DELIMITERS}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def csv_table(
    name: str, content: str, *, delimiter: str | None = None, has_header: bool = True
) -> Table:
    """The one table of a CSV file; the header is read now, rows when iterated."""
    sep = delimiter or sniff_delimiter(content[:SAMPLE])
    reader = csv.reader(io.StringIO(content), delimiter=sep, strict=True)
    first = next((cells for cells in _rows_or_none(name, reader) if cells), None)
    if first is None:
        raise bad_file(name, "is empty: it has no header row")
    columns = (
        header(name, "the header row", first)
        if has_header
        else tuple(f"column_{i}" for i in range(1, len(first) + 1))
    )

    width = len(columns)

    def rows() -> Iterator[Row]:
        reader = csv.reader(io.StringIO(content), delimiter=sep, strict=True)
        number = 0
        skip_header = has_header
        while True:
            try:
                for cells in reader:
                    if len(cells) == width and not skip_header:
                        number += 1
                        yield number, dict(zip(columns, cells, strict=True))
                    elif not cells or (len(cells) == 1 and not cells[0].strip()):
                        continue  # a blank line
                    elif skip_header:
                        skip_header = False
                    else:
                        number += 1
                        fitted = fit_row(columns, cells)
                        yield (
                            number,
                            (
                                fitted
                                if isinstance(fitted, dict)
                                else f"line {reader.line_num}: {fitted}"
                            ),
                        )
                return
            except csv.Error as exc:  # the reader goes on with the next line
                number += 1
                yield number, f"line {reader.line_num}: malformed CSV ({exc})"

    def count() -> int | None:
        if '"' in content:  # a quoted cell may span lines: only reading tells
            return None
        lines = sum(1 for line in content.splitlines() if line.strip())
        return max(lines - has_header, 0)

    return Table(PurePath(name).stem or name, columns, rows, count)


def _rows_or_none(name: str, reader: Iterator[list[str]]) -> Iterator[list[str]]:
    """Rows until the header; a header that is not CSV is the file's error, not a row's."""
    try:
        yield from reader
    except csv.Error as exc:
        raise bad_file(name, f"the header row is not valid CSV ({exc})") from None

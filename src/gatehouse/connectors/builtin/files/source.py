"""A file opened as a source: its tables, discovered fields, and batches with row checkpoints."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import islice
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from gatehouse.connectors.builtin.files.delimited import csv_table
from gatehouse.connectors.builtin.files.detect import bad_file, decode, detect_format
from gatehouse.connectors.builtin.files.documents import json_tables, jsonl_table
from gatehouse.connectors.builtin.files.excel import excel_tables
from gatehouse.connectors.builtin.files.infer import guess_key, guess_kind, infer_fields
from gatehouse.connectors.builtin.files.tables import Table
from gatehouse.connectors.protocol import Batch, RecordError, SchemaChanged, StreamInfo

MAX_BYTES = 256 * 1024 * 1024
SAMPLE_ROWS = 1000
BATCH_SIZE = 2000


class FileOptions(BaseModel):
    """How to read a file; everything is detected when left out."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    format: Literal["auto", "csv", "json", "jsonl", "excel"] = "auto"
    encoding: str | None = Field(None, description="Text encoding; detected when left out.")
    delimiter: str | None = Field(
        None, min_length=1, max_length=1, description="CSV delimiter; detected when left out."
    )
    has_header: bool = Field(True, description="The CSV's first row names the columns.")
    records_path: str | None = Field(
        None, description="JSON: the dotted path to the array of records inside an object."
    )


@dataclass(frozen=True)
class FileSource:
    """The tables of one file, read from its bytes."""

    name: str
    format: str
    encoding: str | None
    digest: str  # sha256 of the bytes: a checkpoint of another file does not apply
    tables: dict[str, Table]

    def table(self, stream: str) -> Table:
        """The table called `stream`, or SchemaChanged naming the ones there are."""
        try:
            return self.tables[stream]
        except KeyError:
            known = ", ".join(repr(n) for n in self.tables) or "none"
            raise SchemaChanged(f"{self.name} has no stream {stream!r}; it has {known}") from None

    def fields(self, stream: str) -> tuple[str, ...]:
        """The stream's field names: its header, or the keys of a sample of its records."""
        table = self.table(stream)
        if table.columns is not None:
            return table.columns
        return _keys([r for _, r in islice(table.rows(), SAMPLE_ROWS) if isinstance(r, dict)])

    def selected(self, stream: str, wanted: Sequence[str]) -> tuple[str, ...]:
        """The fields a read keeps (all when none are named); SchemaChanged names a lost one."""
        if not wanted:
            return ()
        known = self.fields(stream)
        missing = [name for name in wanted if name not in known]
        if missing:
            raise SchemaChanged(
                f"{self.name}: stream {stream!r} has no field {', '.join(map(repr, missing))} "
                f"any more (it has {', '.join(known) or 'none'}); rediscover its schema and "
                "update the mapping"
            )
        return tuple(wanted)

    def discover(self) -> list[StreamInfo]:
        """Each table as a stream, with fields typed from a sample of its records."""
        streams = []
        for table in self.tables.values():
            sample = [r for _, r in islice(table.rows(), SAMPLE_ROWS) if isinstance(r, dict)]
            names = table.columns if table.columns is not None else _keys(sample)
            fields = infer_fields(names, sample)
            streams.append(
                StreamInfo(
                    name=table.name,
                    fields=fields,
                    primary_key=guess_key(fields, sample),
                    kind=guess_kind(names),
                )
            )
        return streams

    def batches(
        self,
        stream: str,
        state: Mapping[str, Any] | None = None,
        size: int = BATCH_SIZE,
    ) -> Iterator[Batch]:
        """Batches of `size` rows after the checkpoint `state` ({"row", "sha256"})."""
        table = self.table(stream)
        start = 0
        if state and state.get("sha256") == self.digest:
            start = int(state.get("row", 0))
        records: list[dict[str, Any]] = []
        rows: list[int] = []
        errors: list[RecordError] = []
        last = mark = start
        count = table.count()
        total = max(count - start, 0) if count is not None else None
        for number, row in islice(table.rows(), start, None):
            last = number
            if type(row) is dict:
                records.append(row)
                rows.append(number)
            else:
                errors.append(RecordError(number, str(row)))
            if number - mark >= size:
                yield Batch(records, {"row": last, "sha256": self.digest}, errors, rows, total)
                records, rows, errors = [], [], []
                mark = number
        if records or errors or last == start:
            yield Batch(records, {"row": last, "sha256": self.digest}, errors, rows, total)


def open_source(name: str, data: bytes, options: FileOptions | None = None) -> FileSource:
    """Open a file from its bytes (an upload or a file read by the caller); `name` gives hints."""
    options = options or FileOptions()
    if len(data) > MAX_BYTES:
        raise bad_file(name, f"is larger than {MAX_BYTES // 2**20} MiB; split it")
    if not data.strip():
        raise bad_file(name, "is empty")
    fmt = detect_format(name, data, options.format)
    digest = hashlib.sha256(data).hexdigest()
    if fmt == "excel":
        tables, encoding = excel_tables(name, data), None
    else:
        content, encoding = decode(name, data, options.encoding)
        if fmt == "csv":
            tables = [
                csv_table(name, content, delimiter=options.delimiter, has_header=options.has_header)
            ]
        elif fmt == "jsonl":
            tables = [jsonl_table(name, content)]
        else:
            tables = json_tables(name, content, options.records_path)
    return FileSource(name, fmt, encoding, digest, {t.name: t for t in tables})


def _keys(sample: list[dict[str, Any]]) -> tuple[str, ...]:
    """Field names in the order the records first use them."""
    return tuple(dict.fromkeys(key for record in sample for key in record))

"""Synthetic source data written as files: CSV, JSON lines or SQL, one file per source."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import orjson

from gatehouse.identity.synthetic import SyntheticOrg

SOURCES = ("hr", "okta", "ldap")
FORMATS = ("csv", "json", "sql")


def _sql_literal(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


def write_source(records: list[dict[str, Any]], path: Path, fmt: str, table: str) -> None:
    """Write one source's records in the chosen format."""
    columns = sorted({key for record in records for key in record})
    if fmt == "csv":
        with path.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=columns)
            writer.writeheader()
            writer.writerows(records)
    elif fmt == "json":
        with path.open("wb") as handle:
            for record in records:
                handle.write(orjson.dumps(record) + b"\n")
    else:
        with path.open("w") as handle:
            handle.write(f"CREATE TABLE {table} ({', '.join(f'{c} TEXT' for c in columns)});\n")
            for record in records:
                values = ", ".join(_sql_literal(record.get(c)) for c in columns)
                # Names are our own constants; every value goes through _sql_literal.
                line = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({values});\n"  # noqa: S608
                handle.write(line)


def write_files(org: SyntheticOrg, directory: Path, fmt: str) -> list[Path]:
    """Write every source plus the groups; returns the files written."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}")
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for source in SOURCES:
        path = directory / f"{source}.{'jsonl' if fmt == 'json' else fmt}"
        write_source(org.source_records(source), path, fmt, f"{source}_people")
        written.append(path)
    groups = [
        {"name": g.name, "parent": g.parent, "members": " ".join(g.members)} for g in org.groups
    ]
    path = directory / f"groups.{'jsonl' if fmt == 'json' else fmt}"
    write_source(groups, path, fmt, "groups")
    written.append(path)
    return written

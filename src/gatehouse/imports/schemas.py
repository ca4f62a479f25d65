"""What an import takes (options beside the file and the mapping) and what it answers."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from gatehouse.connectors.builtin.files import FileOptions
from gatehouse.identity.ingest import Existing

Mode = Literal["all_or_nothing", "best_effort"]
SOURCE_PATTERN = r"^[^\x00-\x1f\x7f]+$"  # printable: it names the source in links and audit


class ImportOptions(FileOptions):
    """How to import a file: how to read it (detected when left out) and how to write it."""

    mode: Mode = Field(
        "all_or_nothing",
        description="all_or_nothing: one transaction, any error and nothing is written; "
        "best_effort: bad rows are reported and the rest written.",
    )
    duplicates: Existing = Field(
        "update",
        description="Records the store already has (linked from this source or matched by "
        "correlation), or an id repeated in the file: update (merge), skip, or fail.",
    )
    source: str | None = Field(
        None,
        min_length=1,
        max_length=64,
        pattern=SOURCE_PATTERN,
        description="The name records are linked under; default `import:<file name>`.",
    )
    dry_run: bool = Field(False, description="Report what would change; write nothing.")

    def file_options(self) -> FileOptions:
        """The options that say how to read the file."""
        return FileOptions.model_validate(self.model_dump(include=set(FileOptions.model_fields)))


class FileOut(BaseModel):
    """The file that was imported."""

    name: str
    size: int = Field(description="Bytes.")
    sha256: str
    format: str = Field(description="csv, json, jsonl or excel")
    encoding: str | None = Field(description="The text encoding read (none for workbooks).")


class StreamOut(BaseModel):
    """A stream (a CSV file, a JSON array, an Excel sheet) the mapping imported."""

    name: str
    kind: str = Field(description="identity, group, membership or resource")
    rows: int = Field(description="Rows read, malformed ones included.")


class RowError(BaseModel):
    """One problem with one row; never a value from the file."""

    row: int | None = Field(description="The row in its stream, counting data rows from 1.")
    stream: str
    field: str | None = Field(description="The target field, when the problem is one field's.")
    reason: str


class ImportOut(BaseModel):
    """What an import did (or, on a dry run, would do)."""

    run_id: str = Field(description="The sync run that records it (GET /pip/import/runs/{id}).")
    status: Literal["succeeded", "failed"]
    error: str | None = Field(description="Why the import failed, and what to do.")
    written: bool = Field(description="Whether anything was written to the store.")
    dry_run: bool
    mode: Mode
    duplicates: Existing
    source: str = Field(description="The name the records are linked under.")
    file: FileOut
    streams: list[StreamOut]
    counts: dict[str, dict[str, int]] = Field(
        description="Per kind, what was written (created, updated, linked) and seen (skipped, "
        "unchanged, errors, read, filtered, ambiguous, conflicts where they apply)."
    )
    would_write: dict[str, dict[str, int]] | None = Field(
        None,
        description="When nothing was written (a dry run, or an all-or-nothing import that "
        "failed): what the import would have written.",
    )
    errors: list[RowError] = Field(description="Row-level problems, the first 1,000.")
    errors_total: int = Field(description="Every row-level problem, listed or not.")


def form_schema() -> dict[str, Any]:
    """The OpenAPI request body of POST /pip/import (read by hand, after authentication)."""
    options = ImportOptions.model_json_schema()["properties"]
    fields: dict[str, Any] = {
        "file": {
            "type": "string",
            "format": "binary",
            "description": "The CSV, JSON or Excel file.",
        },
        "mapping": {
            "type": "string",
            "description": 'JSON: {"streams": {"<stream or sheet>": <transform>}}, or one '
            "transform for a file with one stream (see docs/transform.md).",
        },
    }
    for name, spec in options.items():
        plain = {k: v for k, v in spec.items() if k not in ("anyOf", "default", "title")}
        kinds = [s for s in spec.get("anyOf", []) if s.get("type") != "null"]
        fields[name] = {**(kinds[0] if kinds else {}), **plain}
    return {
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["file", "mapping"],
                        "properties": fields,
                    }
                }
            },
        }
    }

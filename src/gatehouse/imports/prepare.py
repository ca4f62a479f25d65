"""An upload made ready to import: its name cleaned, the file opened, the mapping compiled."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from pydantic import ValidationError

from gatehouse.connections.mapping import transform_errors
from gatehouse.connectors.builtin.files import FileSource, open_source
from gatehouse.connectors.protocol import ConnectorError
from gatehouse.imports.schemas import ImportOptions
from gatehouse.kit.problems import Problem
from gatehouse.sync.mapping import stream_transform
from gatehouse.sync.plan import StreamPlan

UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f]")
MAX_NAME = 200


@dataclass(frozen=True)
class Prepared:
    """A file opened and its mapping compiled against it: ready to import."""

    source: FileSource
    size: int
    plans: list[StreamPlan]
    options: ImportOptions

    @property
    def link_source(self) -> str:
        """The name records are linked under: the `source` option or `import:<file name>`."""
        return self.options.source or f"import:{self.source.name}"[:64]


def file_name(raw: str | None) -> str:
    """An upload's file name without any folder, printable, at most 200 characters."""
    name = PurePosixPath((raw or "").replace("\\", "/")).name
    name = UNPRINTABLE.sub("", name).strip()[-MAX_NAME:]
    return name if name not in ("", ".", "..") else "upload"


def too_large(size: int, limit: int) -> Problem:
    """The 413 for a file over GATEHOUSE_IMPORT_MAX_BYTES."""
    return Problem(
        413,
        f"The file is {size} bytes; imports take at most {limit} bytes "
        "(GATEHOUSE_IMPORT_MAX_BYTES). Split the file, or raise the limit.",
    )


def options_of(fields: dict[str, Any]) -> ImportOptions:
    """Validated options; a 422 naming each wrong or unknown one."""
    try:
        return ImportOptions.model_validate(fields)
    except ValidationError as exc:
        errors = [
            {"field": ".".join(map(str, e["loc"])) or "options", "message": e["msg"]}
            for e in exc.errors()
        ]
        raise Problem(422, "Some import options are wrong; see errors.", errors=errors) from None


def prepare(
    name: str, data: bytes, mapping: Any, options: ImportOptions, max_bytes: int
) -> Prepared:
    """Open the file and fit the mapping to it; a 413 or 422 says what is wrong.

    CPU-bound on large files (decoding, hashing, parsing workbooks): run it in a thread.
    """
    if len(data) > max_bytes:
        raise too_large(len(data), max_bytes)
    try:
        source = open_source(name, data, options.file_options())
    except ConnectorError as exc:
        raise Problem(422, f"The file cannot be imported: {exc}.") from None
    return Prepared(source, len(data), stream_plans(source, mapping), options)


def stream_plans(source: FileSource, mapping: Any) -> list[StreamPlan]:
    """One plan per stream the mapping names; a 422 listing every problem otherwise."""
    streams, where = _streams(source, mapping)
    errors: list[dict[str, str]] = []
    for name, spec in streams.items():
        at = where.format(name=name)
        if name not in source.tables:
            known = ", ".join(repr(n) for n in source.tables)
            errors.append(
                {"field": at, "message": f"the file has no stream {name!r}; it has {known}"}
            )
        elif not isinstance(spec, dict):
            errors.append({"field": at, "message": "must be a transform object"})
        else:
            errors += transform_errors(at, spec, source.table(name).columns)
    if errors:
        count = len(errors)
        raise Problem(
            422,
            f"The mapping has {count} problem{'s' * (count != 1)}; see errors.",
            errors=errors,
        )
    return [
        StreamPlan(name, str(spec["kind"]), stream_transform(spec), on_error="skip")
        for name, spec in streams.items()
    ]


def _streams(source: FileSource, mapping: Any) -> tuple[dict[str, Any], str]:
    """The transform of each stream, and how to name one in errors."""

    def bad(message: str) -> Problem:
        return Problem(422, message, errors=[{"field": "mapping", "message": message}])

    if not isinstance(mapping, dict) or not mapping:
        raise bad('The mapping must be a JSON object: one transform, or {"streams": {...}}.')
    if "streams" not in mapping:
        if len(source.tables) != 1:
            names = ", ".join(repr(n) for n in source.tables) or "none"
            raise bad(
                f"The file has several streams ({names}): give a transform for each one to "
                'import, as {"streams": {"<stream>": {...}}}.'
            )
        return {next(iter(source.tables)): mapping}, "mapping"
    if set(mapping) != {"streams"} or not isinstance(mapping["streams"], dict):
        raise bad('Give {"streams": {"<stream>": <transform>, ...}} and nothing else beside it.')
    if not mapping["streams"]:
        raise bad("The mapping names no stream: give a transform for at least one.")
    return mapping["streams"], "mapping.streams.{name}"

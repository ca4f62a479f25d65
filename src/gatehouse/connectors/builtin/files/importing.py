"""File import without a store: open the bytes, read a stream, yield transformed batches."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from gatehouse.connectors.builtin.files.detect import bad_file
from gatehouse.connectors.builtin.files.source import BATCH_SIZE, FileOptions, open_source
from gatehouse.connectors.transform import TransformedBatch, compile_mapping
from gatehouse.connectors.transform.pipeline import Strategy


def import_batches(
    name: str,
    data: bytes,
    mapping: Mapping[str, Any],
    *,
    stream: str | None = None,
    options: FileOptions | None = None,
    state: Mapping[str, Any] | None = None,
    on_error: Strategy | None = None,
    batch_size: int = BATCH_SIZE,
) -> Iterator[TransformedBatch]:
    """Transformed batches of one stream of a file (the only one, or `stream`), with checkpoints.

    Raises MappingError for a bad mapping and ConnectorError for a file that cannot be read
    at once; with on_error="fail", the iterator raises TransformFailed at the first bad row.
    """
    pipeline = compile_mapping(mapping)
    source = open_source(name, data, options)
    if stream is None:
        if len(source.tables) != 1:
            raise bad_file(name, f"has streams {', '.join(source.tables)}: choose one")
        stream = next(iter(source.tables))
    source.table(stream)  # an unknown stream fails now, not at the first batch
    return pipeline.batches(source.batches(stream, state, batch_size), on_error)

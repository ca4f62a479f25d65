"""The mapping of a connection: selected streams and fields, sensitivity, sync mode, transform."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from gatehouse.connectors.protocol import (
    FieldInfo,
    Selection,
    Sensitivity,
    StreamInfo,
    SyncMode,
)
from gatehouse.connectors.transform import MappingError, compile_mapping

NAME = Field(min_length=1, max_length=200)


class StreamMapping(BaseModel):
    """What to take from one stream and how."""

    model_config = ConfigDict(extra="forbid")

    fields: list[str] = Field(
        default_factory=list, max_length=1000, description="Fields to read (empty: all)."
    )
    sensitivity: dict[str, Sensitivity] = Field(
        default_factory=dict, description="Per-field level, overriding the suggested one."
    )
    sync_mode: SyncMode = SyncMode.full_refresh
    cursor_field: str | None = Field(
        None,
        max_length=200,
        description="Incremental: the column to follow (default: the first cursor candidate).",
    )
    primary_key: list[str] = Field(
        default_factory=list, max_length=16, description="Override of the stream's own key."
    )
    transform: dict[str, Any] = Field(
        default_factory=dict, description="The transformation pipeline for this stream."
    )


class Mapping(BaseModel):
    """Streams to sync, by name."""

    model_config = ConfigDict(extra="forbid")

    streams: dict[str, StreamMapping] = Field(default_factory=dict, max_length=500)


def validate_mapping(mapping: Mapping, streams: Sequence[StreamInfo]) -> list[dict[str, str]]:
    """Every way `mapping` does not fit the discovered `streams` (empty when it fits).

    The one place mapping rules live: checks of the `transform` object belong here too.
    """
    known = {s.name: s for s in streams}
    errors: list[dict[str, str]] = []

    def bad(where: str, message: str) -> None:
        errors.append({"field": where, "message": message})

    for name, chosen in mapping.streams.items():
        where = f"streams.{name}"
        info = known.get(name)
        if info is None:
            bad(where, f"no stream {name!r}; discovered: {', '.join(sorted(known)) or 'none'}")
            continue
        fields = {f.name for f in info.fields}
        for group, names in (
            ("fields", chosen.fields),
            ("sensitivity", list(chosen.sensitivity)),
            ("primary_key", chosen.primary_key),
        ):
            for field in names:
                if field not in fields:
                    bad(f"{where}.{group}", f"stream {name!r} has no field {field!r}")
        if chosen.cursor_field is not None and chosen.cursor_field not in fields:
            bad(f"{where}.cursor_field", f"stream {name!r} has no field {chosen.cursor_field!r}")
        if chosen.sync_mode not in info.supported_modes:
            bad(
                f"{where}.sync_mode",
                f"stream {name!r} supports {', '.join(m.value for m in info.supported_modes)}",
            )
        if (
            chosen.sync_mode is SyncMode.incremental
            and chosen.cursor_field is None
            and not info.cursor_candidates
        ):
            bad(f"{where}.cursor_field", "incremental reads need a cursor field")
        if chosen.transform:
            errors += transform_errors(
                f"{where}.transform", chosen.transform, chosen.fields or fields
            )
    return errors


def transform_errors(
    where: str, spec: dict[str, Any], fields: Iterable[str] | None
) -> list[dict[str, str]]:
    """Every problem of a stream's transform, and every field it reads that the stream lacks.

    `fields` None: the stream's records name their own fields (JSON), so any may be read.
    """
    try:
        pipeline = compile_mapping(spec)
    except MappingError as exc:
        return [
            {"field": f"{where}.{p.path}".rstrip("."), "message": p.message} for p in exc.problems
        ]
    if fields is None:
        return []
    available = set(fields)
    return [
        {"field": where, "message": f"the transform reads {name!r}, which the stream does not have"}
        for name in sorted(pipeline.reads - available)
    ]


def selection(chosen: StreamMapping) -> Selection:
    """What a read of this stream must return."""
    return Selection(
        fields=tuple(chosen.fields),
        cursor_field=chosen.cursor_field,
        primary_key=tuple(chosen.primary_key),
    )


def stream_doc(info: StreamInfo) -> dict[str, Any]:
    """A discovered stream as JSON."""
    return {
        "name": info.name,
        "fields": [
            {
                "name": f.name,
                "type": f.type,
                "format": f.format,
                "nullable": f.nullable,
                "sensitivity": f.sensitivity.value,
            }
            for f in info.fields
        ],
        "primary_key": list(info.primary_key),
        "cursor_candidates": list(info.cursor_candidates),
        "kind": info.kind,
        "supported_modes": [m.value for m in info.supported_modes],
    }


def stream_info(doc: dict[str, Any]) -> StreamInfo:
    """A stored stream back as a StreamInfo."""
    return StreamInfo(
        name=doc["name"],
        fields=tuple(
            FieldInfo(
                f["name"], f["type"], f["nullable"], f.get("format"), Sensitivity(f["sensitivity"])
            )
            for f in doc["fields"]
        ),
        primary_key=tuple(doc.get("primary_key") or ()),
        cursor_candidates=tuple(doc.get("cursor_candidates") or ()),
        kind=doc.get("kind"),
        supported_modes=tuple(SyncMode(m) for m in doc.get("supported_modes") or ("full_refresh",)),
    )

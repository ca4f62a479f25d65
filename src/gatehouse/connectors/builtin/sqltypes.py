"""Column types to JSON Schema, cursor and kind suggestions, and checkpoint value encoding."""

from __future__ import annotations

import re
import uuid
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from sqlalchemy import types as sqltypes

from gatehouse.connectors.protocol import FieldInfo, StreamInfo, SyncMode
from gatehouse.connectors.sensitivity import suggest

JsonType = tuple[str, str | None]

# Type names as drivers report them for query results (PostgreSQL type names, MySQL field types).
_BY_NAME: dict[str, JsonType] = {
    **dict.fromkeys(
        (
            "int2",
            "int4",
            "int8",
            "oid",
            "smallint",
            "integer",
            "bigint",
            "tiny",
            "short",
            "long",
            "longlong",
            "int24",
            "year",
            "int",
        ),
        ("integer", None),
    ),
    **dict.fromkeys(
        (
            "float4",
            "float8",
            "numeric",
            "money",
            "decimal",
            "newdecimal",
            "float",
            "double",
            "real",
        ),
        ("number", None),
    ),
    **dict.fromkeys(("bool", "boolean", "bit"), ("boolean", None)),
    **dict.fromkeys(("timestamp", "timestamptz", "datetime"), ("string", "date-time")),
    **dict.fromkeys(("date", "newdate"), ("string", "date")),
    **dict.fromkeys(("time", "timetz"), ("string", "time")),
    "interval": ("string", "duration"),
    "uuid": ("string", "uuid"),
    **dict.fromkeys(("json", "jsonb"), ("object", None)),
    **dict.fromkeys(("bytea", "blob", "tiny_blob", "medium_blob", "long_blob"), ("string", "byte")),
}
_CURSOR_NAME = re.compile(
    r"(updat|modif|chang|last_?seen|sync|version|seq|revision|rowversion|timestamp|_at$|_ts$)",
    re.IGNORECASE,
)
_PREFERRED_CURSOR = re.compile(r"(updat|modif|chang)", re.IGNORECASE)
_KINDS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("membership", re.compile(r"(member|_groups$|^user_?groups|_roles$|assignment)", re.I)),
    ("group", re.compile(r"^(groups?|teams?|roles?|departments?|org_?units?|units?)$", re.I)),
    (
        "identity",
        re.compile(r"^(users?|people|persons?|employees?|staff|accounts?|workers?|identit)", re.I),
    ),
)


def json_type(column_type: Any) -> JsonType:
    """The JSON Schema type and format of an SQLAlchemy column type."""
    checks: tuple[tuple[type[Any], JsonType], ...] = (
        (sqltypes.Boolean, ("boolean", None)),
        (sqltypes.Integer, ("integer", None)),
        (sqltypes.Numeric, ("number", None)),
        (sqltypes.DateTime, ("string", "date-time")),
        (sqltypes.Date, ("string", "date")),
        (sqltypes.Time, ("string", "time")),
        (sqltypes.Interval, ("string", "duration")),
        (sqltypes.Uuid, ("string", "uuid")),
        (sqltypes.JSON, ("object", None)),
        (sqltypes.ARRAY, ("array", None)),
        (sqltypes._Binary, ("string", "byte")),
    )
    for kind, found in checks:
        if isinstance(column_type, kind):
            return found
    return by_name(type(column_type).__name__) or ("string", None)


def by_name(name: str) -> JsonType | None:
    """The JSON Schema type of a type name a driver reports, when known."""
    return _BY_NAME.get(name.lower())


def by_value(value: Any) -> JsonType:
    """The JSON Schema type of a sample value (SQLite reports no types for query results)."""
    if isinstance(value, bool):
        return ("boolean", None)
    if isinstance(value, int):
        return ("integer", None)
    if isinstance(value, float | Decimal):
        return ("number", None)
    if isinstance(value, datetime):
        return ("string", "date-time")
    if isinstance(value, date):
        return ("string", "date")
    if isinstance(value, bytes):
        return ("string", "byte")
    return ("string", None)


def field(name: str, found: JsonType, nullable: bool) -> FieldInfo:
    """A discovered field with its suggested sensitivity."""
    return FieldInfo(name, found[0], nullable, found[1], suggest(name))


def stream(name: str, fields: list[FieldInfo], primary_key: tuple[str, ...]) -> StreamInfo:
    """A stream with cursor candidates, a suggested kind and the modes it supports."""
    cursors = cursor_candidates(fields, primary_key)
    modes = (SyncMode.full_refresh, SyncMode.incremental) if cursors else (SyncMode.full_refresh,)
    return StreamInfo(name, tuple(fields), primary_key, cursors, suggest_kind(name), modes)


def cursor_candidates(fields: list[FieldInfo], primary_key: tuple[str, ...]) -> tuple[str, ...]:
    """Columns an incremental read can follow: change timestamps first, then counters."""
    scored: list[tuple[int, str]] = []
    for f in fields:
        temporal = f.format in ("date-time", "date")
        named = bool(_CURSOR_NAME.search(f.name))
        if temporal and named:
            scored.append((0 if _PREFERRED_CURSOR.search(f.name) else 1, f.name))
        elif f.type == "integer" and named:
            scored.append((2, f.name))
        elif f.type == "integer" and (f.name,) == primary_key:
            scored.append((3, f.name))  # append-only tables grow by key
    return tuple(name for _, name in sorted(scored, key=lambda item: item[0]))


def suggest_kind(name: str) -> str | None:
    """What a stream probably holds, from its name: identity, group or membership."""
    bare = name.rsplit(".", 1)[-1]
    for kind, pattern in _KINDS:
        if pattern.search(bare):
            return kind
    return None


def encode_value(value: Any) -> Any:
    """A key or cursor value as JSON for a checkpoint, tagged so it reads back as its type."""
    if isinstance(value, datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, date):
        return {"$date": value.isoformat()}
    if isinstance(value, time):
        return {"$time": value.isoformat()}
    if isinstance(value, Decimal):
        return {"$decimal": str(value)}
    if isinstance(value, uuid.UUID):
        return {"$uuid": str(value)}
    if isinstance(value, bytes):
        return {"$bytes": value.hex()}
    return value


def decode_value(value: Any) -> Any:
    """A checkpoint value back as the Python value the driver binds."""
    if not isinstance(value, dict) or len(value) != 1:
        return value
    ((tag, text),) = value.items()
    decoders = {
        "$datetime": datetime.fromisoformat,
        "$date": date.fromisoformat,
        "$time": time.fromisoformat,
        "$decimal": Decimal,
        "$uuid": uuid.UUID,
        "$bytes": bytes.fromhex,
    }
    decoder = decoders.get(tag)
    return decoder(text) if decoder else value

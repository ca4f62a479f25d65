"""Field types and keys guessed from a sample of records, for `discover`."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from gatehouse.connectors.protocol import FieldInfo
from gatehouse.connectors.sensitivity import suggest
from gatehouse.connectors.transform.normalize import FALSE_WORDS, TRUE_WORDS

_INTEGER = re.compile(r"[+-]?\d{1,18}")
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_KEY_NAMES = re.compile(
    r"^(id|uuid|guid|key|external_?id|employee_?(id|number)|user_?id|login)$", re.I
)
_BOOLEAN_WORDS = {w for w in TRUE_WORDS | FALSE_WORDS if not w.isdigit()}


def _text_type(value: str) -> tuple[str, str | None]:
    """JSON Schema type and format of a text value."""
    if _INTEGER.fullmatch(value):
        return "integer", None
    if _NUMBER.fullmatch(value):
        return "number", None
    if value.lower() in _BOOLEAN_WORDS:
        return "boolean", None
    if _EMAIL.fullmatch(value):
        return "string", "email"
    if _UUID.fullmatch(value):
        return "string", "uuid"
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return "string", None
    is_date = len(value) <= 10 and parsed == datetime(parsed.year, parsed.month, parsed.day)
    return "string", "date" if is_date else "date-time"


def _value_type(value: Any) -> tuple[str, str | None]:
    if isinstance(value, bool):
        return "boolean", None
    if isinstance(value, int):
        return "integer", None
    if isinstance(value, float):
        return "number", None
    if isinstance(value, dict):
        return "object", None
    if isinstance(value, list):
        return "array", None
    if isinstance(value, datetime | date):
        return "string", "date-time" if isinstance(value, datetime) else "date"
    return _text_type(str(value))


def _merge(types: set[tuple[str, str | None]]) -> tuple[str, str | None]:
    """One type for all the values seen: integers widen to numbers, anything else to text."""
    if len(types) == 1:
        return next(iter(types))
    kinds = {kind for kind, _ in types}
    if kinds <= {"integer", "number"}:
        return "number", None
    return "string", None


def infer_fields(names: Sequence[str], sample: Sequence[dict[str, Any]]) -> tuple[FieldInfo, ...]:
    """Each field's type, format, nullability and suggested sensitivity from the sample."""
    fields = []
    for name in names:
        values = [record.get(name) for record in sample]
        present = [v for v in values if v not in (None, "")]
        kind, fmt = _merge({_value_type(v) for v in present}) if present else ("string", None)
        fields.append(
            FieldInfo(
                name=name,
                type=kind,
                nullable=len(present) < len(values) or not values,
                format=fmt,
                sensitivity=suggest(name),
            )
        )
    return tuple(fields)


def guess_key(fields: Sequence[FieldInfo], sample: Sequence[dict[str, Any]]) -> tuple[str, ...]:
    """A field that looks like an id and is present and unique in the sample, if any."""
    for info in fields:
        if not _KEY_NAMES.match(info.name):
            continue
        values = [record.get(info.name) for record in sample]
        if values and None not in values and "" not in values:
            keys = [str(v) for v in values]
            if len(set(keys)) == len(keys):
                return (info.name,)
    return ()


def guess_kind(names: Sequence[str]) -> str | None:
    """The kind of record a stream's fields suggest."""
    lowered = {n.lower() for n in names}
    if lowered & {
        "user_name",
        "username",
        "login",
        "email",
        "mail",
        "given_name",
        "employee_number",
    }:
        return "identity"
    if lowered & {"members", "member"} and lowered & {"group", "name", "cn", "display_name"}:
        return "group"
    return None

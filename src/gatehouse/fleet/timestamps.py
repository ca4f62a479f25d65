"""RFC 3339 timestamps as Go's encoding/json writes them (nanoseconds, `Z`, zero time)."""

from __future__ import annotations

from datetime import UTC, datetime

# Go's zero time.Time (a timestamp OPA never set) marshals as this; it means "never".
GO_ZERO_YEAR = 1


def parse_rfc3339(value: str) -> datetime:
    """An aware datetime (fractions past microseconds dropped); ValueError when not RFC 3339."""
    if len(value) < 20 or value[10] not in "Tt ":
        raise ValueError("not an RFC 3339 date-time")
    parsed = datetime.fromisoformat(value.upper())  # RFC 3339 allows `t` and `z`
    if parsed.tzinfo is None:
        raise ValueError("an RFC 3339 date-time needs a zone (`Z` or an offset)")
    return parsed.astimezone(UTC)


def optional_time(value: datetime | None) -> datetime | None:
    """None for Go's zero time, which OPA sends for events that never happened."""
    if value is None or value.year == GO_ZERO_YEAR:
        return None
    return value


def rfc3339(value: datetime) -> str:
    """A UTC timestamp in the form OPA writes (`2018-01-01T00:00:00.123456Z`)."""
    text = value.astimezone(UTC).isoformat()
    return text.removesuffix("+00:00") + "Z"

"""Dates and date-times to ISO 8601: given input formats, a source time zone, UTC out."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from gatehouse.connectors.transform.errors import Invalid
from gatehouse.connectors.transform.normalize import Step, per_item, text

# Formats beyond strptime patterns: seconds or milliseconds since 1970-01-01 UTC.
EPOCH_FORMATS = {"unix": 1.0, "unix_ms": 1000.0}


def zone(name: str) -> tzinfo:
    """The IANA time zone `name` (UTC for "UTC"); raises ValueError for an unknown name."""
    if name.upper() == "UTC":
        return UTC
    try:
        return ZoneInfo(name)
    except (ValueError, OSError, LookupError):
        raise ValueError(
            f"unknown time zone {name!r}; use an IANA name like Europe/Berlin"
        ) from None


# Numeric strptime directives parsed by a regular expression: strptime costs ~6 µs a call.
_DIRECTIVES = {
    "Y": r"(?P<year>\d{4})",
    "y": r"(?P<year2>\d{2})",
    "m": r"(?P<month>\d{1,2})",
    "d": r"(?P<day>\d{1,2})",
    "H": r"(?P<hour>\d{1,2})",
    "M": r"(?P<minute>\d{1,2})",
    "S": r"(?P<second>\d{1,2})",
    "f": r"(?P<fraction>\d{1,6})",
    "%": "%",
}


def _fast_format(fmt: str) -> Callable[[str], datetime] | None:
    """A parser for a numeric-only format, or None when strptime must do it."""
    pattern, position = [], 0
    while position < len(fmt):
        char = fmt[position]
        if char != "%":
            pattern.append(re.escape(char))
            position += 1
            continue
        directive = _DIRECTIVES.get(fmt[position + 1 : position + 2])
        if directive is None or (directive != "%" and directive in pattern):
            return None
        pattern.append(directive)
        position += 2
    compiled = re.compile("".join(pattern))
    names = list(compiled.groupindex)
    if "year" not in names and "year2" not in names:
        return None
    if "year2" in names or "fraction" in names:
        return lambda raw: _from_parts(compiled, raw)
    # Plain numeric parts: index each datetime argument into groups() + ("1", "0").
    missing = {"month": 1, "day": 1, "hour": 0, "minute": 0, "second": 0}
    width = len(names)
    at = [
        names.index(part) if part in names else width + (0 if missing[part] else 1)
        for part in ("year", "month", "day", "hour", "minute", "second")
    ]
    y, mo, d, h, mi, s = at

    def parse(raw: str) -> datetime:
        match = compiled.fullmatch(raw)
        if match is None:
            raise ValueError(raw)
        g = (*match.groups(), "1", "0")
        return datetime(int(g[y]), int(g[mo]), int(g[d]), int(g[h]), int(g[mi]), int(g[s]))

    return parse


def _from_parts(compiled: re.Pattern[str], raw: str) -> datetime:
    """A date-time from a match with two-digit years or fractions of a second."""
    match = compiled.fullmatch(raw)
    if match is None:
        raise ValueError(raw)
    parts = match.groupdict()
    year = parts.get("year") or _century(parts["year2"])
    return datetime(
        int(year),
        int(parts.get("month") or 1),
        int(parts.get("day") or 1),
        int(parts.get("hour") or 0),
        int(parts.get("minute") or 0),
        int(parts.get("second") or 0),
        int((parts.get("fraction") or "0").ljust(6, "0")),
    )


def _century(two_digits: str) -> str:
    """Two-digit years as strptime reads them: 69-99 are 1900s, 00-68 are 2000s."""
    return ("19" if int(two_digits) >= 69 else "20") + two_digits


# Formats that ISO 8601 parsing reads too: datetime.fromisoformat (C) tries them first.
_ISO_LIKE = {
    f"%Y-%m-%d{sep}%H:%M{rest}" for sep in ("T", " ") for rest in ("", ":%S", ":%S.%f")
} | {"%Y-%m-%d"}


def _strptime(fmt: str) -> Callable[[str], datetime | date]:
    scale = EPOCH_FORMATS.get(fmt)
    if scale is not None:
        return lambda raw: datetime.fromtimestamp(float(raw) / scale, UTC)
    parse = _fast_format(fmt) or (lambda raw: datetime.strptime(raw, fmt))
    if fmt not in _ISO_LIKE:
        return parse

    def iso_first(raw: str) -> datetime | date:
        try:
            return datetime.fromisoformat(raw)
        except ValueError:
            return parse(raw)  # e.g. 2024-1-5, which strptime reads and ISO does not

    return iso_first


def _iso(raw: str, formats: Sequence[str]) -> datetime | date:
    try:
        return datetime.fromisoformat(raw)
    except ValueError:
        pass
    try:
        return date.fromisoformat(raw)
    except ValueError:
        expected = ", ".join(formats) + " or ISO 8601" if formats else "ISO 8601"
        raise Invalid(f"not a date in the expected format ({expected})") from None


def _parser(formats: Sequence[str]) -> Callable[[str], datetime | date]:
    """Parse text with each format in turn, then as ISO 8601 (so normal forms parse again)."""
    parsers = [_strptime(fmt) for fmt in formats]
    formats = tuple(formats)
    if len(parsers) == 1:
        only = parsers[0]

        def parse_one(raw: str) -> datetime | date:
            try:
                return only(raw)
            except (ValueError, OverflowError, OSError):
                return _iso(raw, formats)

        return parse_one

    def parse(raw: str) -> datetime | date:
        for parser in parsers:
            try:
                return parser(raw)
            except (ValueError, OverflowError, OSError):
                continue
        return _iso(raw, formats)

    return parse


def _moment(value: Any, parse: Callable[[str], datetime | date]) -> datetime | date:
    if type(value) is str:
        raw = value.strip()
    elif isinstance(value, datetime | date):
        return value
    elif isinstance(value, bool) or not isinstance(value, str | int | float):
        raise Invalid(f"expected a date, got {value.__class__.__name__}")
    else:
        raw = text(value)
    if not raw:
        raise Invalid("empty date")
    return parse(raw)


def to_date(formats: Sequence[str], source_zone: str | None) -> Step:
    """Dates to `YYYY-MM-DD`; a date-time with a zone is first moved into `source_zone`."""
    parse = _parser(formats)
    local = zone(source_zone) if source_zone else None

    def normalize(value: Any) -> str | None:
        if type(value) is str and value and not value[0].isspace() and not value[-1].isspace():
            moment = parse(value)
        elif value == "":
            return None
        else:
            moment = _moment(value, parse)
        if isinstance(moment, datetime):
            if local is not None and moment.tzinfo is not None:
                moment = moment.astimezone(local)
            moment = moment.date()
        return moment.isoformat()

    return per_item(normalize, normalize)


def to_datetime(formats: Sequence[str], source_zone: str | None) -> Step:
    """Date-times to UTC `YYYY-MM-DDTHH:MM:SS[.ffffff]Z`; naive ones are in `source_zone`."""
    parse = _parser(formats)
    local = zone(source_zone) if source_zone else UTC

    def normalize(value: Any) -> str | None:
        if type(value) is str and value and not value[0].isspace() and not value[-1].isspace():
            moment = parse(value)
        elif value == "":
            return None
        else:
            moment = _moment(value, parse)
        if not isinstance(moment, datetime):
            moment = datetime(moment.year, moment.month, moment.day)
        try:
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=local)
            if moment.tzinfo is not UTC:
                moment = moment.astimezone(UTC)
        except OverflowError:
            raise Invalid("the date-time is out of range after moving it to UTC") from None
        return moment.isoformat()[:-6] + "Z"  # drop the "+00:00" of an aware UTC time

    return per_item(normalize, normalize)

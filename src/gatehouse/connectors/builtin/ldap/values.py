"""Raw attribute values (lists of bytes) to JSON values: the per-entry hot path.

A converter is chosen once per attribute name (from the schema's syntax, single-value flag and
a few well-known names) and cached, so an entry costs one dict lookup and one call per attribute.
"""

from __future__ import annotations

import base64
import datetime
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from gatehouse.connectors.builtin.ldap import schema as syntaxes
from gatehouse.connectors.builtin.ldap.schema import Schema

Values = list[bytes]
Convert = Callable[[Values], Any]
Entry = tuple[str, dict[str, Values]]

FILETIME_ATTRIBUTES = frozenset(
    n.lower()
    for n in (
        "accountExpires",
        "pwdLastSet",
        "lastLogon",
        "lastLogonTimestamp",
        "lastLogoff",
        "badPasswordTime",
        "lockoutTime",
    )
)
_FILETIME_EPOCH = datetime.datetime(1601, 1, 1, tzinfo=datetime.UTC)
_FILETIME_NEVER = 0x7FFFFFFFFFFFFFFF
_times: dict[bytes, str | None] = {}


def text(raw: bytes) -> str:
    """A directory string (UTF-8; undecodable bytes as base64 rather than garbage)."""
    try:
        return raw.decode()
    except UnicodeDecodeError:
        return base64.b64encode(raw).decode()


def guid(raw: bytes) -> str:
    """An AD objectGUID (little-endian GUID bytes) as its canonical UUID string."""
    return str(uuid.UUID(bytes_le=raw)) if len(raw) == 16 else base64.b64encode(raw).decode()


def sid(raw: bytes) -> str:
    """A Windows security identifier as S-1-5-21-..."""
    if len(raw) < 8:
        return base64.b64encode(raw).decode()
    count = raw[1]
    authority = int.from_bytes(raw[2:8], "big")
    subs = [int.from_bytes(raw[8 + 4 * i : 12 + 4 * i], "little") for i in range(count)]
    return "-".join(["S", str(raw[0]), str(authority), *map(str, subs)])


def time_key(raw: bytes) -> str | None:
    """A GeneralizedTime as a sortable UTC key 'YYYYMMDDHHMMSS.ffffff', None if unreadable."""
    iso = generalized_time(raw)
    if iso is None:
        return None
    return (
        iso[0:4]
        + iso[5:7]
        + iso[8:10]
        + iso[11:13]
        + iso[14:16]
        + iso[17:19]
        + "."
        + (iso[20:26].ljust(6, "0") if len(iso) > 20 else "000000")
    )


def generalized_time(raw: bytes) -> str | None:
    """A GeneralizedTime (RFC 4517) as ISO-8601 UTC: 2024-03-01T12:00:00Z (with fraction if any)."""
    known = _times.get(raw, False)
    if known is not False:
        return known  # type: ignore[return-value]
    try:
        value = raw.decode("ascii")
        if len(value) == 15 and value[14] == "Z":  # the common case: YYYYMMDDHHMMSSZ
            iso: str | None = (
                f"{value[0:4]}-{value[4:6]}-{value[6:8]}T{value[8:10]}:{value[10:12]}:"
                f"{value[12:14]}Z"
            )
        else:
            iso = _parse_time(value)
    except (UnicodeDecodeError, ValueError):
        iso = None
    if len(_times) > 100_000:
        _times.clear()
    _times[raw] = iso
    return iso


def _parse_time(value: str) -> str:
    body, zone = value, datetime.UTC
    if value.endswith("Z"):
        body = value[:-1]
    elif len(value) > 5 and value[-5] in "+-":
        sign = 1 if value[-5] == "+" else -1
        offset = datetime.timedelta(hours=int(value[-4:-2]), minutes=int(value[-2:]))
        body, zone = value[:-5], datetime.timezone(sign * offset)
    whole, _, fraction = body.replace(",", ".").partition(".")
    whole = whole.ljust(14, "0")
    moment = datetime.datetime.strptime(whole, "%Y%m%d%H%M%S").replace(tzinfo=zone)
    if fraction:
        moment += datetime.timedelta(seconds=float("0." + fraction))
    moment = moment.astimezone(datetime.UTC)
    stamp = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if moment.microsecond:
        stamp += f".{moment.microsecond:06d}".rstrip("0")
    return stamp + "Z"


def filetime(raw: bytes) -> str | None:
    """An AD FILETIME (100 ns ticks since 1601) as ISO-8601 UTC; 0 and 'never' are None."""
    try:
        ticks = int(raw)
    except ValueError:
        return None
    if ticks <= 0 or ticks >= _FILETIME_NEVER:
        return None
    try:
        moment = _FILETIME_EPOCH + datetime.timedelta(microseconds=ticks // 10)
    except OverflowError:
        return None
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def integer(raw: bytes) -> int | str:
    """An INTEGER value (kept as text if a server sends something else)."""
    try:
        return int(raw)
    except ValueError:
        return text(raw)


def boolean(raw: bytes) -> bool:
    """A Boolean value: TRUE or FALSE."""
    return raw.upper() == b"TRUE"


def binary(raw: bytes) -> str:
    """Opaque bytes as base64."""
    return base64.b64encode(raw).decode()


def _single(one: Callable[[bytes], Any]) -> Convert:
    def convert(values: Values) -> Any:
        return one(values[0]) if values else None

    return convert


def _many(one: Callable[[bytes], Any]) -> Convert:
    def convert(values: Values) -> Any:
        return [one(v) for v in values]

    return convert


def _text_single(values: Values) -> Any:
    try:
        return values[0].decode() if values else None
    except UnicodeDecodeError:
        return text(values[0])


def _text_many(values: Values) -> Any:
    try:
        return [v.decode() for v in values]
    except UnicodeDecodeError:
        return [text(v) for v in values]


def value_kind(name: str, schema: Schema) -> tuple[Callable[[bytes], Any], str, str | None]:
    """How one value of attribute `name` converts, and its JSON Schema type and format."""
    low = name.split(";", 1)[0].lower()
    kind = schema.attribute(low)
    syntax = kind.syntax if kind else None
    if low == "objectguid" or (low.endswith("guid") and syntax in syntaxes.BINARY_SYNTAXES):
        return guid, "string", "uuid"
    if low == "objectsid" or low == "sidhistory":
        return sid, "string", None
    if low in FILETIME_ATTRIBUTES:
        return filetime, "string", "date-time"
    if syntax == syntaxes.SYNTAX_TIME:
        return generalized_time, "string", "date-time"
    if syntax in (syntaxes.SYNTAX_INTEGER, syntaxes.SYNTAX_LARGE_INTEGER):
        return integer, "integer", None
    if syntax == syntaxes.SYNTAX_BOOLEAN:
        return boolean, "boolean", None
    if syntax == syntaxes.SYNTAX_UUID:
        return text, "string", "uuid"
    if syntax in syntaxes.BINARY_SYNTAXES or ";binary" in name.lower():
        return binary, "string", "byte"
    return text, "string", None


def single_valued(name: str, schema: Schema, scalars: frozenset[str]) -> bool:
    """Whether records carry the attribute as one value rather than a list."""
    low = name.split(";", 1)[0].lower()
    kind = schema.attribute(low)
    return low in scalars or (kind is not None and kind.single)


def converter(name: str, schema: Schema, scalars: frozenset[str]) -> Convert:
    """The converter for all values of attribute `name`."""
    one = value_kind(name, schema)[0]
    single = single_valued(name, schema, scalars)
    if one is text:
        return _text_single if single else _text_many
    return _single(one) if single else _many(one)


def lowered(names: Iterable[str]) -> frozenset[str]:
    """Lower-case attribute names."""
    return frozenset(n.lower() for n in names)

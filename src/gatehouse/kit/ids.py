"""Time-ordered identifiers, so sorting by id is sorting by creation."""

from __future__ import annotations

import uuid_utils


def new_id() -> str:
    """A UUIDv7 string (RFC 9562: 48-bit millisecond time, then a counter and randomness)."""
    return str(uuid_utils.uuid7())


def new_ids(n: int) -> list[str]:
    """`n` UUIDv7 strings, in increasing order."""
    make = uuid_utils.uuid7
    return [str(make()) for _ in range(n)]


def new_hex() -> str:
    """A UUIDv7 as 32 hex digits (request ids)."""
    return uuid_utils.uuid7().hex

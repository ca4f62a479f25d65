"""Time-ordered identifiers, so sorting by id is sorting by creation."""

from __future__ import annotations

import os
import time


def new_id() -> str:
    """Return a UUIDv7 string (48-bit millisecond time, then randomness)."""
    millis = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (millis & ((1 << 48) - 1)) << 80 | rand & ((1 << 80) - 1)
    value = (value & ~(0xF << 76)) | (0x7 << 76)
    value = (value & ~(0x3 << 62)) | (0x2 << 62)
    h = f"{value:032x}"  # str(uuid.UUID(int=value)), without building the object
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

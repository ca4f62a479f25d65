"""Values no request may carry: a NUL character (PostgreSQL text and JSONB cannot hold one) and a
JSON integer outside 64 bits (orjson, which writes every JSON column, cannot; read back, orjson
turns one into a float).

`json_refusal` walks a JSON body once, iteratively (no recursion limit): one walker the JSON
nesting-depth check (kit/nesting.py) can later share.
"""

from __future__ import annotations

import json
import re
from typing import Any, NamedTuple
from urllib.parse import parse_qsl

# What orjson writes and reads back exactly: signed or unsigned 64-bit integers.
INT_MIN = -(2**63)
INT_MAX = 2**64 - 1
NUL = "\x00"
# An escaped NUL is `\u0000` after an odd number of backslashes (`\\u0000` is text).
NUL_ESCAPE = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")
# Integers outside 64 bits have 19 digits or more (JSON numbers have no leading zeros).
LONG_DIGITS = re.compile(rb"[0-9]{19}")


class Refusal(NamedTuple):
    """Where a refused value is (a JSON pointer, `path`, or `query parameter x`) and why."""

    where: str
    reason: str

    def message(self) -> str:
        """One sentence for the problem's detail."""
        return f"{self.where}: {self.reason}"


NUL_REASON = "contains a NUL character (\\u0000), which cannot be stored"
INT_REASON = f"integers must lie between {INT_MIN} and {INT_MAX} (64 bits)"


def pointer(parts: tuple[str | int, ...]) -> str:
    """The RFC 6901 JSON pointer of a location."""
    escaped = (str(p).replace("~", "~0").replace("/", "~1") for p in parts)
    return "/" + "/".join(escaped) if parts else "/"


def value_refusal(value: Any) -> Refusal | None:
    """The first NUL character or out-of-range integer in a parsed JSON value, or None."""
    stack: list[tuple[Any, tuple[str | int, ...]]] = [(value, ())]
    while stack:
        item, at = stack.pop()
        kind = type(item)
        if kind is str:
            if NUL in item:
                return Refusal(pointer(at), NUL_REASON)
        elif kind is int:
            if not INT_MIN <= item <= INT_MAX:
                return Refusal(pointer(at), INT_REASON)
        elif kind is dict:
            for key, child in reversed(item.items()):
                if NUL in key:
                    return Refusal(pointer((*at, key)), "a member name " + NUL_REASON)
                stack.append((child, (*at, key)))
        elif kind is list:
            stack.extend((child, (*at, index)) for index, child in reversed(list(enumerate(item))))
    return None


def json_refusal(body: bytes) -> Refusal | None:
    """The first refused value of a JSON body, or None (also for a body that is not JSON: the
    route that reads it says so). Bytes without a NUL escape or a 19-digit run are not parsed."""
    if not NUL_ESCAPE.search(body) and not LONG_DIGITS.search(body):
        return None
    try:
        value = json.loads(body)  # the standard library keeps integers of any size exactly
    except (ValueError, RecursionError):
        return None
    return value_refusal(value)


def text_refusal(path: str, query: bytes) -> Refusal | None:
    """A NUL character in a request's path or one of its query parameters, or None."""
    if NUL in path:
        return Refusal("path", NUL_REASON)
    if b"%00" in query or b"\x00" in query:
        for name, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
            if NUL in name or NUL in value:
                return Refusal(f"query parameter {name.replace(NUL, '')!r}", NUL_REASON)
    return None

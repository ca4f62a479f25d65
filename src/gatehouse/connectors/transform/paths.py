"""Field paths like `contact.email`, `emails[0].value` or `["e.mail"]`, compiled to getters."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from operator import methodcaller
from typing import Any

Segment = str | int
Getter = Callable[[Mapping[str, Any]], Any]

_TOKEN = re.compile(r'\[(-?\d+)\]|\["((?:[^"\\]|\\.)*)"\]|([^.\[\]]+)|(\.)')


def parse_path(path: str) -> tuple[Segment, ...]:
    """The segments of `path`; raises ValueError with what is wrong."""
    if not path or path.strip() != path:
        raise ValueError("a path must be non-empty and have no surrounding spaces")
    segments: list[Segment] = []
    position, after_dot = 0, True
    while position < len(path):
        match = _TOKEN.match(path, position)
        if match is None:
            raise ValueError(f"unexpected {path[position]!r} at position {position}")
        index, quoted, name, dot = match.groups()
        if dot is not None:
            if after_dot:
                raise ValueError(f"empty segment at position {position}")
            after_dot = True
        elif name is not None:
            if not after_dot:
                raise ValueError(f"missing '.' before {name!r}")
            segments.append(name)
            after_dot = False
        else:
            if after_dot and segments:
                raise ValueError(f"'.' before '[' at position {position}")
            segments.append(int(index) if index is not None else re.sub(r"\\(.)", r"\1", quoted))
            after_dot = False
        position = match.end()
    if after_dot:
        raise ValueError("a path cannot end with '.'")
    return tuple(segments)


def getter(segments: tuple[Segment, ...]) -> Getter:
    """A function reading `segments` from a record; anything missing on the way gives None."""
    if len(segments) == 1 and isinstance(segments[0], str):
        return methodcaller("get", segments[0])  # a C call: no Python frame per read

    def get(record: Mapping[str, Any]) -> Any:
        value: Any = record
        for part in segments:
            if isinstance(part, int):
                if not isinstance(value, list) or not -len(value) <= part < len(value):
                    return None
                value = value[part]
            elif isinstance(value, dict):
                value = value.get(part)
            else:
                return None
        return value

    return get

"""Reading `/v1/data` request bodies: JSON only, with bounded depth and size."""

from __future__ import annotations

from typing import Any

import orjson

from gatehouse.decisions import opa


def parse(raw: bytes, what: str = "input document") -> Any:
    """The JSON of a body (None when empty), or OPA's 400."""
    if not raw.strip():
        return None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise opa.error(
            400, "invalid_parameter", f"body contains malformed {what}: {exc}"
        ) from None


def check_size(value: Any, max_depth: int, max_nodes: int) -> None:
    """OPA's 400 when `value` nests deeper than `max_depth` or holds over `max_nodes` values."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    nodes = 0
    while stack:
        item, depth = stack.pop()
        nodes += 1
        if nodes > max_nodes:
            raise opa.error(
                400, "invalid_parameter", f"input document holds more than {max_nodes} values"
            )
        if depth > max_depth:
            raise opa.error(
                400, "invalid_parameter", f"input document nests deeper than {max_depth} levels"
            )
        if type(item) is dict:
            stack.extend((v, depth + 1) for v in item.values())
        elif type(item) is list:
            stack.extend((v, depth + 1) for v in item)


def input_of(raw: bytes, max_depth: int, max_nodes: int) -> Any:
    """The `input` of a `POST /v1/data` body (`{"input": ...}`), checked; None when absent."""
    doc = parse(raw, "request body")
    if doc is None:
        return None
    if not isinstance(doc, dict):
        raise opa.error(400, "invalid_parameter", 'body must be an object like {"input": ...}')
    value = doc.get("input")
    if value is not None:
        check_size(value, max_depth, max_nodes)
    return value

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


def required(raw: bytes, what: str) -> Any:
    """The JSON of a body that must be there (a PUT's value, a PATCH's operations): OPA's 400
    for an empty body, as OPA answers (its decoder meets EOF). A `null` body is the value null."""
    if not raw.strip():
        raise opa.error(400, "invalid_parameter", f"body contains no {what}: EOF")
    return parse(raw, what)


def check_size(value: Any, max_depth: int, max_nodes: int) -> None:
    """OPA's 400 when `value` nests deeper than `max_depth` or holds over `max_nodes` values
    (the value itself is one, at depth 1). Only containers are walked: scalars are counted by
    their parent's length."""
    too_deep = f"input document nests deeper than {max_depth} levels"
    if max_depth < 1:
        raise opa.error(400, "invalid_parameter", too_deep)
    nodes = 1
    walked = type(value) is dict or type(value) is list
    stack: list[tuple[Any, int]] = [(value, 1)] if walked else []
    while stack:
        item, depth = stack.pop()
        children = item.values() if type(item) is dict else item
        if not children:
            continue
        nodes += len(children)
        if nodes > max_nodes:
            raise opa.error(
                400, "invalid_parameter", f"input document holds more than {max_nodes} values"
            )
        if depth == max_depth:  # its children would be one level too deep
            raise opa.error(400, "invalid_parameter", too_deep)
        for child in children:
            if type(child) is dict or type(child) is list:
                stack.append((child, depth + 1))


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

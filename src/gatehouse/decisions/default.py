"""OPA's default decision (`POST /`): the whole body is the input, the answer the bare value."""

from __future__ import annotations

from typing import Any

from gatehouse.decisions import inputs, opa
from gatehouse.kit.problems import Problem

# OPA's message when a path has no value (types.MsgUndefinedError).
UNDEFINED = "document missing or undefined"


def body_input(raw: bytes, max_depth: int, max_nodes: int) -> Any:
    """The body as the input (None when empty), checked; OPA's 400 when it is not JSON."""
    try:
        value = inputs.parse(raw, "input document")
    except Problem as exc:
        message = f"unexpected parse error for input: {exc.detail}"
        raise opa.error(400, "invalid_parameter", message) from None
    if value is not None:
        inputs.check_size(value, max_depth, max_nodes)
    return value


def undefined(path: str) -> Problem:
    """OPA's 404 `undefined_document` for a default decision without a value."""
    return opa.error(404, "undefined_document", f"{UNDEFINED}: {opa.query(opa.segments(path))}")

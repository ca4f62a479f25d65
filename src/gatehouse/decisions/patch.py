"""JSON Patch (RFC 6902) as OPA's data API applies it: `add`, `remove` and `replace`."""

from __future__ import annotations

import copy
from typing import Any

from gatehouse.decisions import opa

OPS = ("add", "remove", "replace")


def _tokens(pointer: Any) -> list[str]:
    if not isinstance(pointer, str) or (pointer and not pointer.startswith("/")):
        raise opa.error(400, "invalid_parameter", f"invalid patch path {pointer!r}")
    return [t.replace("~1", "/").replace("~0", "~") for t in pointer.split("/")[1:]]


def _step(node: Any, token: str, pointer: str) -> Any:
    if isinstance(node, dict) and token in node:
        return node[token]
    if isinstance(node, list) and token.isdigit() and int(token) < len(node):
        return node[int(token)]
    raise opa.error(404, "resource_not_found", f"storage_not_found_error: {pointer}")


def _one(doc: Any, op: Any) -> Any:
    if not isinstance(op, dict) or op.get("op") not in OPS:
        raise opa.error(400, "invalid_parameter", "patch operations must be add, remove or replace")
    kind, pointer = op["op"], op.get("path")
    tokens = _tokens(pointer)
    if kind != "remove" and "value" not in op:
        raise opa.error(400, "invalid_parameter", f"{kind} needs a value")
    if not tokens:
        if kind == "remove":
            raise opa.error(400, "invalid_parameter", "cannot remove the patched value itself")
        return copy.deepcopy(op["value"])
    parent = doc
    for token in tokens[:-1]:
        parent = _step(parent, token, str(pointer))
    last = tokens[-1]
    if isinstance(parent, dict):
        if kind != "add" and last not in parent:
            raise opa.error(404, "resource_not_found", f"storage_not_found_error: {pointer}")
        if kind == "remove":
            del parent[last]
        else:
            parent[last] = copy.deepcopy(op["value"])
    elif isinstance(parent, list):
        size = len(parent) + (1 if kind == "add" else 0)
        index = size - 1 if last == "-" and kind == "add" else int(last) if last.isdigit() else -1
        if not 0 <= index < size:
            raise opa.error(404, "resource_not_found", f"storage_not_found_error: {pointer}")
        if kind == "add":
            parent.insert(index, copy.deepcopy(op["value"]))
        elif kind == "remove":
            del parent[index]
        else:
            parent[index] = copy.deepcopy(op["value"])
    else:
        raise opa.error(404, "resource_not_found", f"storage_not_found_error: {pointer}")
    return doc


def apply_patch(value: Any, ops: Any) -> Any:
    """`value` with the operations applied in order (OPA's 400/404 errors on a bad one)."""
    if not isinstance(ops, list):
        raise opa.error(400, "invalid_parameter", "a JSON Patch must be an array of operations")
    doc = copy.deepcopy(value)
    for op in ops:
        doc = _one(doc, op)
    return doc

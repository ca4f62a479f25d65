"""OPA's wire shapes: error bodies (`{"code", "message", "errors"}`) and data paths."""

from __future__ import annotations

import re
from typing import Any

import orjson
from fastapi import Request
from fastapi.responses import Response

from gatehouse.kit.openapi import ErrorShape
from gatehouse.kit.problems import Problem

# OPA's error codes (server/types/types.go) by HTTP status.
CODES = {
    400: "invalid_parameter",
    401: "unauthorized",
    403: "unauthorized",
    404: "resource_not_found",
    405: "invalid_operation",
    409: "resource_conflict",
    413: "invalid_parameter",
    415: "invalid_parameter",
    422: "invalid_parameter",
    429: "too_many_requests",
}
ERROR_SCHEMA: dict[str, Any] = {
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {
                    "code": {"type": "string"},
                    "message": {"type": "string"},
                    "errors": {"type": "array", "items": {"type": "object"}},
                },
            }
        }
    }
}
TEXTS = {
    304: "`If-None-Match: *` and a value is there: nothing written.",
    400: "Malformed request, input or module (OPA's `invalid_parameter`).",
    401: "No valid token.",
    403: "The token lacks the scope.",
    404: "No such policy or value (or a path that cannot be routed).",
    413: "Request body too large.",
    422: "A query parameter or header is invalid.",
    429: "Rate limit reached; see Retry-After.",
    500: "Evaluation failed (`errors` says why, e.g. `eval_cancel_error`).",
}
IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


SHAPE = ErrorShape(ERROR_SCHEMA["content"])  # what every error of these routes looks like


def responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI response entries, in OPA's error shape, for the statuses a route can answer."""
    out: dict[int | str, dict[str, Any]] = {}
    # 404: a path Starlette cannot route (a newline in it) is not found before any handler.
    for code in sorted({401, 403, 404, 413, 422, 429, *codes}):
        entry: dict[str, Any] = {"description": TEXTS.get(code, "Error.")}
        if code != 304:
            entry.update(ERROR_SCHEMA)
        out[code] = entry
    return out


def body(code: str, message: str, errors: list[dict[str, Any]] | None = None) -> bytes:
    """An OPA error document."""
    doc: dict[str, Any] = {"code": code, "message": message}
    if errors:
        doc["errors"] = errors
    return orjson.dumps(doc)


def error(status: int, code: str, message: str, **extra: Any) -> Problem:
    """A Problem that leaves these routes as OPA's error `code` with `message`."""
    return Problem(status, message, opa_code=code, **extra)


def render(problem: Problem, request: Request) -> Response:
    """Any Problem as OPA's error body (the dialect installed for the OPA-compatible routes)."""
    code = problem.extra.get("opa_code") or CODES.get(problem.status, "internal_error")
    message = problem.detail
    fields: list[dict[str, Any]] = problem.extra.get("errors") or []
    opa_errors: list[dict[str, Any]] | None = problem.extra.get("opa_errors")
    if fields and opa_errors is None:  # FastAPI refused a query parameter or header
        first = fields[0]
        message = f"{first.get('field', '')}: {first.get('message', '')}"
    return Response(
        body(str(code), message, opa_errors),
        status_code=problem.status,
        headers=problem.headers,
        media_type="application/json",
    )


def segments(path: str) -> list[str]:
    """The segments of a slash (or dot) separated data path, without empty ones."""
    sep = "/" if "/" in path else "."
    return [s for s in path.strip().split(sep) if s]


def query(parts: list[str]) -> str:
    """The Rego reference of `data.<parts>` (brackets for segments that are not identifiers)."""
    out = "data"
    for part in parts:
        out += f".{part}" if IDENT.match(part) else "[" + orjson.dumps(part).decode() + "]"
    return out

"""AuthZEN's errors: the HTTP status says what went wrong; the body is a small JSON object.

The Authorization API defines the statuses (400, 401, 403, 500) and leaves the body to the PDP,
so Gatehouse answers `{"error": <code>, "message": <detail>}` as `application/json` (no
problem+json), and the request's `X-Request-ID` is echoed as on every route.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import Request
from fastapi.responses import Response

from gatehouse.kit.openapi import ErrorShape
from gatehouse.kit.problems import Problem

CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "request_too_large",
    415: "unsupported_media_type",
    422: "bad_request",
    429: "too_many_requests",
}
SCHEMA: dict[str, Any] = {
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["error", "message"],
                "properties": {"error": {"type": "string"}, "message": {"type": "string"}},
            }
        }
    }
}
SHAPE = ErrorShape(SCHEMA["content"], invalid_status=400)  # 422s leave these routes as 400s
TEXTS = {
    400: "Malformed request (not JSON, a missing or mistyped field, too deep or too large).",
    401: "No valid token.",
    403: "The token lacks the scope `decisions:evaluate`.",
    413: "Request body too large.",
    429: "Rate limit reached; see Retry-After.",
    500: "The decision could not be made.",
}


def responses() -> dict[int | str, dict[str, Any]]:
    """OpenAPI response entries, in AuthZEN's error shape."""
    return {code: {"description": text, **SCHEMA} for code, text in TEXTS.items()}


def render(problem: Problem, request: Request) -> Response:
    """Any Problem as AuthZEN's error (422s, FastAPI's refusals, are 400s here)."""
    status = 400 if problem.status == 422 else problem.status
    doc = {"error": CODES.get(status, "internal_error"), "message": problem.detail}
    return Response(
        orjson.dumps(doc),
        status_code=status,
        headers=problem.headers,
        media_type="application/json",
    )

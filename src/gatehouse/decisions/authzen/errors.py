"""AuthZEN's errors: the HTTP status says what went wrong; the body is an error message string.

The Authorization API 1.0 (§ Error Responses) gives each error status (400, 401, 403, 500) an
"error message string" as its body, so Gatehouse answers the message as `text/plain` (never
problem+json), and the request's `X-Request-ID` is echoed as on every route. Statuses outside
the spec's table are HTTP's own (413, 415, 429).
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import Response

from gatehouse.kit.openapi import ErrorShape
from gatehouse.kit.problems import Problem

MEDIA_TYPE = "text/plain; charset=utf-8"
CONTENT: dict[str, Any] = {
    "text/plain": {"schema": {"type": "string", "description": "Why the request failed."}}
}
SHAPE = ErrorShape(CONTENT, invalid_status=400)
TEXTS = {
    400: "Malformed request (not JSON, a missing or mistyped field, too deep or too large).",
    401: "No valid token.",
    403: "The token lacks the scope `decisions:evaluate`.",
    413: "Request body too large.",
    415: "The request's Content-Type is not `application/json`.",
    429: "Rate limit reached; see Retry-After.",
    500: "The decision could not be made.",
}


def responses() -> dict[int | str, dict[str, Any]]:
    """OpenAPI response entries, in AuthZEN's error shape."""
    return {code: {"description": text, "content": CONTENT} for code, text in TEXTS.items()}


def render(problem: Problem, request: Request) -> Response:
    """Any Problem as AuthZEN's error (422s, FastAPI's refusals, are 400s here)."""
    status = 400 if problem.status == 422 else problem.status
    return Response(
        problem.detail or "error",
        status_code=status,
        headers=problem.headers,
        media_type=MEDIA_TYPE,
    )

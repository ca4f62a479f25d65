"""Shared HTTP bits for routers: problem responses in OpenAPI, paging parameters."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query

PROBLEM_SCHEMA = {
    "content": {
        "application/problem+json": {
            "schema": {
                "type": "object",
                "properties": {
                    "type": {"type": "string"},
                    "title": {"type": "string"},
                    "status": {"type": "integer"},
                    "detail": {"type": "string"},
                    "instance": {"type": "string"},
                },
            }
        }
    }
}


def problems(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI response entries for the problem statuses a route can answer."""
    texts = {
        400: "Malformed request or cursor.",
        401: "No valid token.",
        403: "The token lacks the scope, or belongs to another tenant.",
        404: "No such object in this tenant.",
        409: "Conflicts with the current state.",
        413: "Request body too large.",
        422: "Validation failed; `errors` lists the fields.",
        429: "Rate limit reached; see Retry-After.",
        502: "The source failed; `failure` classifies it and `hint` says what to do.",
        504: "The source did not answer in time.",
    }
    base = (401, 403, 429)
    return {
        code: {"description": texts.get(code, "Error."), **PROBLEM_SCHEMA}
        for code in sorted(set(base + codes))
    }


Cursor = Annotated[str | None, Query(description="`next_cursor` from the previous page.")]
Limit = Annotated[int, Query(ge=1, le=500, description="Items per page.")]

"""Shared HTTP bits for routers: problem responses in OpenAPI, paging parameters."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import Query
from pydantic import BeforeValidator

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
                    "errors": {
                        "type": "array",
                        "description": "Each field that did not validate (422) or parse (400).",
                        "items": {
                            "type": "object",
                            "properties": {
                                "field": {"type": "string"},
                                "message": {"type": "string"},
                                "type": {"type": "string"},
                            },
                        },
                    },
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

ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")


def iso_only(value: Any) -> Any:
    """Refuse what is not an ISO 8601 date or date-time: pydantic would read `0.5` as Unix time."""
    if isinstance(value, datetime | date) or (isinstance(value, str) and ISO_DATE.match(value)):
        return value
    raise ValueError("use an ISO 8601 date or date-time, e.g. 2026-12-01 or 2026-12-01T09:00:00Z")


# A date-time query parameter that takes RFC 3339 / ISO 8601 only.
ISO = BeforeValidator(iso_only)

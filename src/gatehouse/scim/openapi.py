"""How the SCIM routes appear in the OpenAPI document (SCIM media type and error bodies)."""

from __future__ import annotations

from typing import Any

from gatehouse.kit.openapi import ErrorShape
from gatehouse.scim.http import SCIM_JSON

OBJECT = {"type": "object", "additionalProperties": True}
ERROR = {
    "type": "object",
    "required": ["schemas", "status"],
    "properties": {
        "schemas": {"type": "array", "items": {"type": "string"}},
        "status": {"type": "string"},
        "scimType": {"type": "string"},
        "detail": {"type": "string"},
    },
}
SHAPE = ErrorShape({SCIM_JSON: {"schema": ERROR}}, invalid_status=400)
TEXTS = {
    200: "The resource or list.",
    201: "Created.",
    204: "Deleted.",
    304: "Not modified: If-None-Match names the current version.",
    400: "invalidFilter, invalidSyntax, invalidValue, invalidPath, noTarget, mutability, tooMany.",
    401: "No valid token.",
    403: "The token lacks the scope.",
    404: "No such resource in this tenant.",
    409: "uniqueness: the userName or group displayName is taken.",
    412: "If-Match does not name the current version.",
    413: "Request body too large.",
    429: "Rate limit reached; see Retry-After.",
    501: "Not implemented.",
}
BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {SCIM_JSON: {"schema": OBJECT}, "application/json": {"schema": OBJECT}},
    }
}


def documented(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI responses for the statuses a SCIM route can answer."""
    every = sorted({*codes, 401, 403, 429})
    responses: dict[int | str, dict[str, Any]] = {}
    for code in every:
        entry: dict[str, Any] = {"description": TEXTS.get(code, "Error.")}
        if code >= 400:
            entry["content"] = {SCIM_JSON: {"schema": ERROR}}
        elif code in (200, 201):
            entry["content"] = {SCIM_JSON: {"schema": OBJECT}}
        responses[code] = entry
    return responses

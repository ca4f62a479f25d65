"""How the SCIM routes appear in the OpenAPI document (SCIM media type and error bodies)."""

from __future__ import annotations

from typing import Any

from gatehouse.kit.openapi import ErrorShape
from gatehouse.scim.discovery import schemas
from gatehouse.scim.http import SCIM_JSON
from gatehouse.scim.schema import ENTERPRISE

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
STRINGS = {"type": "array", "items": {"type": "string"}}
TYPES: dict[str, dict[str, Any]] = {
    "string": {"type": "string"},
    "reference": {"type": "string"},
    "binary": {"type": "string", "contentEncoding": "base64"},
    "boolean": {"type": "boolean"},
    "integer": {"type": "integer"},
    "decimal": {"type": "number"},
    "dateTime": {"type": "string", "format": "date-time"},
}
NAMES = "Attribute names match case-insensitively (RFC 7643 §2.1); unknown ones are refused."
# What a write may carry besides the schema's attributes (read-only ones are ignored).
COMMON = {
    "schemas": STRINGS,
    "id": {"type": "string", "readOnly": True},
    "externalId": {"type": "string"},
    "meta": {"type": "object", "readOnly": True},
}
OP = "^([Aa][Dd][Dd]|[Rr][Ee][Mm][Oo][Vv][Ee]|[Rr][Ee][Pp][Ll][Aa][Cc][Ee])$"


def _attribute(attribute: dict[str, Any]) -> dict[str, Any]:
    """The JSON Schema of one published SCIM attribute."""
    if attribute["type"] == "complex":
        subs = attribute.get("subAttributes") or []
        one: dict[str, Any] = {
            "type": "object",
            "properties": {sub["name"]: _attribute(sub) for sub in subs},
            "additionalProperties": False,
        }
    else:
        one = dict(TYPES.get(attribute["type"], {}))
    if attribute.get("mutability") == "readOnly":
        one["readOnly"] = True
    if attribute.get("description"):
        one["description"] = attribute["description"]
    return {"type": "array", "items": one} if attribute.get("multiValued") else one


def _properties(urn: str) -> dict[str, Any]:
    published = next(doc for doc in schemas("") if doc["id"] == urn)
    return {a["name"]: _attribute(a) for a in published["attributes"]}


def resource_schema(core: str) -> dict[str, Any]:
    """The body of a POST or PUT of a resource type, from the schemas /Schemas publishes."""
    properties: dict[str, Any] = {**COMMON, **_properties(core)}
    if core.endswith(":User"):
        extension = _properties(ENTERPRISE)
        # A bare id is taken for the manager too (Entra sends one).
        extension["manager"] = {"anyOf": [extension["manager"], {"type": "string"}]}
        properties[ENTERPRISE] = {
            "type": "object",
            "properties": extension,
            "additionalProperties": False,
        }
    required = [a for a in ("userName", "displayName") if a in properties][:1]
    return {
        "type": "object",
        "description": NAMES,
        "required": required,
        "properties": properties,
        "additionalProperties": False,
    }


PATCH_SCHEMA = {
    "type": "object",
    "description": "A PatchOp (RFC 7644 §3.5.2). " + NAMES,
    "required": ["Operations"],
    "properties": {
        "schemas": STRINGS,
        "Operations": {
            "type": "array",
            "minItems": 1,
            "maxItems": 1000,
            "items": {
                "type": "object",
                "required": ["op"],
                "properties": {
                    "op": {"type": "string", "pattern": OP, "description": "In any case."},
                    "path": {"type": "string"},
                    "value": {},
                },
                "additionalProperties": False,
            },
        },
    },
    "additionalProperties": False,
}
SEARCH_SCHEMA = {
    "type": "object",
    "description": "A SearchRequest (RFC 7644 §3.4.3). " + NAMES,
    "properties": {
        "schemas": STRINGS,
        "attributes": {"type": "string"},
        "excludedAttributes": {"type": "string"},
        "filter": {"type": "string", "maxLength": 4096},
        "sortBy": {"type": "string"},
        "sortOrder": {"type": "string", "enum": ["ascending", "descending"]},
        "startIndex": {"type": "integer"},
        "count": {"type": "integer"},
    },
    "additionalProperties": False,
}
BULK_SCHEMA = {
    "type": "object",
    "description": "A BulkRequest (RFC 7644 §3.7). " + NAMES,
    "required": ["schemas", "Operations"],
    "properties": {
        "schemas": STRINGS,
        "failOnErrors": {"type": "integer", "minimum": 1},
        "Operations": {
            "type": "array",
            "items": {
                "type": "object",
                "description": "An operation the server cannot run as stated fails on its own "
                "(its status in the BulkResponse), not the request.",
                "properties": {
                    "method": {"type": "string", "description": "POST, PUT, PATCH or DELETE."},
                    "bulkId": {"type": "string", "minLength": 1},
                    "version": {"type": "string"},
                    "path": {"type": "string"},
                    "data": {"type": "object"},
                },
                "additionalProperties": False,
            },
        },
    },
    "additionalProperties": False,
}


def body(schema: dict[str, Any]) -> dict[str, Any]:
    """`openapi_extra` for a route taking `schema` as SCIM or plain JSON."""
    content = {SCIM_JSON: {"schema": schema}, "application/json": {"schema": schema}}
    return {"requestBody": {"required": True, "content": content}}


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

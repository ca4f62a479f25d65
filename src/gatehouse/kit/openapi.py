"""The OpenAPI document: bearer-token security, and error responses as the server sends them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from gatehouse.kit.http import PROBLEM_SCHEMA

PUBLIC = frozenset({"/health", "/ready", "/.well-known/authzen-configuration"})
PROBES = frozenset({"/health", "/ready"})  # take nothing and store nothing: never refused
SCHEME = "HTTPBearer"
UNAUTHORIZED = "No valid token."
MALFORMED = "The body is not valid JSON, or not of the documented media type."
UNSTORABLE = (
    "The request did not validate, or holds a value that cannot be stored: a NUL character in "
    "the path, a query parameter or the body, or a JSON integer beyond 64 bits."
)


@dataclass(frozen=True)
class ErrorShape:
    """How a standard's routes answer errors: an OpenAPI `content` object (media type and
    schema), and the status a request that does not validate gets (SCIM and AuthZEN: 400)."""

    content: dict[str, Any]
    invalid_status: int = 422


PROBLEMS = ErrorShape(PROBLEM_SCHEMA["content"])


def error_shape(path: str, dialects: Mapping[str, ErrorShape]) -> ErrorShape:
    """The error shape of `path`: its standard's (SCIM, OPA, AuthZEN), else problem+json."""
    for prefix in sorted(dialects, key=len, reverse=True):
        if path == prefix or path.startswith(prefix + "/"):  # as problem_response matches
            return dialects[prefix]
    return PROBLEMS


def conform(schema: dict[str, Any], dialects: Mapping[str, ErrorShape]) -> None:
    """Make every operation say what the server answers: its errors' media type (FastAPI
    documents its own 422 as application/json), 401 where a token is needed, 400 for a body."""
    for path, item in schema.get("paths", {}).items():
        shape = error_shape(path, dialects)
        for operation in item.values():
            responses = operation.setdefault("responses", {})
            if path not in PUBLIC:
                operation["security"] = [{SCHEME: []}]
                responses.setdefault("401", {"description": UNAUTHORIZED})
            if "requestBody" in operation:
                responses.setdefault("400", {"description": MALFORMED})
            # The request boundary (kit/boundary.py) may refuse any request's path, query or body.
            if path not in PROBES:
                responses.setdefault(str(shape.invalid_status), {"description": UNSTORABLE})
            if shape.invalid_status == 400 and "422" in responses:
                refused = responses.pop("422")["description"]
                responses.setdefault("400", {"description": refused})
            for code, entry in responses.items():
                if code[:1] in ("4", "5") and (code == "422" or "content" not in entry):
                    entry["content"] = shape.content  # 422: FastAPI's own, as application/json
    components = schema.get("components", {}).get("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        components.pop(unused, None)


def install_openapi(app: FastAPI, dialects: Mapping[str, ErrorShape] | None = None) -> None:
    """Generate the schema once, marking token-protected operations and their errors."""

    def build() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            components = schema.setdefault("components", {})
            components.setdefault("securitySchemes", {})[SCHEME] = {
                "type": "http",
                "scheme": "bearer",
                "description": "An API token: `Authorization: Bearer gth_...`",
            }
            conform(schema, dialects or {})
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = build  # type: ignore[method-assign]

"""The OpenAPI document: bearer-token security on every route that needs a token."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

PUBLIC = frozenset({"/health", "/ready", "/.well-known/authzen-configuration"})
SCHEME = "HTTPBearer"


def install_openapi(app: FastAPI) -> None:
    """Generate the schema once, marking token-protected operations."""

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
            for path, item in schema.get("paths", {}).items():
                if path in PUBLIC:
                    continue
                for operation in item.values():
                    operation["security"] = [{SCHEME: []}]
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = build  # type: ignore[method-assign]

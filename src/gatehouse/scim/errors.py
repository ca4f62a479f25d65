"""SCIM error bodies (RFC 7644 §3.12): every failure under /scim/v2 leaves in this shape."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import Response
from pydantic import ValidationError
from scim2_models import Error, SCIMException

from gatehouse.kit.problems import Problem
from gatehouse.scim.http import scim_json


def document(problem: Problem) -> dict[str, Any]:
    """The SCIM Error body of a Problem (what a response, or a Bulk operation, carries)."""
    status = 400 if problem.status == 422 else problem.status
    scim_type: str | None = problem.extra.get("scim_type")
    detail = problem.detail
    errors: list[dict[str, Any]] = problem.extra.get("errors") or []
    if errors:  # FastAPI refused a query parameter or header
        first = errors[0]
        detail = f"{first.get('field', '')}: {first.get('message', '')}"
        scim_type = scim_type or "invalidValue"
    return dict(Error(status=status, scim_type=scim_type, detail=detail).model_dump())


def render(problem: Problem, request: Request) -> Response:
    """Render any Problem as a SCIM Error (the dialect installed for /scim/v2)."""
    doc = document(problem)
    return scim_json(doc, int(doc["status"]), problem.headers)


def from_scim(exc: SCIMException) -> Problem:
    """The Problem for an error scim2-models raised."""
    first_line = str(exc.detail).splitlines()[0]
    return Problem(exc.status, first_line, scim_type=exc.scim_type or None)


def from_validation(exc: ValidationError) -> Problem:
    """The Problem for a payload scim2-models refused (the first error tells)."""
    errors = Error.from_validation_errors(exc)
    first = errors[0] if errors else Error(status=400, scim_type="invalidValue", detail=str(exc))
    detail = (first.detail or "The payload is not valid.").splitlines()[0]
    return Problem(first.status or 400, detail, scim_type=first.scim_type or "invalidValue")

"""RFC 9457 problem+json errors: one exception type and the handlers that render it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import orjson
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_JSON = "application/problem+json"
# A standard with its own error shape (SCIM) renders the problems of the paths under its prefix.
Renderer = Callable[["Problem", Request], Response]
log = structlog.get_logger("gatehouse.errors")

TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    412: "Precondition Failed",
    413: "Content Too Large",
    415: "Unsupported Media Type",
    422: "Unprocessable Content",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


class Problem(Exception):
    """An error to send to the client as problem+json."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        title: str | None = None,
        type_: str = "about:blank",
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.title = title or TITLES.get(status, "Error")
        self.type = type_
        self.headers = headers or {}
        self.extra = extra

    def body(self, instance: str | None = None) -> dict[str, Any]:
        """The problem document."""
        doc: dict[str, Any] = {
            "type": self.type,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if instance:
            doc["instance"] = instance
        doc.update(self.extra)
        return doc


def problem_response(problem: Problem, request: Request | None = None) -> Response:
    """Render a Problem as an HTTP response, in the error dialect of the request's path."""
    if request is not None:
        path = request.url.path
        dialects: tuple[tuple[str, Renderer], ...] = getattr(
            request.app.state, "problem_dialects", ()
        )
        for prefix, render in dialects:
            if path == prefix or path.startswith(prefix + "/"):
                return render(problem, request)
    instance = request.url.path if request is not None else None
    return Response(
        orjson.dumps(problem.body(instance)),
        status_code=problem.status,
        headers=problem.headers,
        media_type=PROBLEM_JSON,
    )


def not_found(kind: str, ident: str) -> Problem:
    """The 404 for an object the caller cannot see (whether or not it exists elsewhere)."""
    return Problem(404, f"No {kind} with id {ident!r} in this tenant.")


async def _on_problem(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Problem)
    return problem_response(exc, request)


async def _on_http(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    headers = dict(exc.headers or {})
    detail = exc.detail if isinstance(exc.detail, str) else TITLES.get(exc.status_code, "Error")
    return problem_response(Problem(exc.status_code, detail, headers=headers), request)


async def _on_validation(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {
            "field": ".".join(str(part) for part in err.get("loc", ())),
            "message": err.get("msg", ""),
            "type": err.get("type", ""),
        }
        for err in exc.errors()
    ]
    if any(err["type"] == "json_invalid" for err in errors):
        problem = Problem(400, "The request body is not valid JSON.", errors=errors)
    else:
        problem = Problem(422, "The request did not validate; see errors.", errors=errors)
    return problem_response(problem, request)


async def _on_unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error", path=request.url.path)
    problem = Problem(500, "Something went wrong on our side; the request id identifies it.")
    return problem_response(problem, request)


def install_problem_handlers(app: FastAPI, dialects: Mapping[str, Renderer] | None = None) -> None:
    """Make every error leave the app as problem+json, or in the dialect of a path prefix."""
    app.state.problem_dialects = tuple((dialects or {}).items())
    app.add_exception_handler(Problem, _on_problem)
    app.add_exception_handler(StarletteHTTPException, _on_http)
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(Exception, _on_unexpected)

"""Rendering Problems, and every other error, as problem+json (or a path's own dialect)."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import orjson
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from sqlalchemy import exc as sa
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path

from gatehouse.kit.outage import PROBLEM_TYPE, RETRY_AFTER_SECONDS, unavailable
from gatehouse.kit.problems import PROBLEM_JSON, TITLES, Problem
from gatehouse.kit.shards import leaves

# A standard with its own error shape (SCIM) renders the problems of the paths under its prefix.
Renderer = Callable[[Problem, Request], Response]
log = structlog.get_logger("gatehouse.errors")
# Handled before the catch-all, so an outage answers 503 without an "unhandled" traceback.
STORE_ERRORS: tuple[type[Exception], ...] = (
    sa.DBAPIError,
    sa.TimeoutError,
    sa.DisconnectionError,
    OSError,
)


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


async def _on_problem(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Problem)
    return problem_response(exc, request)


def allowed_methods(request: Request) -> str:
    """Every method some route of the app takes at this path (RFC 9110 §10.2.1's `Allow`):
    Starlette names only the methods of the first route whose path matched."""
    methods: set[str] = set()
    path = request.url.path
    for template, route in leaves(request.app.routes):
        if template is not None and compile_path(template)[0].match(path):
            methods.update(getattr(route, "methods", None) or ())
    return ", ".join(sorted(methods))


async def _on_http(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        headers["Allow"] = allowed_methods(request) or headers.get("Allow", "")
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


def store_unavailable() -> Problem:
    """The 503 for a request that needs the database while it cannot be reached or written."""
    return Problem(
        503,
        "The store is unavailable right now (the database cannot be reached or written); "
        f"retry in {RETRY_AFTER_SECONDS} seconds.",
        title="Store Unavailable",
        type_=PROBLEM_TYPE,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


async def _on_store_error(request: Request, exc: Exception) -> Response:
    """Database errors: a 503 when the store is away, else the generic 500."""
    if not unavailable(exc):
        return await _on_unexpected(request, exc)
    orig = getattr(exc, "orig", None) or exc
    # Never the statement or its parameters: they may hold token hashes or personal data.
    log.warning(
        "store unavailable",
        path=request.url.path,
        error=type(orig).__name__,
        reason=str(orig).splitlines()[0][:200] if str(orig) else "",
    )
    return problem_response(store_unavailable(), request)


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
    for kind in STORE_ERRORS:
        app.add_exception_handler(kind, _on_store_error)
    app.add_exception_handler(Exception, _on_unexpected)

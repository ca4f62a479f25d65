"""One ASGI middleware for request ids, timing, body limits, metrics, access logs and usage."""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import structlog
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gatehouse.auth.usage import UsageRecord, UsageRecorder
from gatehouse.kit.ids import new_hex
from gatehouse.kit.problem_http import problem_response
from gatehouse.kit.problems import Problem
from gatehouse.observability.logging import access_line
from gatehouse.observability.metrics import Metrics

REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,100}$")
QUIET = frozenset({"/health", "/ready", "/metrics"})


def too_large(limit: int, hint: str = "") -> str:
    """What a client is told when its body passes the limit (and what to do, for some paths)."""
    return f"Request bodies are limited to {limit} bytes." + (f" {hint}" if hint else "")


class BodyTooLarge(HTTPException):
    """The request body passed the configured limit (an HTTP error so body parsers re-raise it)."""

    def __init__(self, limit: int, hint: str = "") -> None:
        super().__init__(413, too_large(limit, hint))


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return ""


def _refusal(scope: Scope, limit: int, hint: str, request_id: str) -> tuple[Message, Message]:
    """The 413 sent outside the routes, in the error dialect of the path (SCIM's under /scim)."""
    response = problem_response(Problem(413, too_large(limit, hint)), Request(scope))
    start: Message = {
        "type": "http.response.start",
        "status": response.status_code,
        "headers": [*response.raw_headers, (b"x-request-id", request_id.encode())],
    }
    return start, {"type": "http.response.body", "body": response.body}


class RequestMiddleware:
    """Wraps every HTTP request; see the module docstring."""

    def __init__(
        self,
        app: ASGIApp,
        metrics: Metrics,
        usage: UsageRecorder,
        max_body: int,
        path_limits: Mapping[str, int] | None = None,
        limit_hints: Mapping[str, str] | None = None,
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.usage = usage
        self.max_body = max_body
        # Routes whose bodies have a limit of their own (SCIM /Bulk: maxPayloadSize; uploads),
        # and what a client over one is told to do. A limit covers the path and the paths under
        # it (`/opa/logs` and `/opa/logs/{partition}`).
        self.path_limits = dict(path_limits or {})
        self.limit_hints = dict(limit_hints or {})

    def _limited_route(self, path: str) -> str:
        """The `path_limits` key covering `path` (itself or a parent), or `path`."""
        if path in self.path_limits:
            return path
        for route in self.path_limits:
            if path.startswith(route + "/"):
                return route
        return path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one request."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        incoming = _header(scope, b"x-request-id")
        request_id = incoming if REQUEST_ID.match(incoming) else new_hex()
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        structlog.contextvars.bind_contextvars(request_id=request_id)
        status = 500
        route = self._limited_route(scope["path"])
        limit = self.path_limits.get(route, self.max_body)
        hint = self.limit_hints.get(route, "")
        declared = _header(scope, b"content-length")
        if declared.isdigit() and int(declared) > limit:
            start, body = _refusal(scope, limit, hint, request_id)
            await send(start)
            await send(body)
            self._finish(scope, 413, started)
            return
        received = 0
        sent_start = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit, hint)
            return message

        async def timed_send(message: Message) -> None:
            nonlocal status, sent_start
            if message["type"] == "http.response.start":
                sent_start = True
                status = message["status"]
                elapsed = time.perf_counter() - started
                headers = list(message.get("headers", []))
                for name, value in state.get("response_headers", {}).items():
                    headers.append((name.lower().encode(), value.encode()))
                headers.append((b"x-request-id", request_id.encode()))
                headers.append((b"x-process-time", f"{elapsed * 1000:.2f}ms".encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, limited_receive, timed_send)
        except BodyTooLarge:
            if not sent_start:
                start, body = _refusal(scope, limit, hint, request_id)
                await send(start)
                await send(body)
            status = 413
        finally:
            self._finish(scope, status, started)
            structlog.contextvars.clear_contextvars()

    def _finish(self, scope: Scope, status: int, started: float) -> None:
        elapsed = time.perf_counter() - started
        route = scope.get("route")
        template = getattr(route, "path", None) or "unmatched"
        method = scope["method"]
        self.metrics.observe_request(method, template, str(status), elapsed)
        state: dict[str, Any] = scope.get("state", {})
        principal = state.get("principal")
        path = scope["path"]
        if principal is not None:
            self.usage.add(
                UsageRecord(
                    tenant_id=principal.tenant_id,
                    token_id=principal.token_id,
                    method=method,
                    path=path,
                    status=status,
                    latency_ms=round(elapsed * 1000, 3),
                    request_id=state.get("request_id", ""),
                    at=datetime.now(UTC),
                )
            )
        if path not in QUIET:
            access_line(
                {
                    "method": method,
                    "path": path,
                    "status": status,
                    "ms": round(elapsed * 1000, 2),
                    "tenant": principal.tenant_id if principal else None,
                    "request_id": state.get("request_id", ""),
                }
            )

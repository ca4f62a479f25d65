"""The request boundary: a NUL character in the path, a query parameter or a JSON body, or a
JSON integer beyond 64 bits, is refused (422, in the path's error dialect) before any route."""

from __future__ import annotations

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gatehouse.kit.jsonbounds import Refusal, json_refusal, text_refusal
from gatehouse.kit.openapi import PROBES
from gatehouse.kit.problem_http import problem_response
from gatehouse.kit.problems import Problem


def _headers(scope: Scope) -> dict[bytes, bytes]:
    wanted = (b"content-type", b"content-encoding")
    return {key: value for key, value in scope["headers"] if key in wanted}


def json_body(scope: Scope) -> bool:
    """Whether the request's body is read as JSON (JSON media types, or none given) and is not
    compressed (compressed uploads are checked by the route that decompresses them)."""
    found = _headers(scope)
    encoding = found.get(b"content-encoding", b"identity").strip().lower()
    if encoding not in (b"", b"identity"):
        return False
    kind = found.get(b"content-type", b"").split(b";", 1)[0].strip().lower()
    return not kind or b"json" in kind


def refused(refusal: Refusal) -> Problem:
    """The problem for a refused value, naming where it is."""
    return Problem(
        422,
        f"The request holds a value that cannot be stored: {refusal.message()}.",
        errors=[{"field": refusal.where, "message": refusal.reason, "type": "value_error"}],
    )


class InputBoundary:
    """ASGI middleware: refuse unstorable text and numbers before a route sees them."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check one request; pass it on (with its body replayed) when nothing is refused."""
        if scope["type"] != "http" or scope["path"] in PROBES:
            await self.app(scope, receive, send)
            return
        found = text_refusal(scope["path"], scope.get("query_string", b""))
        if found is None and scope["method"] in ("POST", "PUT", "PATCH") and json_body(scope):
            chunks: list[bytes] = []
            while True:
                message = await receive()
                if message["type"] != "http.request":
                    return  # the client went away before sending its whole body
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    break
            body = b"".join(chunks)
            found = json_refusal(body)
            receive = _replay(body, receive)
        if found is not None:
            response = problem_response(refused(found), Request(scope))
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive that gives the buffered body first, then the connection's own messages."""
    pending: list[Message] = [{"type": "http.request", "body": body, "more_body": False}]

    async def replay() -> Message:
        if pending:
            return pending.pop()
        return await receive()

    return replay

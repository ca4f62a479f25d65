"""A fault-injecting OPA look-alike on a loopback port: answers /v1/data/... and /health.

Modes: `ok`; `slow` (answers after `delay` seconds); `error` (500); `drop` (closes the
connection without answering); `hold` (waits until `release` is set); `redirect` (302 to
another host, health checks included); `down` (not listening).
A plain asyncio server, so TLS with required client certificates is one `ssl` argument.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import orjson


@dataclass
class FakeOpa:
    """One fake OPA server; change `mode` at any time."""

    name: str
    mode: str = "ok"
    delay: float = 0.5
    results: dict[str, Any] = field(default_factory=dict)
    ssl_context: ssl.SSLContext | None = None
    port: int = 0
    seen: list[tuple[str, Any]] = field(default_factory=list)
    queries: list[str] = field(default_factory=list)  # query strings of data requests
    health_checks: int = 0
    authorizations: list[str] = field(default_factory=list)
    in_flight: int = 0
    release: asyncio.Event = field(default_factory=asyncio.Event)
    server: asyncio.Server | None = None
    writers: set[asyncio.StreamWriter] = field(default_factory=set)

    @property
    def url(self) -> str:
        """The base URL to configure."""
        scheme = "https" if self.ssl_context else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    async def start(self) -> None:
        """Listen (again, on the same port once one was chosen)."""
        self.server = await asyncio.start_server(
            self.serve, "127.0.0.1", self.port, ssl=self.ssl_context
        )
        self.port = self.server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Stop listening and cut every open connection."""
        if self.server is not None:
            self.server.close()
            for writer in list(self.writers):
                writer.transport.abort()
            with contextlib.suppress(Exception):
                await self.server.wait_closed()
            self.server = None

    async def go_down(self) -> None:
        """Become unreachable (connection refused)."""
        self.mode = "down"
        await self.stop()

    async def come_up(self) -> None:
        """Listen again and answer normally."""
        self.mode = "ok"
        await self.start()

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Answer requests on one keep-alive connection."""
        self.writers.add(writer)
        try:
            while True:
                request = await read_request(reader)
                if request is None:
                    break
                method, path, headers, body = request
                if "authorization" in headers:
                    self.authorizations.append(headers["authorization"].strip())
                reply = await self.answer(method, path, body)
                if reply is None:
                    writer.transport.abort()
                    break
                writer.write(reply)
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
            pass
        except asyncio.CancelledError:
            pass  # the server is stopping
        finally:
            self.writers.discard(writer)
            writer.close()

    async def answer(self, method: str, path: str, body: bytes) -> bytes | None:
        """The raw response for a request, or None to drop the connection."""
        if self.mode == "redirect":
            return response(302, {}, location="http://opa.elsewhere.test" + path)
        if path == "/health" and method == "GET":
            self.health_checks += 1
            if self.mode in ("error", "drop"):
                return None if self.mode == "drop" else response(500, {"code": "unhealthy"})
            return response(200, {})
        path, _, query = path.partition("?")
        if not path.startswith("/v1/data/") or method != "POST":
            return response(404, {"code": "not_found", "message": path})
        data_path = path.removeprefix("/v1/data/")
        self.queries.append(query)
        doc = orjson.loads(body) if body else {}
        self.seen.append((data_path, doc.get("input")))
        self.in_flight += 1
        try:
            if self.mode == "slow":
                await asyncio.sleep(self.delay)
            elif self.mode == "hold":
                await self.release.wait()
            elif self.mode == "error":
                return response(500, {"code": "internal_error", "message": "boom"})
            elif self.mode == "drop":
                return None
        finally:
            self.in_flight -= 1
        if data_path == "bad/query":
            return response(400, {"code": "invalid_parameter", "message": "bad input"})
        explain = parse_qs(query).get("explain")
        if explain:  # an explanation that says which mode and pretty form were asked for
            trace = [f"explain={explain[0]}", f"query={query}"]
            return response(200, {"result": self.results.get(data_path), "explanation": trace})
        if data_path in self.results:
            return response(200, {"result": self.results[data_path]})
        if data_path.endswith("undefined"):
            return response(200, {})
        return response(200, {"result": {"server": self.name}})


async def read_request(
    reader: asyncio.StreamReader,
) -> tuple[str, str, dict[str, str], bytes] | None:
    """Method, path, headers and body of the next HTTP/1.1 request, or None at end of stream."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
        return None
    lines = head.decode("latin-1").split("\r\n")
    method, path, _ = lines[0].split(" ", 2)
    pairs = (line.split(":", 1) for line in lines[1:] if ":" in line)
    headers = {name.lower(): value for name, value in pairs}
    length = int(headers.get("content-length", "0"))
    body = await reader.readexactly(length) if length else b""
    return method, path, headers, body


def response(status: int, doc: Any, location: str | None = None) -> bytes:
    """A complete HTTP/1.1 response with a JSON body (and a `Location`, for a redirect)."""
    body = orjson.dumps(doc)
    extra = f"Location: {location}\r\n" if location else ""
    head = (
        f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n{extra}"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body

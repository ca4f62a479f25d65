"""The asyncio network backend under httpx: plain and TLS, timeouts, big bodies, both loops."""

from __future__ import annotations

import asyncio
import ipaddress
import ssl
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvloop

from gatehouse.kit.netio import AsyncioBackend
from gatehouse.kit.outbound import GuardedTransport, OutboundBlockedError
from tests.decisions_remote.pki import Authority, server_context

LOOPBACK = [ipaddress.ip_network("127.0.0.0/8")]
BIG = 3 * 1024 * 1024
Runner = Callable[[Coroutine[Any, Any, None]], None]
RUNNERS = pytest.mark.parametrize("run", [asyncio.run, uvloop.run], ids=["asyncio", "uvloop"])


class Handler(BaseHTTPRequestHandler):
    """Echoes POST bodies' sizes, serves a big body, or answers late."""

    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        """Read the body and say how long it was."""
        size = len(self.rfile.read(int(self.headers["content-length"])))
        self.reply(str(size).encode())

    def do_GET(self) -> None:
        """`/big` is large, `/slow` comes after a second, anything else is short."""
        if self.path == "/slow":
            time.sleep(1.0)
        self.reply(b"x" * BIG if self.path == "/big" else b"fine")

    def reply(self, body: bytes) -> None:
        """200 with a body, keeping the connection open."""
        self.send_response(200)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        """Quiet."""


def serve(tls: ssl.SSLContext | None = None) -> Iterator[str]:
    """A threaded HTTP(S) server on loopback; its base URL."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    if tls is not None:
        httpd.socket = tls.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    scheme = "https" if tls else "http"
    yield f"{scheme}://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def plain() -> Iterator[str]:
    """A plain HTTP server."""
    yield from serve()


@pytest.fixture(scope="module")
def ca() -> Authority:
    """A throwaway certificate authority."""
    return Authority()


@pytest.fixture(scope="module")
def secure(ca: Authority, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An HTTPS server whose certificate `ca` issued."""
    yield from serve(server_context(ca, tmp_path_factory.mktemp("tls"), require_client=False))


def client(verify: ssl.SSLContext | bool = True) -> httpx.AsyncClient:
    """A guarded client over the asyncio backend."""
    transport = GuardedTransport(LOOPBACK, AsyncioBackend(), verify=verify)
    return httpx.AsyncClient(transport=transport, timeout=5)


@RUNNERS
def test_requests_share_one_connection(run: Runner, plain: str) -> None:
    """Several requests, big bodies both ways, over one kept-alive connection."""

    async def go() -> None:
        async with client() as c:
            sent = await c.post(f"{plain}/echo", content=b"y" * BIG)
            assert sent.text == str(BIG)
            big = await c.get(f"{plain}/big")
            assert len(big.content) == BIG
            again = await c.get(f"{plain}/ok")
            assert again.text == "fine"
            pool = c._transport._pool  # type: ignore[attr-defined]
            assert len(pool.connections) == 1

    run(go())


@RUNNERS
def test_tls_is_verified(run: Runner, secure: str, ca: Authority) -> None:
    """HTTPS works with the issuing CA trusted, and fails to connect without it."""

    async def go() -> None:
        trusted = ssl.create_default_context(cadata=ca.pem)
        async with client(trusted) as c:
            r = await c.post(f"{secure}/echo", content=b"z" * 100_000)
            assert r.text == "100000"
        async with client() as c:
            with pytest.raises(httpx.ConnectError):
                await c.get(f"{secure}/ok")

    run(go())


@RUNNERS
def test_timeouts_and_refusals(run: Runner, plain: str) -> None:
    """A late answer is a read timeout; a closed port a connect error; the guard still rules."""

    async def go() -> None:
        async with client() as c:
            with pytest.raises(httpx.ReadTimeout):
                await c.get(f"{plain}/slow", timeout=0.2)
            port = plain.rsplit(":", 1)[1]
            with pytest.raises(httpx.ConnectError):
                await c.get(f"http://127.0.0.2:{port}/ok")
        transport = GuardedTransport([], AsyncioBackend())
        async with httpx.AsyncClient(transport=transport) as guarded:
            with pytest.raises(OutboundBlockedError):
                await guarded.get(f"{plain}/ok")

    run(go())


def test_no_unix_sockets(tmp_path: Path) -> None:
    """The backend opens TCP only."""

    async def go() -> None:
        with pytest.raises(Exception, match="unix"):
            await AsyncioBackend().connect_unix_socket(str(tmp_path / "sock"))

    asyncio.run(go())

"""An httpcore network backend on asyncio's own transports, without anyio in between.

httpcore's default backend wraps every read and write in anyio streams and cancel scopes; on
the webhook path that layer cost about as much as HTTP itself. This one keeps httpcore's
contract (its exceptions, timeouts, TLS upgrade, `is_readable` for idle connections) on a plain
asyncio protocol: one buffer per connection, reads paused when it fills, writes waiting for
the transport to drain.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Callable, Iterable
from typing import Any, cast

import httpcore

# Reading pauses above this many buffered bytes (a flood cannot grow memory without bound).
HIGH_WATER = 256 * 1024


class _Protocol(asyncio.Protocol):
    """Buffers what arrives and wakes the one reader or writer waiting on the connection."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.eof = False
        self.error: BaseException | None = None
        self.paused = False  # our reading, paused on a full buffer
        self.blocked = False  # their side: the transport asked us to stop writing
        self.waiter: asyncio.Future[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Keep the transport."""
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is no subclass

    def _wake(self) -> None:
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def data_received(self, data: bytes) -> None:
        """Buffer; pause reading when the buffer is full."""
        self.buffer += data
        if len(self.buffer) > HIGH_WATER and not self.paused and self.transport is not None:
            self.paused = True
            self.transport.pause_reading()
        self._wake()

    def eof_received(self) -> bool:
        """The peer finished sending; close our side too."""
        self.eof = True
        self._wake()
        return False

    def connection_lost(self, exc: BaseException | None) -> None:
        """The connection is gone (with why, if it broke)."""
        self.eof = True
        self.error = exc
        self.blocked = False
        self._wake()

    def pause_writing(self) -> None:
        """The transport's write buffer is full."""
        self.blocked = True

    def resume_writing(self) -> None:
        """The transport's write buffer drained."""
        self.blocked = False
        self._wake()

    def readable(self) -> bool:
        """Whether a read would not wait."""
        return bool(self.buffer) or self.eof

    def writable(self) -> bool:
        """Whether a write need not wait."""
        return not self.blocked

    async def until(self, ready: Callable[[], bool], timeout: float | None) -> None:  # noqa: ASYNC109
        """Wait until `ready()` holds, or raise TimeoutError after `timeout` seconds."""
        async with asyncio.timeout(timeout):
            while not ready():
                self.waiter = asyncio.get_running_loop().create_future()
                try:
                    await self.waiter
                finally:
                    self.waiter = None


class AsyncioStream(httpcore.AsyncNetworkStream):
    """One connection (plain or TLS) as httpcore sees it."""

    def __init__(self, transport: asyncio.Transport, protocol: _Protocol) -> None:
        self.transport, self.protocol = transport, protocol

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:  # noqa: ASYNC109
        """Up to `max_bytes` (b"" at the end of the stream)."""
        proto = self.protocol
        if not proto.readable():
            try:
                await proto.until(proto.readable, timeout)
            except TimeoutError:
                raise httpcore.ReadTimeout("read timed out") from None
        if proto.buffer:
            data = bytes(proto.buffer[:max_bytes])
            del proto.buffer[:max_bytes]
            if proto.paused and len(proto.buffer) <= HIGH_WATER // 2:
                proto.paused = False
                self.transport.resume_reading()
            return data
        if proto.error is not None:
            raise httpcore.ReadError(str(proto.error) or type(proto.error).__name__)
        return b""

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:  # noqa: ASYNC109
        """Send, waiting while the transport's buffer is full."""
        if not buffer:
            return
        proto = self.protocol
        if self.transport.is_closing() or proto.error is not None:
            raise httpcore.WriteError("the connection is closed")
        self.transport.write(buffer)
        if not proto.writable():
            try:
                await proto.until(proto.writable, timeout)
            except TimeoutError:
                raise httpcore.WriteTimeout("write timed out") from None
        if proto.error is not None:
            raise httpcore.WriteError(str(proto.error) or type(proto.error).__name__)

    async def aclose(self) -> None:
        """Close the connection."""
        self.transport.close()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore interface)
    ) -> httpcore.AsyncNetworkStream:
        """Upgrade the connection to TLS."""
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                upgraded = await loop.start_tls(
                    self.transport, self.protocol, ssl_context, server_hostname=server_hostname
                )
        except TimeoutError:
            self.transport.close()
            raise httpcore.ConnectTimeout("TLS handshake timed out") from None
        except (OSError, ssl.SSLError) as exc:
            self.transport.close()
            raise httpcore.ConnectError(str(exc)) from exc
        if upgraded is None:  # pragma: no cover (only when the transport closed meanwhile)
            raise httpcore.ConnectError("the connection closed during the TLS handshake")
        self.protocol.transport = upgraded
        return AsyncioStream(upgraded, self.protocol)

    def get_extra_info(self, info: str) -> Any:
        """What httpcore asks of a stream (`is_readable` costs no system call here)."""
        if info == "is_readable":
            return self.protocol.readable()
        if info == "ssl_object":
            return self.transport.get_extra_info("ssl_object")
        if info == "client_addr":
            return self.transport.get_extra_info("sockname")
        if info == "server_addr":
            return self.transport.get_extra_info("peername")
        if info == "socket":
            return self.transport.get_extra_info("socket")
        return None


class AsyncioBackend(httpcore.AsyncNetworkBackend):
    """Opens TCP connections as asyncio transports (TCP_NODELAY, as asyncio sets by default)."""

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore interface)
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        """Connect to `host:port`."""
        loop = asyncio.get_running_loop()
        local = (local_address, 0) if local_address else None
        try:
            async with asyncio.timeout(timeout):
                transport, protocol = await loop.create_connection(
                    _Protocol, host, port, local_addr=local
                )
        except TimeoutError:
            raise httpcore.ConnectTimeout(f"connecting to {host}:{port} timed out") from None
        except OSError as exc:
            raise httpcore.ConnectError(str(exc)) from exc
        sock: socket.socket | None = transport.get_extra_info("socket")
        if sock is not None:
            for option in socket_options or ():
                sock.setsockopt(*option)
        return AsyncioStream(transport, protocol)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore interface)
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        """Not offered: outbound calls never go to unix sockets."""
        raise httpcore.ConnectError("unix sockets are not supported")

    async def sleep(self, seconds: float) -> None:
        """Sleep."""
        await asyncio.sleep(seconds)

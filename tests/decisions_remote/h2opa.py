"""An OPA look-alike that speaks only HTTP/2 over TLS (ALPN `h2`), built on the `h2` library."""

from __future__ import annotations

import asyncio
import ssl

import h2.config
import h2.connection
import h2.events
import orjson


class H2Opa(asyncio.Protocol):
    """One HTTP/2 connection: every POST to /v1/data/... is answered `{"result": "h2"}`."""

    def __init__(self, seen: list[str]) -> None:
        self.conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
        self.transport: asyncio.Transport | None = None
        self.paths: dict[int, str] = {}
        self.seen = seen

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Send the server preface."""
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.conn.initiate_connection()
        transport.write(self.conn.data_to_send())

    def data_received(self, data: bytes) -> None:
        """Answer each request once its body has arrived."""
        assert self.transport is not None
        for event in self.conn.receive_data(data):
            if isinstance(event, h2.events.RequestReceived):
                headers = {bytes(k): bytes(v) for k, v in event.headers}
                self.paths[event.stream_id] = headers[b":path"].decode()
            elif isinstance(event, h2.events.DataReceived):
                self.conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            elif isinstance(event, h2.events.StreamEnded):
                self.respond(event.stream_id)
        self.transport.write(self.conn.data_to_send())

    def respond(self, stream_id: int) -> None:
        """A JSON answer on one stream."""
        path = self.paths.pop(stream_id, "")
        self.seen.append(path)
        body = orjson.dumps({"result": "h2"} if path.startswith("/v1/data/") else {})
        headers = [
            (":status", "200"),
            ("content-type", "application/json"),
            ("content-length", str(len(body))),
        ]
        self.conn.send_headers(stream_id, headers)
        self.conn.send_data(stream_id, body, end_stream=True)


async def serve_h2(context: ssl.SSLContext, seen: list[str]) -> asyncio.Server:
    """Listen on a free loopback port with TLS offering only `h2`."""
    context.set_alpn_protocols(["h2"])
    loop = asyncio.get_running_loop()
    return await loop.create_server(lambda: H2Opa(seen), "127.0.0.1", 0, ssl=context)

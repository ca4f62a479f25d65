"""A minimal OPA-compatible server for benchmarks: `python bench/_opa_stub.py PORT`.

Answers `POST /v1/data/...` with `{"result": true}` and `GET /health` with `{}` over HTTP/1.1
keep-alive, on 127.0.0.1. It stands in for OPA where the router, not OPA, is measured.
"""

from __future__ import annotations

import asyncio
import sys

OK = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
ANSWER = OK % (16, b'{"result": true}')
HEALTHY = OK % (2, b"{}")


async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Answer every request on one connection until the client closes it."""
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            if length:
                await reader.readexactly(length)
            writer.write(HEALTHY if head.startswith(b"GET /health") else ANSWER)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def main(port: int) -> None:
    """Listen on the loopback port until killed."""
    server = await asyncio.start_server(serve, "127.0.0.1", port, backlog=1024)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))

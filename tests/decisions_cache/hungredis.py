"""A Redis stand-in on loopback that accepts connections and never answers (`hung`), or passes
them through to the real Redis (`up`): a Redis that hangs, and comes back."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

REDIS = ("127.0.0.1", 6379)


@dataclass
class HungRedis:
    """Accepts and holds connections while `hung`; relays them to Redis once `hung` is False."""

    hung: bool = True
    connections: int = 0
    server: asyncio.Server | None = None
    tasks: set[asyncio.Task[None]] = field(default_factory=set)
    writers: set[asyncio.StreamWriter] = field(default_factory=set)

    @property
    def url(self) -> str:
        """The redis:// URL to configure."""
        assert self.server is not None
        return f"redis://127.0.0.1:{self.server.sockets[0].getsockname()[1]}/0"

    async def start(self) -> None:
        """Listen on a free loopback port."""
        self.server = await asyncio.start_server(self.serve, "127.0.0.1", 0)

    async def stop(self) -> None:
        """Cut every connection and stop listening."""
        for writer in list(self.writers):
            writer.transport.abort()
        for task in list(self.tasks):
            task.cancel()
        if self.server is not None:
            self.server.close()
            with contextlib.suppress(Exception):
                await self.server.wait_closed()

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Swallow what arrives without a word, or relay it both ways."""
        self.connections += 1
        self.writers.add(writer)
        try:
            if self.hung:
                while await reader.read(65536):
                    pass
                return
            up_reader, up_writer = await asyncio.open_connection(*REDIS)
            self.writers.add(up_writer)
            pump = asyncio.create_task(relay(up_reader, writer))
            self.tasks.add(pump)
            await relay(reader, up_writer)
            pump.cancel()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self.writers.discard(writer)
            writer.close()


async def relay(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    """Copy bytes until the source ends."""
    with contextlib.suppress(ConnectionError):
        while data := await source.read(65536):
            sink.write(data)
            await sink.drain()
    sink.close()

"""A file already opened from its bytes, as a connector the sync engine reads (imports)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from typing import Any, ClassVar

from gatehouse.connectors.builtin.files.source import FileSource
from gatehouse.connectors.protocol import Batch, CheckResult, Selection, StreamInfo, SyncMode


class OpenedFile:
    """Reads the streams of one opened file; each batch is parsed in a worker thread."""

    name: ClassVar[str] = "upload"
    title: ClassVar[str] = "Uploaded file"

    def __init__(self, source: FileSource) -> None:
        self.source = source

    @classmethod
    def spec(cls) -> dict[str, Any]:
        """No configuration: the file is given when the connector is made."""
        return {"type": "object", "properties": {}, "additionalProperties": False}

    async def check(self, config: Mapping[str, Any]) -> CheckResult:
        """The file was read when it was opened."""
        return CheckResult.success(f"read {self.source.name} as {self.source.format}")

    async def discover(self, config: Mapping[str, Any]) -> list[StreamInfo]:
        """The file's streams with typed fields."""
        return await asyncio.to_thread(self.source.discover)

    async def read(
        self,
        config: Mapping[str, Any],
        stream: str,
        mode: SyncMode,
        state: Mapping[str, Any] | None,
        selection: Selection | None = None,
    ) -> AsyncIterator[Batch]:
        """The stream's batches; parsing runs off the event loop, one batch at a time."""
        batches = self.source.batches(stream, state)
        while (batch := await asyncio.to_thread(next, batches, None)) is not None:
            yield batch

"""The `file` connector: CSV, JSON and Excel files in a tenant's import directory."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any, ClassVar

from pydantic import ValidationError

from gatehouse.config import Settings
from gatehouse.connectors.builtin.files.source import (
    MAX_BYTES,
    FileOptions,
    FileSource,
    open_source,
)
from gatehouse.connectors.protocol import (
    Batch,
    CheckFailure,
    CheckResult,
    ConnectorError,
    StreamInfo,
    SyncMode,
)


class FileConnector:
    """Reads a file under `root` (the tenant's import directory); never a path outside it."""

    name: ClassVar[str] = "file"
    title: ClassVar[str] = "File (CSV, JSON, Excel)"

    def __init__(self, root: Path | None = None) -> None:
        self.root = root

    @classmethod
    def for_tenant(cls, settings: Settings, tenant_id: str) -> FileConnector:
        """The connector reading from `tenant_id`'s own import directory."""
        return cls(settings.imports_dir / tenant_id)

    @classmethod
    def spec(cls) -> dict[str, Any]:
        """JSON Schema of the configuration: the path and how to read the file."""
        options = FileOptions.model_json_schema()
        return {
            "type": "object",
            "title": cls.title,
            "required": ["path"],
            "additionalProperties": False,
            "properties": {
                "path": {
                    "type": "string",
                    "description": "The file, relative to the tenant's import directory.",
                    "minLength": 1,
                },
                **options["properties"],
            },
        }

    async def check(self, config: Mapping[str, Any]) -> CheckResult:
        """Open and parse the file's header; say what is wrong if it cannot be read."""
        try:
            source = await self._open(config)
            streams = await asyncio.to_thread(source.discover)
        except ConnectorError as exc:
            return CheckResult.failed(exc.failure, str(exc))
        names = ", ".join(s.name for s in streams)
        return CheckResult.success(
            f"read {source.name} as {source.format}: {len(streams)} stream(s) ({names})",
            format=source.format,
            encoding=source.encoding,
        )

    async def discover(self, config: Mapping[str, Any]) -> list[StreamInfo]:
        """The file's streams (one per sheet for Excel) with typed fields."""
        source = await self._open(config)
        return await asyncio.to_thread(source.discover)

    async def read(
        self,
        config: Mapping[str, Any],
        stream: str,
        mode: SyncMode,
        state: Mapping[str, Any] | None,
    ) -> AsyncIterator[Batch]:
        """Batches of rows after the checkpoint; a file is always read whole (full refresh)."""
        if mode is not SyncMode.full_refresh:
            raise ConnectorError(
                CheckFailure.config, "files have no cursor: sync them with full_refresh"
            )
        source = await self._open(config)
        for batch in source.batches(stream, state):
            yield batch
            await asyncio.sleep(0)  # let other work run between batches

    async def _open(self, config: Mapping[str, Any]) -> FileSource:
        path, options = self._resolve(config)
        data = await asyncio.to_thread(_read_bytes, path)
        return await asyncio.to_thread(open_source, path.name, data, options)

    def _resolve(self, config: Mapping[str, Any]) -> tuple[Path, FileOptions]:
        """The file's real path, refused unless it is inside the import directory."""
        if self.root is None:
            raise ConnectorError(
                CheckFailure.config,
                "this file connector has no import directory; Gatehouse creates it per tenant "
                "(FileConnector.for_tenant); upload the file to the import API instead",
            )
        settings = {k: v for k, v in config.items() if k != "path"}
        try:
            options = FileOptions.model_validate(settings)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()
            )
            raise ConnectorError(CheckFailure.config, f"bad file options: {problems}") from None
        raw = config.get("path")
        if not isinstance(raw, str) or not raw.strip():
            raise ConnectorError(CheckFailure.config, "give `path`: the file to read")
        root = self.root.resolve()
        path = (root / raw).resolve()
        if not path.is_relative_to(root) or path == root:
            raise ConnectorError(
                CheckFailure.permission,
                f"{raw!r} is outside the import directory; put the file in {root} "
                "and give its path relative to it",
            )
        return path, options


def _read_bytes(path: Path) -> bytes:
    """The file's bytes, with errors that say what to do."""
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise ConnectorError(
                CheckFailure.config,
                f"{path.name} is larger than {MAX_BYTES // 2**20} MiB; split it",
            )
        return path.read_bytes()
    except FileNotFoundError:
        raise ConnectorError(
            CheckFailure.config, f"{path.name} does not exist in the import directory"
        ) from None
    except IsADirectoryError:
        raise ConnectorError(
            CheckFailure.config, f"{path.name} is a directory, not a file"
        ) from None
    except PermissionError:
        raise ConnectorError(
            CheckFailure.permission, f"Gatehouse may not read {path.name}; check its permissions"
        ) from None

"""The `file` connector: CSV, JSON and Excel files under the source directories."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar

from pydantic import ValidationError

from gatehouse.connectors.builtin.files.source import (
    MAX_BYTES,
    FileOptions,
    FileSource,
    open_source,
)
from gatehouse.connectors.environment import Environment, current, local_file, shown
from gatehouse.connectors.protocol import (
    Batch,
    CheckFailure,
    CheckResult,
    ConnectorError,
    Selection,
    StreamInfo,
    SyncMode,
)


class FileConnector:
    """Reads a file in the tenant's source directory (`<root>/<tenant>/`), never elsewhere."""

    name: ClassVar[str] = "file"
    title: ClassVar[str] = "File (CSV, JSON, Excel)"

    def __init__(self, env: Environment | None = None) -> None:
        self.env = env or current()

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
                    "title": "Path",
                    "description": "The file, relative to the tenant's source directory "
                    "(GATEHOUSE_SOURCE_ROOTS/<tenant>/); nothing outside it is read.",
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
        selection: Selection | None = None,
    ) -> AsyncIterator[Batch]:
        """Batches of rows after the checkpoint; a file is always read whole (full refresh)."""
        if mode is not SyncMode.full_refresh:
            raise ConnectorError(
                CheckFailure.config, "files have no cursor: sync them with full_refresh"
            )
        source = await self._open(config)
        wanted = source.selected(stream, selection.fields if selection else ())
        for batch in source.batches(stream, state):
            if wanted:
                batch = replace(
                    batch, records=[{k: r.get(k) for k in wanted} for r in batch.records]
                )
            yield batch
            await asyncio.sleep(0)  # let other work run between batches

    async def _open(self, config: Mapping[str, Any]) -> FileSource:
        path, options = self._resolve(config)
        data = await asyncio.to_thread(_read_bytes, path, shown(path, self.env))
        return await asyncio.to_thread(open_source, path.name, data, options)

    def _resolve(self, config: Mapping[str, Any]) -> tuple[Path, FileOptions]:
        """The file's real path, refused unless it lies under a source directory."""
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
        return local_file(raw, self.env), options


def _read_bytes(path: Path, name: str) -> bytes:
    """The file's bytes, with errors that say what to do (naming it as the tenant does)."""
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise ConnectorError(
                CheckFailure.config,
                f"{name} is larger than {MAX_BYTES // 2**20} MiB; split it",
            )
        return path.read_bytes()
    except FileNotFoundError:
        raise ConnectorError(
            CheckFailure.config,
            f"there is no file {name} in this tenant's source directory: check the path",
        ) from None
    except IsADirectoryError:
        raise ConnectorError(CheckFailure.config, f"{name} is a directory, not a file") from None
    except PermissionError:
        raise ConnectorError(
            CheckFailure.permission, f"Gatehouse may not read {name}; check its permissions"
        ) from None
    except OSError as exc:  # its message would name the server's directories
        raise ConnectorError(
            CheckFailure.config, f"{name} cannot be read ({exc.strerror or 'error'})"
        ) from None

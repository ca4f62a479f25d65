"""Structured logging (structlog): JSON lines with request id and tenant, secrets masked."""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from datetime import UTC, datetime
from typing import Any, TextIO

import orjson
import structlog

from gatehouse.kit.masking import mask, mask_text


def _mask_event(_logger: Any, _name: str, event: MutableMapping[str, Any]) -> Any:
    return mask(dict(event))


def _dumps(value: Any, **_: Any) -> str:
    return orjson.dumps(value, default=str).decode()


class _Sink:
    """Where log lines go; swapped by `configure` so cached loggers follow the new stream.

    With no stream set, lines go to whatever `sys.stderr` is at the time: a CLI progress display
    that captures stderr then prints them above itself instead of through it.
    """

    stream: TextIO | None = None

    def write(self, text: str) -> int:
        """Write to the current stream."""
        return (self.stream or sys.stderr).write(text)

    def flush(self) -> None:
        """Flush the current stream."""
        (self.stream or sys.stderr).flush()


SINK = _Sink()


def configure(level: str = "INFO", json: bool = True, stream: TextIO | None = None) -> None:
    """Route structlog and stdlib logging through one JSON (or console) renderer."""
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        _mask_event,
    ]
    SINK.stream = stream
    ACCESS.enabled = logging.getLevelNamesMapping()[level] <= logging.INFO
    ACCESS.json = json
    renderer: Any = (
        structlog.processors.JSONRenderer(serializer=_dumps)
        if json
        else structlog.dev.ConsoleRenderer()
    )
    # Gatehouse's own events skip the stdlib logging machinery: rendered once, written once.
    structlog.configure(
        processors=[*shared, renderer],
        logger_factory=structlog.PrintLoggerFactory(SINK),  # type: ignore[arg-type]
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelNamesMapping()[level]),
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(SINK)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
            foreign_pre_chain=shared,
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
    # aiosqlite logs every statement with its bound values at DEBUG: never let them through.
    logging.getLogger("aiosqlite").setLevel(logging.WARNING)


def access_line(fields: dict[str, Any]) -> None:
    """Write one access-log line in the same JSON shape structlog gives every other event.

    The hottest line of all skips the processor chain: its fields are known and only the path
    can carry caller text, so only the path is masked.
    """
    if not ACCESS.enabled:
        return
    if not ACCESS.json:
        structlog.get_logger("gatehouse.access").info("request", **fields)
        return
    fields["path"] = mask_text(fields["path"]) if "gth_" in fields["path"] else fields["path"]
    fields["event"] = "request"
    fields["level"] = "info"
    fields["timestamp"] = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    SINK.write(orjson.dumps(fields).decode() + "\n")


class _Access:
    """Whether access lines are written (INFO or more verbose), and as JSON or for a console."""

    enabled = True
    json = True


ACCESS = _Access()

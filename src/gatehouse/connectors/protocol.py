"""The connector protocol: `spec`, `check`, `discover` and `read` (the Airbyte/Singer shape).

A connector is a class registered in the `gatehouse.connectors` entry-point group. Gatehouse
creates one instance per use and passes the connection's configuration with its secrets
already decrypted; a connector never stores, logs or returns them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar, Protocol, runtime_checkable


class Sensitivity(StrEnum):
    """How carefully a field's values are treated (ARCHITECTURE §5)."""

    public = "public"
    internal = "internal"
    confidential = "confidential"
    restricted = "restricted"


class SyncMode(StrEnum):
    """How much of a stream a read returns."""

    full_refresh = "full_refresh"
    incremental = "incremental"


class CheckFailure(StrEnum):
    """Why a check failed, so the user knows what to fix."""

    auth = "auth"  # wrong user name, password or token
    unreachable = "unreachable"  # DNS, refused, timed out, blocked by the outbound allow-list
    tls = "tls"  # handshake or certificate failure
    permission = "permission"  # connected, but may not read what is needed
    config = "config"  # the configuration itself is wrong (missing database, bad base DN, ...)
    timeout = "timeout"  # no answer within the check timeout
    error = "error"  # anything else


@dataclass(frozen=True)
class CheckResult:
    """The outcome of `check`: success, or a precise reason and what to do about it."""

    ok: bool
    message: str
    failure: CheckFailure | None = None
    details: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def success(cls, message: str, **details: Any) -> CheckResult:
        """A successful check."""
        return cls(True, message, None, details)

    @classmethod
    def failed(cls, failure: CheckFailure, message: str, **details: Any) -> CheckResult:
        """A failed check; `message` says what to do next."""
        return cls(False, message, failure, details)


@dataclass(frozen=True)
class FieldInfo:
    """One field of a stream as discovered."""

    name: str
    type: str  # JSON Schema type: string, integer, number, boolean, object, array
    nullable: bool = True
    format: str | None = None  # JSON Schema format: date-time, date, email, uuid, ...
    sensitivity: Sensitivity = Sensitivity.internal  # the suggestion; the mapping may override


@dataclass(frozen=True)
class StreamInfo:
    """A stream a source offers: a table, a query, an LDAP object class, a file sheet."""

    name: str
    fields: tuple[FieldInfo, ...]
    primary_key: tuple[str, ...] = ()
    cursor_candidates: tuple[str, ...] = ()  # fields usable for incremental reads
    kind: str | None = None  # suggested target: "identity", "group", "membership", "resource"
    supported_modes: tuple[SyncMode, ...] = (SyncMode.full_refresh,)


@dataclass(frozen=True)
class RecordError:
    """Why one record could not be used: its row in the source, the field if known, the reason.

    Never carries the record's values: they may be restricted, and errors are kept and shown.
    """

    row: int | None
    reason: str
    field: str | None = None

    def __str__(self) -> str:
        where = f"row {self.row}" if self.row is not None else "a record"
        return f"{where}, {self.field}: {self.reason}" if self.field else f"{where}: {self.reason}"


@dataclass(frozen=True)
class Batch:
    """Records read from a stream, and the state to resume after them.

    `state` is the checkpoint: once every record of this batch is stored, the sync engine
    commits `state` in the same transaction, and a later read given that state continues
    after these records. None means the stream has no resumable position yet.
    `errors` are records the source could not parse (a malformed row), which a run reports
    and goes past; `rows`, when the source numbers its records (files), holds each record's row.
    `total`, when the source can tell without reading everything (files), is how many records
    this read yields in all, for progress bars.
    """

    records: list[dict[str, Any]]
    state: dict[str, Any] | None = None
    errors: list[RecordError] = field(default_factory=list)
    rows: list[int] | None = None
    total: int | None = None


@dataclass(frozen=True)
class Selection:
    """What the mapping needs from a stream, so a read fetches only that and notices drift."""

    fields: tuple[str, ...] = ()  # empty: every field
    cursor_field: str | None = None  # incremental: None takes the first cursor candidate
    primary_key: tuple[str, ...] = ()  # empty: the stream's own key


class ConnectorError(Exception):
    """A connector failed while discovering or reading; `failure` classifies it."""

    def __init__(self, failure: CheckFailure, message: str, *, transient: bool = False) -> None:
        super().__init__(message)
        self.failure = failure
        self.transient = transient  # worth retrying with backoff


class SchemaChanged(ConnectorError):
    """A stream or field the mapping needs is gone from the source."""

    def __init__(self, message: str) -> None:
        super().__init__(CheckFailure.config, message)


@runtime_checkable
class Connector(Protocol):
    """What every connector implements."""

    name: ClassVar[str]  # the registry key, e.g. "postgresql"
    title: ClassVar[str]  # shown to people, e.g. "PostgreSQL"

    @classmethod
    def spec(cls) -> dict[str, Any]:
        """JSON Schema of the configuration; secret fields carry `"x-secret": true`."""
        ...

    async def check(self, config: Mapping[str, Any]) -> CheckResult:
        """Connect for real and report success or a precise failure (the caller bounds the time)."""
        ...

    async def discover(self, config: Mapping[str, Any]) -> list[StreamInfo]:
        """The streams this source offers, with fields, keys and cursor candidates."""
        ...

    def read(
        self,
        config: Mapping[str, Any],
        stream: str,
        mode: SyncMode,
        state: Mapping[str, Any] | None,
        selection: Selection | None = None,
    ) -> AsyncIterator[Batch]:
        """Records of `stream` in batches, each with the checkpoint that follows it.

        A field of `selection` the stream no longer has raises SchemaChanged naming it.
        """
        ...

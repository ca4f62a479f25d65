"""What a sync run needs to know: the connector, its streams and how each maps into the store."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from gatehouse.connectors.protocol import Connector, RecordError, Selection
from gatehouse.identity.ingest import Existing

KINDS = ("identity", "group", "membership", "resource")  # the order streams are synced in


@dataclass(frozen=True)
class Transformed:
    """A source record mapped onto the store.

    identity/group/resource: `data` holds the record's fields; membership: `data` holds
    `group` and `member` (the source's ids) and `member_kind` ("identity" or "group").
    """

    kind: str
    external_id: str
    data: dict[str, Any]


@dataclass(frozen=True)
class Rejected:
    """A source record that failed mapping or validation: every reason, by field when known."""

    ref: str
    reason: str
    problems: tuple[RecordError, ...] = ()


# None means the record was filtered out on purpose.
Transform = Callable[[dict[str, Any]], Transformed | Rejected | None]


@dataclass(frozen=True)
class StreamPlan:
    """One selected stream: what it holds and how its records map."""

    name: str
    kind: str
    transform: Transform
    incremental: bool = False  # whether the stream supports incremental reads
    selection: Selection | None = None  # the fields, cursor and key the mapping needs
    on_error: str = "skip"  # or "fail": the first bad record fails the run


@dataclass(frozen=True)
class Job:
    """Everything a run of one connection needs, secrets already decrypted."""

    tenant_id: str
    connection_id: str
    source: str  # the name records are linked under (identity_links.source)
    connector: Connector
    config: Mapping[str, Any]
    streams: list[StreamPlan]
    max_delete_fraction: float = 0.3
    options: dict[str, Any] = field(default_factory=dict)
    remove_unseen: bool = True  # full runs detect deletions; imports only add and change
    existing: Existing = "update"  # records the store already has: update, skip or fail
    report_limit: int = 0  # row-level problems kept on the tally for the caller (imports)

    def ordered(self) -> list[StreamPlan]:
        """Streams in dependency order: people and groups before memberships."""
        return sorted(self.streams, key=lambda s: KINDS.index(s.kind))
